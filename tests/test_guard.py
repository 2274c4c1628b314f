"""hooks/guard.py: timeouts that end the whole process group, pass-through, missing and
non-executable commands, the per-hook breaker, loop and re-entry detection, the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lifeguard.config.load import section  # noqa: E402
from lifeguard.features.registry import FEATURES
from lifeguard.store import eventlog, reducer  # noqa: E402
from lifeguard.guard import cli, environment, hookinput, outcome, policy, process, workspace  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402

GUARD = ROOT / "hooks" / "guard.py"
LIMITS = section(None, "guard")


def hook_input(session="s1", event="PreToolUse", command="ls", **extra) -> bytes:
    inp = {"session_id": session, "hook_event_name": event, "tool_name": "Bash",
           "tool_input": {"command": command}, "tool_use_id": f"toolu_{time.time_ns()}", **extra}
    return json.dumps(inp).encode()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    claude = tmp_path / ".claude"
    claude.mkdir()
    return claude


def guard(home: Path, args: list[str], stdin: bytes = b"", env: dict | None = None, timeout: float = 30):
    full_env = {**os.environ, "LIFEGUARD_HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, str(GUARD), *args], input=stdin, capture_output=True,
                          env=full_env, timeout=timeout)


def records(home: Path, session="s1") -> list[dict]:
    return [r for r in eventlog.iter_records(Layout(home).event_log(session)) if r["event"] == "GuardedHook"]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has ended)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return data[data.rfind(b")") + 2:].split()[0] not in (b"Z", b"X")


def system_message(stdout: bytes) -> str:
    return json.loads(stdout)["systemMessage"]


# -- timeouts -------------------------------------------------------------------------


def test_hung_command_and_its_child_are_ended(home: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pidfile}; sleep 30"
    started = time.monotonic()
    res = guard(home, ["--timeout", "1", "--name", "hung", "--", "sh", "-c", script], hook_input())
    elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    assert elapsed < 10, "the guard waited for the hung command"  # far under its 30 s sleep
    child = int(pidfile.read_text())
    assert not alive(child), "the command's own child outlived the timeout"
    assert b"HOOK_TIMEOUT" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "did not finish within 1s" in system_message(res.stdout)
    [rec] = records(home)
    assert rec["outcome"] == "timeout" and rec["code"] == "HOOK_TIMEOUT" and rec["hook"] == "hung"
    assert rec["duration_ms"] < 2000  # the guard's own measure: the deadline plus the kill


def test_process_run_returns_within_two_seconds_and_leaves_nothing(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    ex = process.run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; trap '' TERM; sleep 30"], b"", 1.0, dict(os.environ))
    assert time.monotonic() - started < 2.0 + 1.0  # deadline + grace (TERM ignored -> KILL) + slack
    assert ex.timed_out and ex.exit_code is None
    assert not alive(int(pidfile.read_text()))
    assert not alive(ex.pid)


def test_on_timeout_block_exits_2(home: Path) -> None:
    res = guard(home, ["--timeout", "0.5", "--on-timeout", "block", "--", "sleep", "20"], hook_input())
    assert res.returncode == 2
    assert b"HOOK_TIMEOUT" in res.stderr and b"blocked" in res.stderr
    assert records(home)[0]["outcome"] == "timeout"


def test_output_held_by_a_straggler_does_not_hang_the_guard(home: Path) -> None:
    # The command exits at once but leaves a child holding its stdout open.
    res = guard(home, ["--timeout", "1", "--", "sh", "-c", "sleep 30 & exit 0"], hook_input())
    assert res.returncode == 0
    assert records(home)[0]["outcome"] == "timeout"



def test_a_daemon_that_left_the_group_is_named_not_claimed_ended(home: Path, tmp_path: Path) -> None:
    # setsid puts the child in a session of its own: the group kill cannot reach it, so the
    # guard must not say it ended "everything it started"; it says what survived.
    pidfile = tmp_path / "daemon.pid"
    script = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 30' </dev/null >/dev/null 2>&1 & sleep 30"
    res = guard(home, ["--timeout", "1", "--name", "spawner", "--", "sh", "-c", script], hook_input())
    daemon = int(pidfile.read_text())
    try:
        assert alive(daemon), "the test needs a process that outlived the group kill"
        message = system_message(res.stdout)
        assert "everything it started" not in message
        assert f"{daemon} (sleep)" in message and "still running" in message
        assert f"{daemon} (sleep)" in res.stderr.decode()
        [rec] = records(home)
        assert rec["survivors"] == [{"pid": daemon, "name": "sleep"}]
    finally:
        os.kill(daemon, 9)


def test_a_timeout_with_nothing_left_still_says_everything_ended(home: Path) -> None:
    res = guard(home, ["--timeout", "0.5", "--name", "plain", "--", "sleep", "20"], hook_input())
    assert "ended it and everything it started" in system_message(res.stdout)
    assert "survivors" not in records(home)[0]

# -- pass-through ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_exit_code_stdout_stderr_pass_through(home: Path, code: int) -> None:
    script = f"cat; printf 'to-out'; echo ' to-err' >&2; exit {code}"
    data = hook_input()
    res = guard(home, ["--timeout", "5", "--", "sh", "-c", script], data)
    assert res.returncode == code
    assert res.stdout == data + b"to-out"  # stdin reached the command; its stdout came back byte for byte
    assert res.stderr == b" to-err\n"
    assert records(home)[0]["outcome"] == {0: "ok", 1: "failed", 2: "blocked", 3: "failed"}[code]
    assert records(home)[0]["exit"] == code


def test_large_input_and_output(home: Path) -> None:
    data = hook_input(command="x" * 300_000)
    res = guard(home, ["--timeout", "10", "--", "cat"], data)
    assert res.returncode == 0 and res.stdout == data



def test_output_over_the_cap_is_cut_and_said(home: Path) -> None:
    cap = process.MAX_OUTPUT_BYTES
    script = f"head -c {cap + 1000} /dev/zero | tr '\\0' a; echo fine >&2"
    res = guard(home, ["--timeout", "20", "--name", "chatty", "--", "sh", "-c", script], hook_input())
    assert res.returncode == 0
    assert res.stdout == b"a" * cap  # the first 16 MiB pass through unchanged
    lines = res.stderr.decode().splitlines()
    assert lines[0] == "fine"  # the hook's own stderr first, untouched
    assert "`head -c" in lines[1] and "16 MiB" in lines[1] and f"{cap + 1000} bytes" in lines[1]
    [rec] = records(home)
    assert rec["outcome"] == "ok" and rec["output_cut"] == {"stdout": cap + 1000}


def test_output_under_the_cap_says_nothing(home: Path) -> None:
    res = guard(home, ["--timeout", "10", "--", "sh", "-c", "head -c 70000 /dev/zero"], hook_input())
    assert len(res.stdout) == 70000 and res.stderr == b""
    assert "output_cut" not in records(home)[0]

def test_stdin_that_never_closes_does_not_hang_the_guard(home: Path) -> None:
    full_env = {**os.environ, "LIFEGUARD_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, str(GUARD), "--timeout", "5", "--", "cat"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
    data = hook_input()
    proc.stdin.write(data)
    proc.stdin.flush()  # ... and never closed
    try:
        out = proc.stdout.read()  # returns when the guard exits, although stdin is still open
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=5) == 0
    assert out == data  # a complete JSON object ends the read without EOF


def test_stdin_without_data_is_bounded(home: Path) -> None:
    full_env = {**os.environ, "LIFEGUARD_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, str(GUARD), "--timeout", "5", "--", "echo", "ran"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
    try:
        out = proc.stdout.read()  # returns when the guard exits, although stdin is still open
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=5) == 0 and out == b"ran\n"


# -- commands that cannot run ---------------------------------------------------------


def test_missing_command(home: Path) -> None:
    res = guard(home, ["--timeout", "5", "--", "no-such-command-lg4"], hook_input())
    assert res.returncode == 0
    assert "HOOK_DEPENDENCY_MISSING" in system_message(res.stdout)
    assert b"no-such-command-lg4" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert records(home)[0]["outcome"] == "missing"


def test_missing_command_through_a_shell(home: Path) -> None:
    res = guard(home, ["--timeout", "5", "--", "sh", "-c", "no-such-command-lg4 --flag"], hook_input())
    assert res.returncode == 0
    message = system_message(res.stdout)
    assert "HOOK_DEPENDENCY_MISSING" in message and "no-such-command-lg4" in message
    assert records(home)[0]["code"] == "HOOK_DEPENDENCY_MISSING"


def test_not_executable(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "hook.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    direct = guard(home, ["--timeout", "5", "--", str(script)], hook_input())
    shell = guard(home, ["--timeout", "5", "--", "sh", "-c", str(script)], hook_input())
    for res in (direct, shell):
        assert res.returncode == 0
        message = system_message(res.stdout)
        assert "HOOK_PERMISSION_DENIED" in message and "chmod +x" in message
    assert [r["outcome"] for r in records(home)] == ["denied", "denied"]


def test_missing_interpreter_is_named(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "hook.py"
    script.write_text("#!/nonexistent/python9\n")
    script.chmod(0o755)
    res = guard(home, ["--timeout", "5", "--", str(script)], hook_input())
    assert res.returncode == 0 and "interpreter" in system_message(res.stdout)


def test_bad_arguments_fail_open_or_closed(home: Path) -> None:
    res = guard(home, ["--timeout", "x", "--", "true"], hook_input())
    assert res.returncode == 0 and "usage" in system_message(res.stdout)
    res = guard(home, ["--on-timeout", "block", "--", "true"], hook_input())
    assert res.returncode == 2 and b"--timeout" in res.stderr


# -- environment ----------------------------------------------------------------------


def test_command_environment_is_cleaned_and_told_the_session(home: Path, tmp_path: Path) -> None:
    env = {"LD_PRELOAD": "/tmp/evil.so", "PYTHONPATH": "/tmp/evil", "BASH_ENV": "/tmp/evil.sh",
           "KEEP_ME": "yes", "CLAUDE_PROJECT_DIR": str(tmp_path)}
    res = guard(home, ["--timeout", "5", "--name", "envcheck", "--", "env"], hook_input(session="sess-7"), env)
    seen = dict(line.split("=", 1) for line in res.stdout.decode().splitlines() if "=" in line)
    assert "LD_PRELOAD" not in seen and "PYTHONPATH" not in seen and "BASH_ENV" not in seen
    assert seen["KEEP_ME"] == "yes"
    assert seen["LIFEGUARD_SESSION_ID"] == "sess-7" and seen["LIFEGUARD_WORKSPACE"] == str(tmp_path)
    assert seen[environment.STACK_VAR] == "envcheck"
    # The user's environment is never stored.
    log = Layout(home).event_log("sess-7").read_text()
    assert "KEEP_ME" not in log and "/tmp/evil" not in log


def test_what_uv_run_added_is_taken_back() -> None:
    prefix = "/cache/uv/env-x"
    base = {"VIRTUAL_ENV": prefix, "PATH": f"{prefix}/bin:/usr/bin", "UV_RUN_RECURSION_DEPTH": "1", "UV": "/x/uv"}
    env = dict(base)
    environment.undo_uv_run(env, prefix)
    assert env == {"PATH": "/usr/bin"}
    nested = dict(base, UV_RUN_RECURSION_DEPTH="2")
    environment.undo_uv_run(nested, prefix)
    assert nested["UV_RUN_RECURSION_DEPTH"] == "1" and nested["UV"] == "/x/uv"
    other = {"VIRTUAL_ENV": "/users/own/venv", "PATH": "/users/own/venv/bin:/usr/bin"}
    environment.undo_uv_run(other, prefix)
    assert other == {"VIRTUAL_ENV": "/users/own/venv", "PATH": "/users/own/venv/bin:/usr/bin"}


# -- breaker --------------------------------------------------------------------------


def end_cooldowns(home: Path) -> None:
    """What the passing of the cooldown does, without waiting for it: every paused hook's
    `open_until` moves into the past (the pause itself is long, so no timing can end it early)."""
    path = home / "state" / workspace.FILE
    entries = json.loads(path.read_text())
    for entry in entries.values():
        if entry.get("open_until"):
            entry["open_until"] = time.time() - 1
    path.write_text(json.dumps(entries))


def test_breaker_skips_a_failing_hook_then_tries_again(home: Path, tmp_path: Path) -> None:
    (home / "lifeguard.json").write_text(json.dumps({"guard": {"failure_threshold": 3, "cooldown_seconds": 300}}))
    runs = tmp_path / "runs"
    args = ["--timeout", "5", "--name", "flaky", "--", "sh", "-c", f"echo x >> {runs}; exit 1"]
    results = [guard(home, args, hook_input(command=f"c{i}")) for i in range(4)]
    assert [r.returncode for r in results[:3]] == [1, 1, 1]  # failures pass through unchanged
    assert b"CIRCUIT_OPEN" in results[2].stderr  # the third failure opens the breaker and says so
    skipped = results[3]
    assert skipped.returncode == 0 and "CIRCUIT_OPEN" in system_message(skipped.stdout)
    assert runs.read_text().count("x") == 3  # the fourth run was skipped
    end_cooldowns(home)  # the cooldown passes: the hook is tried again
    again = guard(home, args, hook_input(command="c5"))
    assert again.returncode == 1 and runs.read_text().count("x") == 4
    assert [r["outcome"] for r in records(home)] == ["failed"] * 3 + ["skipped", "failed"]


def test_breaker_closes_after_a_success(home: Path) -> None:
    layout = Layout(home)
    args = dict(threshold=3, cooldown=60.0, label="x", event="PreToolUse", session="s1")
    for i, outcome_ in enumerate(["failed", "timeout", "missing"]):
        entry = workspace.update(layout, "h", failed=True, outcome=outcome_, code="C", now=100.0 + i, **args)
    assert policy.breaker_open(entry, 103.0) and not policy.breaker_open(entry, 163.0)
    assert entry["timeouts"] == 1 and entry["failures_in_row"] == 3
    assert policy.trips_breaker(entry, True, 3)  # the trial after the cooldown: one failure opens it again
    closed = workspace.update(layout, "h", failed=False, outcome="ok", code=None, now=170.0, **args)
    assert closed["failures_in_row"] == 0 and not policy.breaker_open(closed, 171.0)
    assert workspace.entry(layout, "h")["timeouts"] == 1  # doctor still sees the history
    assert not workspace.needs_update(closed, False) and workspace.needs_update(closed, True)


def test_the_pause_belongs_to_the_workspace(home: Path, tmp_path: Path) -> None:
    """Three failures in one session pause the hook for every session of the project."""
    (home / "lifeguard.json").write_text(json.dumps({"guard": {"failure_threshold": 3, "cooldown_seconds": 300}}))
    runs = tmp_path / "runs"
    args = ["--timeout", "5", "--name", "PreToolUse.flaky-1234abcd", "--", "sh", "-c", f"echo x >> {runs}; exit 1"]
    for i in range(3):
        guard(home, args, hook_input(session="first", command=f"c{i}"))
    for session in ("second", "first"):  # a new session, and the first one resumed
        skipped = guard(home, args, hook_input(session=session, command="c9"))
        message = system_message(skipped.stdout)
        assert skipped.returncode == 0 and "CIRCUIT_OPEN" in message and "paused in this project" in message
    assert runs.read_text().count("x") == 3  # neither session waited on it again
    end_cooldowns(home)  # the cooldown ends: the trial run in a third session fails, which pauses it again at once
    trial = guard(home, args, hook_input(session="third", command="c10"))
    assert trial.returncode == 1 and b"CIRCUIT_OPEN" in trial.stderr
    assert guard(home, args, hook_input(session="fourth", command="c11")).returncode == 0  # skipped again
    assert runs.read_text().count("x") == 4


def test_messages_name_the_hook_by_its_command_one_line_each(home: Path) -> None:
    (home / "lifeguard.json").write_text(json.dumps({"guard": {"failure_threshold": 1}}))
    args = ["--timeout", "0.5", "--name", "PreToolUse.sleep-7523e32f", "--", "sh", "-c", "sleep   5"]
    result = guard(home, args, hook_input())
    message = system_message(result.stdout)
    assert "7523e32f" not in message and "your PreToolUse hook `sleep 5`" in message
    lines = message.splitlines()  # the timeout and the pause: two messages, two lines
    assert len(lines) == 2 and all(line.startswith("lifeguard: ") for line in lines)
    assert "HOOK_TIMEOUT" in lines[0] and "CIRCUIT_OPEN" in lines[1]


def test_labels_are_short_masked_and_cut_at_a_word() -> None:
    long = ["sh", "-c", "python3 scripts/check_everything.py --with-a-very-long-option --and-another-one --verbose"]
    text = outcome.label(long)
    assert text.endswith("...") and len(text) <= outcome.LABEL_CHARS + 3 and text[:-3] in long[2]
    assert long[2].startswith(text[:-3] + " ")  # cut between words
    assert "hunter2secretvalue" not in outcome.label(["sh", "-c", "deploy --password hunter2secretvalue"])


def test_trips_breaker_only_on_the_threshold_failure() -> None:
    assert not policy.trips_breaker({"failures_in_row": 1}, True, 3)
    assert policy.trips_breaker({"failures_in_row": 2}, True, 3)
    assert not policy.trips_breaker({"failures_in_row": 2}, False, 3)


# -- loops and re-entry ---------------------------------------------------------------


def test_same_input_three_times_in_a_row_is_skipped(home: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = ["--timeout", "5", "--name", "echoer", "--", "sh", "-c", f"echo x >> {runs}"]
    results = [guard(home, args, hook_input(command="same")) for _ in range(4)]
    assert [r.returncode for r in results] == [0, 0, 0, 0]
    assert runs.read_text().count("x") == 3
    assert "HOOK_INFINITE_LOOP" in system_message(results[3].stdout)
    other = guard(home, args, hook_input(command="different"))
    assert other.returncode == 0 and runs.read_text().count("x") == 4  # a new input runs again


def test_a_skipped_gate_hook_keeps_refusing(home: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = ["--timeout", "5", "--name", "denier", "--", "sh", "-c", f"echo x >> {runs}; echo no >&2; exit 2"]
    results = [guard(home, args, hook_input(command="rm -rf /")) for _ in range(4)]
    assert [r.returncode for r in results] == [2, 2, 2, 2]  # skipping must not let the call through
    assert runs.read_text().count("x") == 3 and b"HOOK_INFINITE_LOOP" in results[3].stderr


def test_a_skipped_stop_hook_lets_the_stop_happen(home: Path) -> None:
    args = ["--timeout", "5", "--name", "stopper", "--", "sh", "-c", "echo keep going >&2; exit 2"]
    inp = json.dumps({"session_id": "s1", "hook_event_name": "Stop", "stop_hook_active": True}).encode()
    results = [guard(home, args, inp) for _ in range(4)]
    assert [r.returncode for r in results] == [2, 2, 2, 0]  # the loop of blocks is broken


def test_loop_rules() -> None:
    limits = {"loop_repeat_limit": 3, "loop_window_seconds": 300, "loop_max_runs": 10}
    row = {"recent": [[1.0, "a", "allow"], [2.0, "a", "allow"], [3.0, "a", "allow"]]}
    assert "in a row" in policy.loop_reason(row, "a", 4.0, limits)
    assert policy.loop_reason(row, "b", 4.0, limits) is None
    mixed = {"recent": [[float(i), "a" if i % 2 else "b", "allow"] for i in range(12)]}  # 6 a's, alternating
    assert policy.loop_reason(mixed, "a", 20.0, limits) is None
    many = {"recent": [[float(i), "a" if i < 10 else "b", "allow"] for i in range(12)]}  # 10 a's, not the last 3
    assert "10 runs" in policy.loop_reason(many, "a", 20.0, limits)
    assert policy.loop_reason(many, "a", 20.0 + 400, limits) is None  # outside the 5 minutes


def test_replayed_verdict() -> None:
    entry = {"recent": [[1.0, "a", "block"], [2.0, "b", "allow"]]}
    assert policy.replayed_verdict(entry, "a", "PreToolUse") == "block"
    assert policy.replayed_verdict(entry, "b", "PreToolUse") == "allow"
    assert policy.replayed_verdict(entry, "a", "Stop") == "allow"


def test_json_decisions_count_as_blocks() -> None:
    assert outcome.stdout_blocks(b'{"hookSpecificOutput":{"permissionDecision":"deny"}}')
    assert outcome.stdout_blocks(b'{"decision":"block","reason":"x"}')
    assert not outcome.stdout_blocks(b'{"hookSpecificOutput":{"permissionDecision":"allow"}}')
    assert not outcome.stdout_blocks(b"plain text")


def test_reentry_is_detected(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "inner-ran"
    inner = [sys.executable, str(GUARD), "--timeout", "5", "--name", "selfish", "--", "touch", str(marker)]
    res = guard(home, ["--timeout", "10", "--name", "selfish", "--", *inner], hook_input())
    assert res.returncode == 0
    assert not marker.exists()
    assert "re-entered itself" in system_message(res.stdout)


def test_input_fingerprint_ignores_ids() -> None:
    a = json.loads(hook_input(command="ls"))
    b = dict(a, tool_use_id="toolu_other", transcript_path="/x")
    c = dict(a, tool_input={"command": "pwd"})
    assert hookinput.fingerprint(a, b"") == hookinput.fingerprint(b, b"")
    assert hookinput.fingerprint(a, b"") != hookinput.fingerprint(c, b"")


# -- the record -----------------------------------------------------------------------


def test_state_equals_replay_of_the_log(home: Path) -> None:
    for i in range(3):
        guard(home, ["--timeout", "5", "--name", f"h{i % 2}", "--", "sh", "-c", f"exit {i}"], hook_input(command=str(i)))
    layout = Layout(home)
    snapshot = json.loads(layout.session_file("s1").read_text())
    replayed = reducer.replay_log(layout.event_log("s1"), "s1", FEATURES)
    assert snapshot["execution"]["guarded_hooks"] == replayed["execution"]["guarded_hooks"]
    assert set(snapshot["execution"]["guarded_hooks"]) == {"h0", "h1"}


def test_command_is_recorded_redacted(home: Path) -> None:
    guard(home, ["--timeout", "5", "--", "sh", "-c", "API_TOKEN=abc123secret true --password hunter2"], hook_input())
    rec = records(home)[0]
    assert "abc123secret" not in rec["command"] and "hunter2" not in rec["command"]
    assert "API_TOKEN=[REDACTED:" in rec["command"]  # the one redactor every record goes through


def test_default_names_are_stable_and_distinct() -> None:
    a = cli.default_name(["sh", "-c", "python3 check.py"])
    assert a == cli.default_name(["sh", "-c", "python3 check.py"]) and a.startswith("python3-")
    assert a != cli.default_name(["sh", "-c", "python3 other.py"])
    assert cli.safe_hook_name("a/b:c d") == "a_b_c_d"
