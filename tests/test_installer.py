"""install.sh / installer.py: merge into settings.json, idempotent, exact uninstall, refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lifeguard.config import load as config
from lifeguard.commands.install import command as installer
from lifeguard.commands.install.environment import ENV_SCRIPT
from lifeguard.commands.install.settings import HOOKS
from lifeguard.core.paths import Layout

REPO = Path(__file__).resolve().parents[1]

USER_SETTINGS = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./my-check.sh", "timeout": 5}]}],
        "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}],
    },
}


def snapshot(root: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every file and symlink under root: content (or link target) and mode."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = (os.readlink(path), 0)
        elif path.is_file():
            out[rel] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return out


def install(target: Path) -> None:
    assert installer.install(target, warm=False) == 0


def settings(target: Path) -> dict:
    return json.loads((target / ".claude" / "settings.json").read_text())


def our_hooks(data: dict) -> list[tuple[str, dict]]:
    return [(event, h) for event, groups in data.get("hooks", {}).items() for g in groups
            for h in g.get("hooks", []) if installer.is_ours(h)]


def backups(target: Path) -> list[Path]:
    folder = target / ".claude" / "state" / "backups" / "settings"
    return sorted(folder.glob("settings-*.json")) if folder.exists() else []


def with_user_settings(tmp_path: Path, data: dict = USER_SETTINGS) -> Path:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps(data, indent=4))
    return tmp_path


def test_install_into_empty_folder(tmp_path):
    install(tmp_path)
    claude = tmp_path / ".claude"
    manifest = json.loads((claude / "lib/lifeguard/MANIFEST.json").read_text())
    generated = {installer.UV_PATH_FILE} if installer.resolved_uv() else set()
    assert set(manifest["files"]) == set(installer.source_files()) | generated
    for rel, src in installer.source_files().items():
        assert (claude / rel).read_bytes() == src.read_bytes(), rel
    assert os.access(claude / "hooks" / "lifeguard-run", os.X_OK)
    for _event, script, _timeout, _m in HOOKS:
        assert os.access(claude / "hooks" / f"{script}.py", os.X_OK)
    assert (claude / "state").stat().st_mode & 0o777 == 0o700
    # bytecode written at install: hooks never compile the library, even with PYTHONDONTWRITEBYTECODE
    import importlib.util
    for rel in ("lib/lifeguard/hook/runner.py", "lib/lifeguard/hook/pipeline.py", "lib/lifeguard/features/core.py"):
        assert Path(importlib.util.cache_from_source(str(claude / rel))).exists(), rel
    data = settings(tmp_path)
    assert {event for event, _ in our_hooks(data)} == {e for e, *_ in HOOKS}
    assert backups(tmp_path) == []  # nothing to back up


def test_every_entry_has_an_explicit_integer_timeout(tmp_path):
    install(tmp_path)
    entries = our_hooks(settings(tmp_path))
    assert len(entries) == len(HOOKS)
    for event, hook in entries:
        assert type(hook["timeout"]) is int and hook["timeout"] > 0, event
        assert hook["type"] == "command"
        # the wrapper gets the same timeout, so the hook's deadline sits below it
        assert hook["command"].endswith(f" {hook['timeout']}")
        assert hook["command"].startswith('"$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run ')


def test_installed_config_equals_defaults(tmp_path):
    assert json.loads((REPO / ".claude" / "lifeguard.json").read_text()) == config.DEFAULTS
    install(tmp_path)
    assert json.loads((tmp_path / ".claude" / "lifeguard.json").read_text()) == config.DEFAULTS


def test_install_keeps_the_users_settings_and_hooks(tmp_path):
    target = with_user_settings(tmp_path)
    install(target)
    data = settings(target)
    assert data["model"] == "opus" and data["permissions"] == USER_SETTINGS["permissions"]
    assert data["hooks"]["Notification"] == USER_SETTINGS["hooks"]["Notification"]
    pre = data["hooks"]["PreToolUse"]
    assert pre[0] == USER_SETTINGS["hooks"]["PreToolUse"][0]  # the user's first, untouched
    assert len(pre) == 2 and installer.is_ours(pre[1]["hooks"][0])


def test_backup_written_before_a_change(tmp_path):
    target = with_user_settings(tmp_path)
    original = (target / ".claude" / "settings.json").read_bytes()
    install(target)
    (backup,) = backups(target)
    assert backup.read_bytes() == original


def test_second_install_changes_nothing(tmp_path, monkeypatch):
    target = with_user_settings(tmp_path)
    install(target)
    before = snapshot(target)
    # a later run: every timestamp it could write differs from the first run's
    monkeypatch.setattr(installer.clock, "now_iso", lambda: "2099-09-09T09:09:09.999Z")
    monkeypatch.setattr(installer.clock, "file_stamp", lambda: "20990909T090909")
    install(target)
    assert snapshot(target) == before  # settings byte-identical, no new backup, same files


def test_user_config_is_never_overwritten(tmp_path):
    install(tmp_path)
    cfg = tmp_path / ".claude" / "lifeguard.json"
    cfg.write_text('{"locks": {"timeout_seconds": 4}}')
    install(tmp_path)
    assert cfg.read_text() == '{"locks": {"timeout_seconds": 4}}'


def test_install_checks_an_existing_config_and_reports_each_problem(tmp_path, capsys):
    install(tmp_path)
    cfg = tmp_path / ".claude" / "lifeguard.json"
    text = '{"loops": {"failure_warn_after": "three"}, "locks": {"timeout_seconds": 4}}'
    cfg.write_text(text)
    capsys.readouterr()
    install(tmp_path)
    out = capsys.readouterr().out
    assert "1 setting(s) in it are not usable" in out
    assert "loops.failure_warn_after: 'three' is not a whole number; using 3" in out
    assert cfg.read_text() == text  # reported, never rewritten
    cfg.write_text('{"locks": {"timeout_seconds": 4}}')
    install(tmp_path)
    assert "(checked: valid)" in capsys.readouterr().out


def test_uninstall_removes_exactly_lifeguard(tmp_path):
    target = with_user_settings(tmp_path)
    (target / ".claude" / "hooks").mkdir()
    mine = target / ".claude" / "hooks" / "my-own-hook.sh"
    mine.write_text("#!/bin/sh\n")
    install(target)
    (target / ".claude" / "state" / "session-x.json").write_text("{}")  # lifeguard's data is kept
    assert installer.uninstall(target) == 0
    assert settings(target) == USER_SETTINGS
    assert mine.read_text() == "#!/bin/sh\n"
    claude = target / ".claude"
    for rel in installer.source_files():
        assert not (claude / rel).exists(), rel
    assert not (claude / "lib").exists()
    assert (claude / "state" / "session-x.json").exists()
    assert (claude / "lifeguard.json").exists()


def test_uninstall_keeps_installed_files_the_user_changed(tmp_path):
    install(tmp_path)
    edited = tmp_path / ".claude" / "hooks" / "stop.py"
    edited.write_text("# my edits\n")
    installer.uninstall(tmp_path)
    assert edited.read_text() == "# my edits\n"
    assert not (tmp_path / ".claude" / "hooks" / "pre_tool_use.py").exists()


def test_uninstall_removes_the_settings_json_install_created(tmp_path):
    install(tmp_path)
    installer.uninstall(tmp_path)
    assert not (tmp_path / ".claude" / "settings.json").exists()


def test_uninstall_keeps_a_settings_json_that_was_there_even_if_empty(tmp_path):
    target = with_user_settings(tmp_path, {})
    install(target)
    install(target)  # a re-install does not forget who made the file
    installer.uninstall(target)
    assert settings(target) == {}


def test_upgrade_replaces_lifeguards_entries(tmp_path):
    old = json.loads(json.dumps(USER_SETTINGS))
    old_entry = {"type": "command", "command": '"$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run retired_hook 3',
                 "timeout": 3}
    old["hooks"]["PreToolUse"].append({"matcher": "*", "hooks": [dict(old_entry)]})
    old["hooks"]["Retired"] = [{"hooks": [dict(old_entry)]}]
    # one group mixing the user's hook and an old lifeguard hook: only ours goes
    old["hooks"]["Stop"] = [{"hooks": [{"type": "command", "command": "./user-stop.sh"}, dict(old_entry)]}]
    target = with_user_settings(tmp_path, old)
    install(target)
    data = settings(target)
    assert "Retired" not in data["hooks"]
    assert all("retired_hook" not in h["command"] for _e, h in our_hooks(data))
    assert len(our_hooks(data)) == len(HOOKS)
    assert data["hooks"]["Stop"][0] == {"hooks": [{"type": "command", "command": "./user-stop.sh"}]}
    assert data["hooks"]["PreToolUse"][0] == USER_SETTINGS["hooks"]["PreToolUse"][0]


def test_upgrade_removes_files_the_new_version_dropped(tmp_path):
    install(tmp_path)
    claude = tmp_path / ".claude"
    manifest_path = claude / "lib/lifeguard/MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    retired = claude / "lib/lifeguard/retired.py"
    retired.write_text("old = 1\n")
    manifest["files"]["lib/lifeguard/retired.py"] = installer.digest(retired.read_bytes())
    manifest_path.write_text(json.dumps(manifest))
    install(tmp_path)
    assert not retired.exists()
    assert "lib/lifeguard/retired.py" not in json.loads(manifest_path.read_text())["files"]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"hooks": []}'])
def test_invalid_settings_refused_with_no_change(tmp_path, capsys, text):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(text)
    before = snapshot(tmp_path)
    assert installer.main(["--no-warm", str(tmp_path)]) == 1
    assert snapshot(tmp_path) == before
    err = capsys.readouterr().err
    assert "settings.json" in err and "othing was changed" in err and "Traceback" not in err
    assert installer.main(["--uninstall", str(tmp_path)]) == 1
    assert snapshot(tmp_path) == before


def test_foreign_file_at_a_destination_refused_with_no_change(tmp_path, capsys):
    hooks = tmp_path / ".claude" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "stop.py").write_text("# the user's own stop hook\n")
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps(USER_SETTINGS))
    before = snapshot(tmp_path)
    assert installer.main(["--no-warm", str(tmp_path)]) == 1
    assert snapshot(tmp_path) == before
    err = capsys.readouterr().err
    assert "hooks/stop.py" in err and "Nothing was changed" in err


def test_symlink_at_a_destination_refused(tmp_path):
    hooks = tmp_path / ".claude" / "hooks"
    hooks.mkdir(parents=True)
    (tmp_path / "elsewhere.py").write_text("x = 1\n")
    (hooks / "stop.py").symlink_to(tmp_path / "elsewhere.py")
    before = snapshot(tmp_path)
    with pytest.raises(installer.InstallError):
        installer.install(tmp_path, warm=False)
    assert snapshot(tmp_path) == before



@pytest.mark.parametrize("where, args", [("settings.json", []), ("settings.local.json", ["--guard-existing"]),
                                         ("state", []), ("lifeguard.json", [])])
def test_a_symlink_where_install_writes_stops_it_before_any_change(tmp_path, capsys, where, args):
    # install writes settings.json (and, guarding, settings.local.json), the default
    # lifeguard.json and the state folder; a link at any of these is found before the first
    # file is copied, not after (it used to exit 1 with the code already installed).
    claude = tmp_path / ".claude"
    claude.mkdir()
    (claude / "settings.json").write_text(json.dumps(USER_SETTINGS))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "target.json").write_text("{}")
    link = claude / where
    if link.exists():
        link.unlink()
    link.symlink_to(elsewhere if where == "state" else elsewhere / "missing.json" if where == "lifeguard.json"
                    else elsewhere / "target.json")
    before = snapshot(tmp_path)
    assert installer.main(["--no-warm", *args, str(tmp_path)]) == 1
    assert snapshot(tmp_path) == before
    err = capsys.readouterr().err
    assert f".claude/{where}" in err and "symlink" in err and "Nothing was changed" in err


def test_uninstall_checks_both_settings_files_for_links_before_changing_either(tmp_path, capsys):
    install(tmp_path)
    claude = tmp_path / ".claude"
    (tmp_path / "mine.json").write_text("{}")
    (claude / "settings.local.json").symlink_to(tmp_path / "mine.json")
    before = snapshot(tmp_path)
    assert installer.main(["--uninstall", str(tmp_path)]) == 1
    assert snapshot(tmp_path) == before and "settings.local.json" in capsys.readouterr().err

def test_install_sh_end_to_end(tmp_path):
    """The shell entry point, as the README runs it (uv runs the installer)."""
    target = with_user_settings(tmp_path)
    proc = subprocess.run([str(REPO / "install.sh"), "--no-warm", str(target)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(our_hooks(settings(target))) == len(HOOKS)
    proc = subprocess.run([str(REPO / "install.sh"), "--uninstall", str(target)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert settings(target) == USER_SETTINGS


def test_install_records_the_uv_binary_and_the_wrapper_uses_it(tmp_path):
    """The hooks run the uv binary install.sh found, not a PATH search (nor a pyenv shim)."""
    import os
    import subprocess

    ws = tmp_path / "ws"
    ws.mkdir()
    uv_bin = installer.resolved_uv()
    if uv_bin is None:
        pytest.skip("no uv binary here")
    installer.install(ws, warm=False)
    recorded = (ws / ".claude" / "hooks" / "uv.path").read_text().strip()
    assert recorded == uv_bin and os.access(recorded, os.X_OK)
    assert "hooks/uv.path" in json.loads((ws / ".claude" / installer.MANIFEST).read_text())["files"]
    # with no uv anywhere on PATH, the wrapper still runs the hook through the recorded binary
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "CLAUDE_PROJECT_DIR": str(ws)}
    env.update({k: v for k, v in os.environ.items() if k.endswith(("CERT_FILE", "CERT_DIR")) or k.startswith("UV_")})
    event = json.dumps({"session_id": "uvpath", "hook_event_name": "SessionEnd", "reason": "other"})
    proc = subprocess.run([str(ws / ".claude" / "hooks" / "lifeguard-run"), "session_end", "30"], input=event,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and "uv was not found" not in proc.stderr + proc.stdout, proc.stderr
    assert Layout(ws / ".claude").event_log("uvpath").exists()
    installer.uninstall(ws)
    assert not (ws / ".claude" / "hooks" / "uv.path").exists()


def pep723_dependencies(path: Path) -> list[str]:
    import re
    import tomllib

    block = re.search(r"^# /// script\n((?:#.*\n)+?)# ///$", path.read_text(), re.M)
    assert block, f"{path} has no PEP 723 header"
    meta = tomllib.loads("".join(line[2:] + "\n" for line in block.group(1).splitlines()))
    return meta["dependencies"]


def test_every_hook_pins_the_same_packages_and_the_shared_environment_has_them_all():
    """One environment serves every hook only while they all pin the same packages; the recovery
    tools' script, whose environment it is, pins those plus its own."""
    hooks = sorted((REPO / "hooks").glob("*.py"))
    assert len(hooks) >= 11
    pinned = sorted(pep723_dependencies(hooks[0]))
    assert any(dep.startswith("pydantic==") for dep in pinned)
    for hook in hooks:
        assert sorted(pep723_dependencies(hook)) == pinned, hook.name
    assert set(pinned) <= set(pep723_dependencies(REPO / ENV_SCRIPT))


def test_hooks_share_one_prepared_environment(tmp_path):
    """A warm install builds one uv environment, records its Python, and lifeguard-run (and
    guard-run) run every hook in it rather than one environment per hook script."""
    if not installer.resolved_uv():
        pytest.skip("no uv binary here")
    ws = tmp_path / "ws"
    ws.mkdir()
    assert installer.install(ws, warm=True) == 0
    claude = ws / ".claude"
    python = (claude / installer.PYTHON_PATH_FILE).read_text().strip()
    assert os.access(python, os.X_OK)
    assert installer.PYTHON_PATH_FILE in json.loads((claude / installer.MANIFEST).read_text())["files"]
    env_dir = str(Path(python).parent.parent)
    # the library's bytecode is there for that interpreter (compiled once, at install)
    import importlib.util
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True,
                         text=True).stdout.strip()
    assert Path(importlib.util.cache_from_source(str(claude / "lib/lifeguard/hook/runner.py"))).name.startswith("runner." + tag)
    # a probe hook with the hooks' header, run the way settings.json runs hooks: which environment?
    header = (claude / "hooks" / "stop.py").read_text().split("# ///\n", 1)[0] + "# ///\n"
    (claude / "hooks" / "probe.py").write_text(header + "import sys\nprint(sys.prefix)\n")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run([str(claude / "hooks" / "lifeguard-run"), "probe", "10"], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == env_dir, proc.stderr
    proc = subprocess.run([str(claude / "hooks" / "guard-run"), "--timeout", "10", "--", "sh", "-c", "echo $VIRTUAL_ENV"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stderr  # the guard ran (in that environment) and gave the hook its own
    assert proc.stdout.strip() == "", proc.stdout
    # `uv cache clean` removes the environment: the next hook builds it again, at the same place
    shutil.rmtree(env_dir)
    proc = subprocess.run([str(claude / "hooks" / "lifeguard-run"), "probe", "30"], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == env_dir, proc.stderr
    # installing again changes nothing
    before = snapshot(ws)
    assert installer.install(ws, warm=True) == 0
    assert {k: v for k, v in snapshot(ws).items() if "__pycache__" not in k} == {
        k: v for k, v in before.items() if "__pycache__" not in k}


def test_install_sh_says_how_to_put_uv_on_path_when_it_is_not(tmp_path):
    """uv found only in ~/.local/bin (where pip --user puts it): the hooks use it, and the user is
    told how to reach it from a shell; with uv on PATH nothing is said."""
    uv_bin = installer.resolved_uv()
    if uv_bin is None:
        pytest.skip("no uv binary here")
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "uv").symlink_to(uv_bin)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH="/usr/bin:/bin", UV_CACHE_DIR=subprocess.run(
        [uv_bin, "cache", "dir"], capture_output=True, text=True).stdout.strip())
    project = tmp_path / "proj"
    project.mkdir()
    proc = subprocess.run([str(REPO / "install.sh"), "--no-warm", str(project)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"uv is at {home}/.local/bin/uv, which is not on your PATH" in proc.stdout
    assert f'export PATH="{home}/.local/bin:$PATH"' in proc.stdout
    env["PATH"] = f"{home}/.local/bin:/usr/bin:/bin"
    proc = subprocess.run([str(REPO / "install.sh"), "--no-warm", str(project)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0 and "not on your PATH" not in proc.stdout, proc.stdout + proc.stderr
