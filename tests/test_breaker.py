"""The circuit breaker state machine (breaker.py), alone and across real parallel hook processes."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.features.loops import breaker
from lifeguard.store import reducer, state as state_mod
from lifeguard.config.load import DEFAULTS
from lifeguard.core.paths import Layout
from lifeguard.core.clock import epoch, now_iso
from lifeguard.store.session import SessionStore

LIMITS = {**DEFAULTS["breakers"], "failure_threshold": 3, "recovery_timeout_seconds": 30}
REPO = Path(__file__).resolve().parents[1]


def fail(entry, now, limits=LIMITS):
    return breaker.after_result(entry, False, now, "boom", limits)


def open_entry(now: float = 100.0) -> dict:
    entry = None
    for _ in range(3):
        entry, _opened = fail(entry, now)
    return entry


# -- pure state machine --------------------------------------------------------------------


def test_closed_counts_failures_and_opens_at_the_threshold() -> None:
    entry, opened = fail(None, 1.0)
    assert entry["state"] == breaker.CLOSED and entry["failures"] == 1 and not opened
    entry, opened = fail(entry, 2.0)
    assert entry["state"] == breaker.CLOSED and not opened
    entry, opened = fail(entry, 3.0)
    assert opened and entry["state"] == breaker.OPEN and entry["opened_at"] == 3.0
    assert entry["last_error"] == "boom"


def test_success_resets_the_count() -> None:
    entry, _ = fail(fail(None, 1.0)[0], 2.0)
    entry, opened = breaker.after_result(entry, True, 3.0, "", LIMITS)
    assert entry == breaker.new_entry() and not opened
    entry, _ = fail(entry, 4.0)
    assert entry["failures"] == 1  # consecutive failures only


def test_open_refuses_until_the_recovery_timeout() -> None:
    entry = open_entry(100.0)
    assert breaker.before_call(entry, 100.0 + 29.9, "t1", LIMITS) == (breaker.REFUSE, None)
    decision, new = breaker.before_call(entry, 130.0, "t1", LIMITS)
    assert decision == breaker.TRIAL
    assert new["state"] == breaker.HALF_OPEN and new["trial"] == "t1" and new["trial_at"] == 130.0


def test_half_open_lets_one_trial_through() -> None:
    _, half = breaker.before_call(open_entry(100.0), 130.0, "t1", LIMITS)
    assert breaker.before_call(half, 131.0, "t2", LIMITS) == (breaker.REFUSE, None)


def test_trial_success_closes_and_failure_reopens() -> None:
    _, half = breaker.before_call(open_entry(100.0), 130.0, "t1", LIMITS)
    closed, opened = breaker.after_result(half, True, 131.0, "", LIMITS)
    assert closed["state"] == breaker.CLOSED and closed["failures"] == 0 and not opened
    reopened, opened = breaker.after_result(half, False, 131.0, "still down", LIMITS)
    assert opened and reopened["state"] == breaker.OPEN and reopened["opened_at"] == 131.0
    assert breaker.before_call(reopened, 140.0, "t3", LIMITS)[0] == breaker.REFUSE


def test_lost_trial_is_replaced_after_the_timeout() -> None:
    _, half = breaker.before_call(open_entry(100.0), 130.0, "t1", LIMITS)
    decision, new = breaker.before_call(half, 160.0, "t2", LIMITS)
    assert decision == breaker.TRIAL and new["trial"] == "t2"


def test_failure_of_a_call_already_running_keeps_it_open() -> None:
    entry = open_entry(100.0)
    after, opened = fail(entry, 110.0)
    assert after["state"] == breaker.OPEN and after["opened_at"] == 100.0 and not opened


def test_closed_breaker_allows() -> None:
    assert breaker.before_call(None, 1.0, "t", LIMITS) == (breaker.ALLOW, None)
    assert breaker.before_call(breaker.new_entry(), 1.0, "t", LIMITS) == (breaker.ALLOW, None)


def test_keys_for_tools_and_mcp_servers() -> None:
    patterns = ["mcp__*", "WebFetch"]
    tool = "mcp__github__create_issue"
    assert breaker.keys_for(tool, patterns) == [tool, "mcp__github"]
    assert breaker.keys_for("WebFetch", patterns) == ["WebFetch"]
    assert breaker.keys_for("Bash", patterns) == []


def test_tool_patterns_match_exactly_as_fnmatch_does() -> None:
    """`matches` skips fnmatch's regex for plain names and `prefix*`; every pattern, those and the
    rest (left to fnmatch), must decide as fnmatchcase does."""
    from fnmatch import fnmatchcase

    names = ["", "WebFetch", "webfetch", "WebFetchX", "mcp__", "mcp__github__get", "mcp__x\nnext", "mcp_x",
             "Bash", "a*b", "a?", "[x]", "Web*"]
    patterns = ["", "*", "**", "WebFetch", "mcp__*", "mcp__*__get", "mcp__**", "Web?etch", "[Ww]eb*", "a*b",
                "a\\*", "[x]", "Web*", "*Fetch", "mcp__github__*"]
    for name in names:
        for pattern in patterns:
            assert breaker.matches(name, pattern) == fnmatchcase(name, pattern), (name, pattern)


def test_epoch_matches_the_calendar() -> None:
    ts = "2025-03-01T12:34:56.789Z"
    expected = calendar.timegm((2025, 3, 1, 12, 34, 56, 0, 0, 0)) + 0.789
    assert epoch(ts) == pytest.approx(expected)
    assert epoch("2000-02-29T00:00:00Z") == calendar.timegm((2000, 2, 29, 0, 0, 0, 0, 0, 0))
    assert abs(epoch(now_iso()) - time.time()) < 5
    assert epoch("garbage") == 0.0 and epoch(None) == 0.0


# -- real parallel hook processes ----------------------------------------------------------

SID = "breaker-parallel"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    claude = tmp_path / ".claude"
    claude.mkdir()
    # A long lock wait: a hook that gives up on the lock fails open (no trial bookkeeping);
    # this test is about what the serialized hooks decide, not about a busy machine.
    cfg = {"breakers": {"tools": ["Flaky"], "failure_threshold": 3, "recovery_timeout_seconds": 600},
           "locks": {"timeout_seconds": 30}}
    (claude / "lifeguard.json").write_text(json.dumps(cfg))
    # One hook first, alone: it validates the config (pydantic, slow) and caches the result,
    # so the parallel hooks below only contend for the session lock.
    run_hooks(claude, "session_start.py", [{"session_id": SID, "hook_event_name": "SessionStart"}])
    return claude


def run_hooks(home: Path, script: str, inputs: list[dict]) -> list[dict]:
    """Start one real hook process per input, all at once; their JSON outputs in input order."""
    # A generous time budget: 2 shared cores may be busy; this test is about ordering, not speed.
    env = {**os.environ, "LIFEGUARD_HOME": str(home), "LIFEGUARD_TIMEOUT": "60"}
    procs = [subprocess.Popen([sys.executable, str(REPO / "hooks" / script)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in inputs]
    for proc, inp in zip(procs, inputs):
        proc.stdin.write(json.dumps(inp).encode())
        proc.stdin.close()
    outputs = []
    for proc in procs:
        proc.wait(timeout=60)
        err = proc.stderr.read().decode()
        assert proc.returncode == 0 and "failed open" not in err, err
        outputs.append(json.loads(proc.stdout.read() or b"{}"))
    return outputs


def tool_event(event: str, tuid: str, **extra) -> dict:
    return {"session_id": SID, "hook_event_name": event, "tool_name": "Flaky",
            "tool_input": {"n": tuid}, "tool_use_id": tuid, **extra}


def saved_state(home: Path) -> dict:
    layout = Layout(home)
    state = state_mod.load(layout.session_file(SID))
    assert state == reducer.replay_log(layout.event_log(SID), SID, FEATURES)  # the snapshot is a replay
    return state


def refused(out: dict) -> bool:
    return out.get("hookSpecificOutput", {}).get("permissionDecision") == "deny"


def test_parallel_failures_all_count_and_open_the_breaker(home: Path) -> None:
    run_hooks(home, "post_tool_use_failure.py",
              [tool_event("PostToolUseFailure", f"f{i}", error="connection refused") for i in range(6)])
    entry = saved_state(home)["execution"]["breakers"]["Flaky"]
    assert entry["state"] == breaker.OPEN and entry["failures"] == 6  # no lost update
    outs = run_hooks(home, "pre_tool_use.py", [tool_event("PreToolUse", f"p{i}") for i in range(4)])
    assert all(refused(o) for o in outs)
    reason = outs[0]["hookSpecificOutput"]["permissionDecisionReason"]
    assert "Flaky is unavailable" in reason and "connection refused" in reason


def test_parallel_calls_after_recovery_get_exactly_one_trial(home: Path) -> None:
    # A breaker that opened long ago, written the way the feature writes it: in a record.
    old = {**breaker.new_entry(), "state": breaker.OPEN, "failures": 3, "opened_at": time.time() - 3600,
           "last_error": "down"}
    with SessionStore(Layout(home), SID, reducers=FEATURES).transaction() as txn:
        txn.commit({"event": "PostToolUseFailure", "tool": "Flaky", "ts": now_iso(),
                    "loop": {"agent": "main", "breakers": {"Flaky": old}}})
    outs = run_hooks(home, "pre_tool_use.py", [tool_event("PreToolUse", f"p{i}") for i in range(6)])
    allowed = [i for i, o in enumerate(outs) if not refused(o)]
    assert len(allowed) == 1, outs
    entry = saved_state(home)["execution"]["breakers"]["Flaky"]
    assert entry["state"] == breaker.HALF_OPEN and entry["trial"] == f"p{allowed[0]}"
    run_hooks(home, "post_tool_use.py", [tool_event("PostToolUse", f"p{allowed[0]}", tool_response="ok")])
    assert "Flaky" not in saved_state(home)["execution"]["breakers"]  # closed and healthy
    outs = run_hooks(home, "pre_tool_use.py", [tool_event("PreToolUse", "again")])
    assert not refused(outs[0])
