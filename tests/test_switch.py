"""The off switches (switch.py): LIFEGUARD_DISABLE, "enabled": false (`off` / `on`), LIFEGUARD_SKIP.

Off means: exit 0, no output, nothing written; only SessionStart says lifeguard is off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planted import event, install, run_json, run_tool

from lifeguard.config import load as config, switch

ROOT = Path(__file__).resolve().parents[1]
PRE = {"session_id": "s1", "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"},
       "tool_use_id": "t1"}


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def hook(claude: Path, script: str, inp: dict, env: dict | None = None) -> subprocess.CompletedProcess:
    """An installed hook entry point, run with this interpreter (no uv: what the switch decides
    must not need it)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LIFEGUARD_", "CLAUDE_"))}
    return subprocess.run([sys.executable, str(claude / "hooks" / script)], input=json.dumps(inp).encode(),
                          capture_output=True, env={**base, "LIFEGUARD_HELPER": "0", **(env or {})}, timeout=60)


@pytest.mark.parametrize("value,off", [("1", True), ("yes", True), ("true", True), ("", False), ("0", False),
                                       ("false", False), ("OFF", False), (" no ", False)])
def test_env_values(value, off):
    assert switch.env_disabled({switch.DISABLE_ENV: value}) is off


def test_workspace_switch_reads_only_the_top_level_key(tmp_path):
    path = tmp_path / "lifeguard.json"
    assert not switch.workspace_disabled(path)  # no file: on
    path.write_text(json.dumps({"loops": {"enabled": False}}))
    assert not switch.workspace_disabled(path)  # a feature off is not lifeguard off
    path.write_text(json.dumps({"enabled": False}))
    assert switch.workspace_disabled(path)
    path.write_text('{"enabled": false,')  # broken: on (the hooks then report the broken file)
    assert not switch.workspace_disabled(path)


def test_env_switch_makes_every_hook_a_quiet_no_op(tmp_path):
    layout = install(tmp_path / "proj")
    env = {switch.DISABLE_ENV: "1"}
    for script, inp in (("pre_tool_use.py", PRE), ("stop.py", {**PRE, "hook_event_name": "Stop"})):
        res = hook(layout.claude_dir, script, inp, env)
        assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    start = hook(layout.claude_dir, "session_start.py", {**PRE, "hook_event_name": "SessionStart"}, env)
    said = json.loads(start.stdout)
    assert start.returncode == 0 and set(said) == {"systemMessage"}
    assert "lifeguard is off" in said["systemMessage"] and "LIFEGUARD_DISABLE=1" in said["systemMessage"]
    assert files(layout.state_dir) == []  # nothing written


def test_lifeguard_run_decides_before_uv(tmp_path):
    """hooks/lifeguard-run returns at once, without starting uv (here uv could not even run it)."""
    layout = install(tmp_path / "proj")
    runner = layout.claude_dir / "hooks" / "lifeguard-run"
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path), switch.DISABLE_ENV: "1"}
    res = subprocess.run(["/bin/sh", str(runner), "pre_tool_use", "10"], input=json.dumps(PRE).encode(),
                         capture_output=True, env=env, timeout=10)
    assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    res = subprocess.run(["/bin/sh", str(runner), "pre_tool_use", "10"], input=json.dumps(PRE).encode(),
                         capture_output=True, env={**env, switch.DISABLE_ENV: "0"}, timeout=10)
    assert b"lifeguard: " in res.stderr  # the control: without the switch it goes on to uv, which fails here


def test_off_and_on_verbs(tmp_path):
    layout = install(tmp_path / "proj")
    cfg = json.loads(layout.config_file.read_text())
    cfg["loops"]["failure_warn_after"] = 4  # the user's own setting survives the switch
    layout.config_file.write_text(json.dumps(cfg))
    off = run_tool(layout, "off")
    assert off.returncode == 0 and "now off" in off.stdout
    saved = json.loads(layout.config_file.read_text())
    assert saved["enabled"] is False and saved["loops"]["failure_warn_after"] == 4
    before = files(layout.state_dir)
    res = hook(layout.claude_dir, "pre_tool_use.py", PRE)
    assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    start = hook(layout.claude_dir, "session_start.py", {**PRE, "hook_event_name": "SessionStart"})
    assert ".claude/lifeguard on" in json.loads(start.stdout)["systemMessage"]
    assert files(layout.state_dir) == before  # nothing written
    code, items = run_json(layout, "doctor", "--quick")
    [finding] = [i for i in items if i["check"] == "on/off"]
    assert finding["level"] == "warn" and "OFF" in finding["what"] and "lifeguard on" in finding["fix"]
    on = run_tool(layout, "on")
    assert on.returncode == 0 and "now on" in on.stdout
    assert json.loads(layout.config_file.read_text())["enabled"] is True
    res = hook(layout.claude_dir, "pre_tool_use.py", PRE)
    assert res.returncode == 0 and json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert layout.event_log("s1").exists()  # on again: recorded


def test_off_refuses_a_broken_settings_file(tmp_path):
    layout = install(tmp_path / "proj")
    layout.config_file.write_text("{not json")
    res = run_tool(layout, "off")
    assert res.returncode == 1 and "Nothing was changed" in res.stderr
    assert layout.config_file.read_text() == "{not json"


def test_guarded_hooks_run_unguarded_and_unrecorded_when_off(tmp_path):
    claude = tmp_path / ".claude"
    claude.mkdir()
    (claude / "lifeguard.json").write_text(json.dumps({"enabled": False}))
    env = {**os.environ, "LIFEGUARD_HOME": str(claude)}
    res = subprocess.run([sys.executable, str(ROOT / "hooks" / "guard.py"), "--timeout", "5", "--", "sh", "-c",
                          "cat >/dev/null; echo out; echo err >&2; exit 2"], input=json.dumps(PRE).encode(),
                         capture_output=True, env=env, timeout=30)
    assert (res.returncode, res.stdout, res.stderr) == (2, b"out\n", b"err\n")  # a block still blocks
    assert files(claude / "state") == []


def test_skip_turns_off_single_features(tmp_path, monkeypatch):
    layout = install(tmp_path / "proj")
    monkeypatch.setenv(switch.SKIP_ENV, "loops, breakers,lops")
    cfg = config.load(layout)
    assert cfg["loops"]["enabled"] is False and cfg["breakers"]["enabled"] is False
    assert cfg["coordination"]["enabled"] is True
    assert any("'lops' is not a feature" in p for p in cfg.problems)
    failing = {"tool_name": "Bash", "tool_input": {"command": "make"}, "error": "Exit code 2\nboom"}
    answers = [event(layout, "s1", "PostToolUseFailure", **failing) for _ in range(4)]
    assert not any("additionalContext" in a.get("hookSpecificOutput", {}) for a in answers)  # no loop warning
    monkeypatch.delenv(switch.SKIP_ENV)
    answers = [event(layout, "s2", "PostToolUseFailure", **failing) for _ in range(4)]
    assert any("additionalContext" in a.get("hookSpecificOutput", {}) for a in answers)  # the control


def test_guard_run_with_the_env_switch_runs_the_hook_as_before(tmp_path):
    """hooks/guard-run decides LIFEGUARD_DISABLE in the shell: the user's command runs unguarded
    (its exit 2 still blocks), without uv, and nothing is written."""
    layout = install(tmp_path / "proj")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), switch.DISABLE_ENV: "1"}
    res = subprocess.run(["/bin/sh", str(layout.claude_dir / "hooks" / "guard-run"), "--timeout", "5", "--name", "x",
                          "--", "sh", "-c", "cat >/dev/null; echo no >&2; exit 2"], input=json.dumps(PRE).encode(),
                         capture_output=True, env=env, timeout=30)
    assert (res.returncode, res.stdout, res.stderr) == (2, b"", b"no\n")
    assert files(layout.state_dir) == []


def test_session_start_names_the_features_skip_turned_off(tmp_path, monkeypatch):
    layout = install(tmp_path / "proj")
    monkeypatch.setenv(switch.SKIP_ENV, "loops,breakers")
    out = event(layout, "s1", "SessionStart", source="startup")
    assert "lifeguard: loops, breakers turned off by LIFEGUARD_SKIP" in out["systemMessage"]
    assert "additionalContext" not in out["hookSpecificOutput"]  # nothing for the model
    monkeypatch.delenv(switch.SKIP_ENV)
    assert "systemMessage" not in event(layout, "s2", "SessionStart", source="startup")  # the control
