"""doctor tells the truth: open urgent alerts, your guarded hooks that keep timing out, something
else at helper.sock, uv reachable only through hooks/uv.path; red and green on a terminal."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time

import pytest

from planted import install, run_tool

from lifeguard.alerts import escalation as alerts
from lifeguard.config import load as config
from lifeguard.guard import workspace


@pytest.fixture
def layout(tmp_path):
    return install(tmp_path / "proj")


def doctor(layout, **env) -> tuple[int, list[dict]]:
    proc = run_tool(layout, "doctor", "--quick", "--json", env_extra=env)
    return proc.returncode, json.loads(proc.stdout)


def of(items, check):
    return [i for i in items if i["check"] == check]


def test_an_open_urgent_alert_is_a_problem_until_removed(layout):
    alert = {"ts": "2026-11-30T15:00:00Z", "level": "CRITICAL", "code": "SESSION_CORRUPTED", "session": "4b08c1f2",
             "seq": 7, "event": "SessionStart", "message": "the state could not be rebuilt", "recovery": None}
    alerts.escalate_to_human(alert, {}, config.DEFAULTS["alerts"], layout)  # the file as lifeguard writes it
    code, items = doctor(layout)
    [found] = of(items, "urgent alerts")
    assert code == 1 and found["level"] == "fail"
    assert "1 urgent alert(s) open" in found["what"] and "session 4b08c1f2" in found["what"] and "rm " in found["fix"]
    (layout.claude_dir / alerts.URGENT_FILE).unlink()
    code, items = doctor(layout)
    assert of(items, "urgent alerts")[0]["level"] == "ok"


def test_a_guarded_hook_that_keeps_timing_out_is_named_by_its_command(layout):
    now = time.time()
    for i in range(7):
        workspace.update(layout, "PreToolUse.sleep-7523e32f", failed=True, outcome="timeout", code="HOOK_TIMEOUT",
                         threshold=3, cooldown=300, now=now - 60 + i, label="sleep 30", event="PreToolUse", session="s1")
    code, items = doctor(layout)
    [found] = of(items, "guarded hooks")
    assert code == 1 and found["level"] == "fail"
    assert "your PreToolUse hook `sleep 30`" in found["what"] and "timed out 7 time(s)" in found["what"]
    assert "paused for another" in found["what"] and "7523e32f" not in found["what"]
    assert "raise its timeout" in found["fix"]


def test_a_hook_that_recovered_is_not_a_problem(layout):
    args = dict(threshold=3, cooldown=300, label="./check.sh", event="Stop", session="s1")
    workspace.update(layout, "h", failed=True, outcome="failed", code="HOOK_EXECUTION_FAILED", now=time.time(), **args)
    workspace.update(layout, "h", failed=False, outcome="ok", code=None, now=time.time(), **args)
    code, items = doctor(layout)
    assert of(items, "guarded hooks") == []  # failed once, then fine: nothing to report


def test_something_else_at_the_helper_socket(layout):
    (layout.state_dir / "helper.sock").write_text("not a socket")
    code, items = doctor(layout)
    [found] = of(items, "resident helper")
    assert code == 1 and found["level"] == "fail" and "is a file" in found["what"] and "mv " in found["fix"]


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv not installed")
def test_uv_only_through_uv_path(layout, tmp_path):
    folder = tmp_path / "hidden-bin"
    folder.mkdir()
    uv = folder / "uv"
    uv.write_text(f'#!/bin/sh\nexec {shutil.which("uv")} "$@"\n')
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    (layout.claude_dir / "hooks" / "uv.path").write_text(f"{uv}\n")
    code, items = doctor(layout, PATH="/usr/bin:/bin", HOME=str(tmp_path))
    warned = [i for i in of(items, "uv") if i["level"] == "warn"]
    assert warned and "not on your PATH" in warned[0]["what"] and str(folder) in warned[0]["fix"]
    code, items = doctor(layout, PATH=f"{folder}:/usr/bin:/bin", HOME=str(tmp_path))
    assert not [i for i in of(items, "uv") if i["level"] != "ok"]  # the control: on PATH, no warning


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv not installed")
def test_red_and_green_on_a_terminal(layout):
    (layout.state_dir / "helper.sock").write_text("not a socket")
    env = {**{k: v for k, v in os.environ.items() if k not in ("LIFEGUARD_HOME", "NO_COLOR")}, "FORCE_COLOR": "1",
           "COLUMNS": "200"}
    proc = subprocess.run(["uv", "run", "-q", "--script", str(layout.claude_dir / "scripts" / "state_recovery.py"),
                           "doctor", "--quick"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "\x1b[1;31m" in proc.stdout and "\x1b[32m" in proc.stdout  # bold red problems, green passes
    plain = subprocess.run(["uv", "run", "-q", "--script", str(layout.claude_dir / "scripts" / "state_recovery.py"),
                            "doctor", "--quick"], capture_output=True, text=True, timeout=300,
                           env={k: v for k, v in env.items() if k != "FORCE_COLOR"})
    assert "\x1b[" not in plain.stdout  # not a terminal: no colour codes
