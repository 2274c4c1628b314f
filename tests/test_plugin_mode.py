"""hooks/lifeguard-run as a Claude Code plugin runs it (from ${CLAUDE_PLUGIN_ROOT}, no install.sh):
the state is the project's, nothing is written in the plugin's folder, uv is found and recorded
in CLAUDE_PLUGIN_DATA with the one environment all hooks share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lifeguard.commands.install import command as installer
from lifeguard.core.paths import Layout

REPO = Path(__file__).resolve().parents[1]
UV = installer.resolved_uv()


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture
def plugin(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "plugin-cache" / "lifeguard" / "0.1.0"
    for part in ("hooks", "lib", "scripts"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    project, data, home = tmp_path / "project", tmp_path / "plugin-data", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    return {"root": root, "project": project, "data": data, "home": home}


def run_hook(plugin: dict[str, Path], event: str, payload: dict, path: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIFEGUARD_", "CLAUDE_", "VIRTUAL_ENV"))}
    env.update(PATH=path, HOME=str(plugin["home"]), CLAUDE_PROJECT_DIR=str(plugin["project"]),
               CLAUDE_PLUGIN_ROOT=str(plugin["root"]), CLAUDE_PLUGIN_DATA=str(plugin["data"]))
    if UV:
        env["UV_CACHE_DIR"] = subprocess.run([UV, "cache", "dir"], capture_output=True, text=True).stdout.strip()
    return subprocess.run([str(plugin["root"] / "hooks" / "lifeguard-run"), event, "60"], input=json.dumps(payload),
                          capture_output=True, text=True, env=env, cwd=plugin["project"], timeout=120)


def test_state_in_the_project_uv_and_environment_in_the_plugin_data(plugin):
    if not UV:
        pytest.skip("no uv binary here")
    before = tree(plugin["root"])
    uv_dir = str(Path(UV).parent)
    proc = run_hook(plugin, "session_start", {"session_id": "plug-1", "hook_event_name": "SessionStart",
                                              "source": "startup"}, f"{uv_dir}:/usr/bin:/bin")
    assert proc.returncode == 0 and '"hookEventName":"SessionStart"' in proc.stdout, proc.stderr
    assert Layout(plugin["project"] / ".claude").event_log("plug-1").is_file()
    assert tree(plugin["root"]) == before
    assert (plugin["data"] / "uv.path").read_text().strip() == UV
    assert (plugin["data"] / "env" / "bin" / "python").exists()
    # a later hook whose PATH lacks uv finds it through the record, and runs in the same environment
    (plugin["root"] / "hooks" / "probe.py").write_text(
        (REPO / "hooks" / "stop.py").read_text().split("# ///\n", 1)[0] + "# ///\nimport sys\nprint(sys.prefix)\n")
    proc = run_hook(plugin, "probe", {}, "/usr/bin:/bin")
    assert proc.returncode == 0 and proc.stdout.strip() == str(plugin["data"] / "env"), proc.stderr


def test_once_its_environment_is_built_a_plugin_hook_runs_on_it_without_uv(plugin):
    """lifeguard-run's fast path for a plugin: the environment uv built in CLAUDE_PLUGIN_DATA runs
    the hook itself (no resident helper for a plugin). With no uv to be found at all, the hook
    still answers and its event is recorded; the plugin's folder is left as it was."""
    if not UV:
        pytest.skip("no uv binary here")
    proc = run_hook(plugin, "session_start", {"session_id": "plug-3", "hook_event_name": "SessionStart",
                                              "source": "startup"}, f"{Path(UV).parent}:/usr/bin:/bin")
    assert proc.returncode == 0 and (plugin["data"] / "env" / "bin" / "python").exists(), proc.stderr
    (plugin["data"] / "uv.path").unlink()
    before = tree(plugin["root"])
    proc = run_hook(plugin, "pre_tool_use", {"session_id": "plug-3", "hook_event_name": "PreToolUse", "cwd": "/tmp",
                                             "tool_name": "Bash", "tool_input": {"command": "ls"},
                                             "tool_use_id": "toolu_p3"}, "/usr/bin:/bin")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert json.loads(proc.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    log = Layout(plugin["project"] / ".claude").event_log("plug-3").read_text()
    assert '"tuid":"toolu_p3"' in log
    assert tree(plugin["root"]) == before and not (plugin["data"] / "uv.path").exists()


def test_without_uv_the_notice_goes_to_the_project_not_the_plugin(plugin):
    before = tree(plugin["root"])
    proc = run_hook(plugin, "pre_tool_use", {"session_id": "plug-2", "hook_event_name": "PreToolUse"},
                    "/usr/bin:/bin")
    assert proc.returncode == 0 and "uv was not found" in proc.stdout
    assert (plugin["project"] / ".claude" / "state" / ".uv-notice").exists()
    assert tree(plugin["root"]) == before and not (plugin["root"] / "state").exists()
    assert not (plugin["data"] / "uv.path").exists()


def test_doctor_knows_the_plugin(tmp_path, monkeypatch):
    """Enabled as a plugin (project settings or the user's), doctor checks the plugin's hooks, not
    install.sh's files; installed both ways, it warns that every hook runs twice."""
    from lifeguard.commands.doctor import environment, files, settings
    from lifeguard.core.paths import Layout

    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "config"))
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    layout = Layout(project / ".claude")
    assert settings.enabled_plugin(layout) is None
    assert settings.check_settings(layout)[0][0] == "fail"  # neither way in
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(json.dumps({"enabledPlugins": {"lifeguard@lifeguard": True}}))
    assert settings.enabled_plugin(layout) == "lifeguard@lifeguard"
    (level, what, _fix), = settings.check_settings(layout)
    assert level == "ok" and "plugin lifeguard@lifeguard: 10 hooks" in what
    assert files.check_manifest(layout)[0][0] == "ok" and files.check_config(layout)[0][0] == "ok"
    assert "without the resident helper" in environment.check_helper(layout)[0][1]  # the client uses none for a plugin
    installer.install(project, warm=False)  # and install.sh too: each hook would run twice
    (level, what, fix), = settings.check_settings(layout)
    assert level == "warn" and "runs twice" in what and "--uninstall" in fix and "plugin disable" in fix
