"""Lifeguard's own hooks give up in time: a stdin that never closes, a held session lock,
uv missing, slow or failing. Each ends with exit 0, says why, and records it where it can."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lifeguard.store import eventlog
from lifeguard.commands.install.settings import HOOKS, command_for
from lifeguard.hook import runner  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402

HOOK = ROOT / "hooks" / "pre_tool_use.py"


def pre_tool_use_input(session="dl-1") -> bytes:
    return json.dumps({"session_id": session, "hook_event_name": "PreToolUse", "tool_name": "Bash",
                       "tool_input": {"command": "ls"}, "tool_use_id": "toolu_1", "cwd": "/tmp"}).encode()


@pytest.fixture
def claude(tmp_path: Path) -> Path:
    folder = tmp_path / ".claude"
    folder.mkdir()
    return folder


def start_hook(claude: Path, settings_timeout: float) -> subprocess.Popen:
    env = {**os.environ, "LIFEGUARD_HOME": str(claude), "LIFEGUARD_TIMEOUT": str(settings_timeout)}
    return subprocess.Popen([sys.executable, str(HOOK)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def run_hook(claude: Path, settings_timeout: float, data: bytes) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "LIFEGUARD_HOME": str(claude), "LIFEGUARD_TIMEOUT": str(settings_timeout)}
    started = time.monotonic()
    res = subprocess.run([sys.executable, str(HOOK)], input=data, capture_output=True, env=env, timeout=60)
    return res, time.monotonic() - started


def faults(claude: Path) -> list[dict]:
    path = Layout(claude).faults_log
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- deadlines under the settings timeouts --------------------------------------------


@pytest.mark.parametrize("event,script,timeout,matcher", HOOKS)
def test_every_hook_has_a_deadline_under_its_settings_timeout(event, script, timeout, matcher) -> None:
    deadline = runner.deadline_for(timeout)
    uv_budget = timeout - 1 if timeout > 2 else 1  # hooks/lifeguard-run: `timeout -k 1 BUDGET uv ...`
    assert 0 < deadline < uv_budget < timeout
    assert timeout - deadline >= 2  # room for uv's start and recording the fault
    assert f"{script} {timeout}" in command_for(script, timeout)


def test_stdin_that_never_closes(claude: Path) -> None:
    proc = start_hook(claude, 3)  # internal deadline: 1 s
    started = time.monotonic()
    proc.stdin.write(b'{"session_id": "dl-1", "hook_event_name": "PreTo')  # ... and never closed
    proc.stdin.flush()
    try:
        out, err = proc.stdout.read(), proc.stderr.read()  # EOF when the hook exits
        assert proc.wait(timeout=10) == 0
    finally:
        proc.stdin.close()
        proc.kill()
    assert time.monotonic() - started < 3  # gave up before the 3 s settings timeout
    assert json.loads(out) == {}
    assert b"HOOK_TIMEOUT" in err
    assert [f["code"] for f in faults(claude)] == ["HOOK_TIMEOUT"]


def test_held_lock_spools_the_event_with_the_reason(claude: Path) -> None:
    layout = Layout(claude)
    run_hook(claude, 10, pre_tool_use_input())  # creates the state and warms the config cache
    fd = os.open(layout.lock_file("dl-1"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process holds the session
        res, elapsed = run_hook(claude, 10, pre_tool_use_input())
    finally:
        os.close(fd)
    assert res.returncode == 0 and isinstance(json.loads(res.stdout), dict)
    assert elapsed < runner.deadline_for(10) + 2  # gave up on the lock (2 s) inside its deadline (6 s)
    assert b"spool" in res.stderr
    [spooled] = list(layout.session_spool("dl-1").iterdir())
    assert json.loads(spooled.read_text())["notices"][-1]["code"] == "SESSION_LOCKED"
    run_hook(claude, 10, pre_tool_use_input())  # the lock is free again: the spool is drained
    logged = [r for r in eventlog.iter_records(layout.event_log("dl-1")) if r.get("spool")]
    assert len(logged) == 1 and logged[0]["notices"][-1]["code"] == "SESSION_LOCKED"
    state = json.loads(layout.session_file("dl-1").read_text())
    assert any(i.get("code") == "SESSION_LOCKED" for i in state["observability"]["incidents"])


def test_lock_held_past_the_deadline_fails_open_and_records_why(claude: Path) -> None:
    layout = Layout(claude)
    (claude / "lifeguard.json").write_text(json.dumps({"locks": {"timeout_seconds": 20}}))
    run_hook(claude, 3, pre_tool_use_input())  # warms the config cache (pydantic) unlocked
    fd = os.open(layout.lock_file("dl-1"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        res, elapsed = run_hook(claude, 3, pre_tool_use_input())  # deadline 1 s, lock wait 20 s
    finally:
        os.close(fd)
    assert res.returncode == 0 and json.loads(res.stdout) == {}
    assert elapsed < 3
    assert b"HOOK_TIMEOUT" in res.stderr and b"faults.jsonl" in res.stderr
    assert faults(claude)[-1]["code"] == "HOOK_TIMEOUT" and faults(claude)[-1]["session"] == "dl-1"


# -- uv missing, slow, failing (hooks/lifeguard-run) ------------------------------------


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A .claude/hooks with the wrapper and one hook, as install.sh lays them out."""
    hooks = tmp_path / "ws" / ".claude" / "hooks"
    hooks.mkdir(parents=True)
    for name in ("lifeguard-run", "pre_tool_use.py"):
        shutil.copy2(ROOT / "hooks" / name, hooks / name)
    return hooks


def wrapper(hooks: Path, path: str, home: Path, limit: int = 10) -> tuple[subprocess.CompletedProcess, float]:
    env = {"PATH": path, "HOME": str(home), "LANG": "C"}
    started = time.monotonic()
    res = subprocess.run([str(hooks / "lifeguard-run"), "pre_tool_use", str(limit)], input=pre_tool_use_input(),
                         capture_output=True, env=env, timeout=60)
    return res, time.monotonic() - started


def fake_uv(tmp_path: Path, body: str) -> str:
    folder = tmp_path / "fakebin"
    folder.mkdir()
    (folder / "uv").write_text("#!/bin/sh\n" + body + "\n")
    (folder / "uv").chmod(0o755)
    return f"{folder}:/usr/bin:/bin"


def test_uv_missing_gives_a_clear_message(installed: Path, tmp_path: Path) -> None:
    if shutil.which("uv", path="/usr/bin:/bin") or os.path.exists("/usr/local/bin/uv"):
        pytest.skip("uv is installed system-wide here; cannot hide it")
    res, _ = wrapper(installed, "/usr/bin:/bin", tmp_path)
    assert res.returncode == 0
    message = json.loads(res.stdout)["systemMessage"]
    assert "uv was not found" in message and "pip install" in message
    again, _ = wrapper(installed, "/usr/bin:/bin", tmp_path)  # said once, not on every tool call
    assert again.returncode == 0 and again.stdout == b"" and b"uv was not found" in again.stderr


def test_uv_slow_is_cut_off_with_a_message(installed: Path, tmp_path: Path) -> None:
    path = fake_uv(tmp_path, "sleep 30")  # a held cache lock, a cold cache offline
    res, elapsed = wrapper(installed, path, tmp_path, limit=3)
    assert res.returncode == 0
    assert elapsed < 10  # the 2 s budget plus the kill grace, not uv's 30 s
    assert "did not finish within 2s" in json.loads(res.stdout)["systemMessage"]


def test_uv_error_exit_2_does_not_block(installed: Path, tmp_path: Path) -> None:
    path = fake_uv(tmp_path, 'echo "error: failed to fetch" >&2; exit 2')
    res, _ = wrapper(installed, path, tmp_path)
    assert res.returncode == 0  # uv's own exit 2 would otherwise read as "block the tool call"
    assert "could not start (uv exit 2)" in json.loads(res.stdout)["systemMessage"]


@pytest.mark.parametrize("signal_name, code", [("KILL", 137), ("TERM", 143)])
def test_a_hook_killed_early_is_not_called_a_timeout(installed: Path, tmp_path: Path, signal_name: str,
                                                      code: int) -> None:
    # uv (or the hook under it) is killed by someone else 0.4 s in (out of memory, a stray kill):
    # the message must say that, not blame uv for a 9 s limit it never reached.
    path = fake_uv(tmp_path, f"sleep 0.4; kill -{signal_name} $$")
    res, elapsed = wrapper(installed, path, tmp_path, limit=10)
    assert res.returncode == 0 and elapsed < 5
    message = json.loads(res.stdout)["systemMessage"]
    assert "within 9s" not in message and "uv slow" not in message and "could not start" not in message
    assert f"killed by signal {signal_name}" in message and "not by lifeguard's limit" in message
    seconds = float(message.split(" after ")[1].split("s")[0])
    assert 0.3 <= seconds < elapsed + 0.1  # how long it really ran


def test_a_real_timeout_is_still_called_one(installed: Path, tmp_path: Path) -> None:
    path = fake_uv(tmp_path, "trap '' TERM; sleep 30")  # ignores TERM: ended by the KILL after the grace
    res, _ = wrapper(installed, path, tmp_path, limit=3)
    assert "did not finish within 2s" in json.loads(res.stdout)["systemMessage"]
