"""lifeguard as a Claude Code plugin, with the real CLI and a private CLAUDE_CONFIG_DIR: this
repository is a marketplace; `claude plugin marketplace add`, `claude plugin install --scope
project`, then a guarded session whose state lands in the project, never in the plugin folder.
Also: `claude plugin validate` passes with no warning, and /lifeguard in both ways in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .fakemodel import bash, text
from .harness import claude_env, find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
FAILING = "echo 'error: widget not found' >&2; exit 1"


def marketplace_copy(dest: Path) -> Path:
    """The repository as a user gets it (its files, none of what git ignores), at `dest`."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, timeout=60)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot tell the repository's files from local clutter")
    for rel in filter(None, listed.stdout.decode().split("\0")):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def claude_cli(args: list[str], cwd: Path, config: Path, home: Path) -> subprocess.CompletedProcess:
    env = claude_env("http://127.0.0.1:9", home, {"CLAUDE_CONFIG_DIR": str(config)})
    return subprocess.run([find_claude(), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture
def plugin_setup(tmp_path: Path):
    market = marketplace_copy(tmp_path / "lifeguard")
    config, home, project = tmp_path / "config", tmp_path / "home", tmp_path / "project"
    for folder in (config, home, project):
        folder.mkdir()
    proc = claude_cli(["plugin", "marketplace", "add", str(market)], project, config, home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = claude_cli(["plugin", "install", "lifeguard@lifeguard", "--scope", "project"], project, config, home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    assert settings["enabledPlugins"] == {"lifeguard@lifeguard": True}
    installed = json.loads((config / "plugins" / "installed_plugins.json").read_text())
    (entry,) = installed["plugins"]["lifeguard@lifeguard"]
    assert entry["scope"] == "project" and entry["projectPath"] == str(project)
    return {"config": config, "home": home, "project": project, "root": Path(entry["installPath"])}


def test_a_guarded_session_keeps_its_state_in_the_project(plugin_setup) -> None:
    project, root, config = plugin_setup["project"], plugin_setup["root"], plugin_setup["config"]
    before = tree(root)
    calls = [bash(FAILING, description=f"attempt {i}") for i in range(7)]
    res = run_claude(project, "E2E plugin: fix the widget", [[text("trying"), c] for c in calls] + [[text("stopped")]],
                     env={"CLAUDE_CONFIG_DIR": str(config)}, home=plugin_setup["home"], timeout=150)
    assert res.returncode == 0, res.describe()
    sid = res.session_id
    # the plugin's hooks ran: the session is recorded, in the project's .claude/state
    state = project / ".claude" / "state"
    records = [json.loads(line) for line in (state / f"events-{sid}.jsonl").read_text().splitlines()]
    events = [r["event"] for r in records]
    assert events[0] == "SessionStart" and events[-1] == "SessionEnd"
    assert events.count("PreToolUse") >= 5 and "PostToolUseFailure" in events
    assert (state / f"session-{sid}.json").is_file()
    assert state.stat().st_mode & 0o777 == 0o700
    # and they guarded it: the repeated failing command was refused, with the reason shown to the model
    refused = [c for c in calls if "lifeguard refused" in (res.tool_result_text(c["id"]) or "")]
    assert refused, res.describe()
    # nothing was written in the plugin's folder (shared, maybe read-only)
    assert tree(root) == before
    # uv was found without install.sh, and recorded with the one environment in the plugin's data
    data = [p for p in (config / "plugins" / "data").iterdir()] if (config / "plugins" / "data").is_dir() else []
    assert len(data) == 1, data
    assert os.access((data[0] / "uv.path").read_text().strip(), os.X_OK)
    assert (data[0] / "env" / "bin" / "python").exists()
    # no fault of lifeguard's reached the model (its refusals are the only hook output it saw)
    shown = res.shown_text()
    for needle in ("Traceback", "failed open", "could not start", "was not found", "did not finish"):
        assert needle not in shown, needle


def test_plugin_validate_passes_with_no_warning(tmp_path: Path) -> None:
    market = marketplace_copy(tmp_path / "lifeguard")
    home = tmp_path / "home"
    home.mkdir()
    proc = claude_cli(["plugin", "validate", "--json", str(market)], market, tmp_path / "config", home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["success"] and not report["manifest"]["errors"] and not report["manifest"]["warnings"]
    assert report["directory"]["findings"] == [] and not report.get("advice"), report
    assert len(report["provides"]["hooks"]) == 10 and len(report["provides"]["commands"]) == 1
    proc = claude_cli(["plugin", "validate", "--strict", str(market / ".claude-plugin" / "plugin.json")], market,
                      tmp_path / "config", home)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hooks_json_runs_every_hook_install_sh_would() -> None:
    """The plugin's hooks are install.sh's, event for event, through the same runner."""
    from lifeguard.commands.install.settings import HOOKS

    hooks = json.loads((REPO / "hooks" / "hooks.json").read_text())["hooks"]
    assert set(hooks) == {event for event, *_ in HOOKS}
    for event, script, timeout, matcher in HOOKS:
        (group,) = hooks[event]
        assert group.get("matcher") == ("*" if matcher else None)
        (hook,) = group["hooks"]
        assert hook == {"type": "command", "timeout": timeout,
                        "command": f'"${{CLAUDE_PLUGIN_ROOT}}/hooks/lifeguard-run" {script} {timeout}'}


def test_slash_command_of_the_plugin_shows_status_and_incidents(plugin_setup) -> None:
    """A plugin's commands are namespaced: /lifeguard:lifeguard (install.sh's is /lifeguard)."""
    project, config = plugin_setup["project"], plugin_setup["config"]
    res = run_claude(project, "/lifeguard:lifeguard", [[text("lifeguard is on and healthy")]], allowed_tools=[],
                     env={"CLAUDE_CONFIG_DIR": str(config)}, home=plugin_setup["home"], timeout=120)
    assert res.returncode == 0, res.describe()
    sent = json.dumps([r.messages for r in res.main_requests])
    assert "lifeguard: status" in sent and "Checking lifeguard in" in sent, res.describe()
    assert str(project / ".claude") in sent and "recent incidents" in sent
    assert "runs as the Claude Code plugin lifeguard@lifeguard" in sent  # doctor knows how it runs
