"""Spooled events whose session never ran another hook (issue 14, item 1).

When the session lock is busy a hook spools its event and exits 0. If that was the session's
last hook (its PostToolUse and SessionEnd ran while a recovery tool held the lock), no later
hook of that session drains the spool: another session's SessionStart and `repair --all` must
bring it into its log, exactly once and in order, and `analyze` must count what is still spooled.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from planted import event, install, run_json, run_tool

from lifeguard.core import later
from lifeguard.core.paths import Layout
from lifeguard.features.registry import FEATURES
from lifeguard.store import eventlog, reducer
from lifeguard.store import state as state_mod

LEFT = "4b2d7a0e-1f3c-4e5a-9b6d-0c8e2f4a6b1d"  # the session that ended while its lock was held
OTHER = "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = install(tmp_path / "proj")
    config = json.loads(layout.config_file.read_text())
    config["locks"]["timeout_seconds"] = 0.2  # spool fast: the repro holds the lock for seconds
    layout.config_file.write_text(json.dumps(config))
    return layout


def strand(layout: Layout, session: str = LEFT) -> None:
    """SessionStart and a PreToolUse logged, then PostToolUse and SessionEnd spooled under a held lock."""
    event(layout, session, "SessionStart", source="startup", cwd=str(layout.claude_dir.parent))
    later.take()  # its own sweep: nothing else in the workspace yet
    call = {"tool_name": "Bash", "tool_input": {"command": "make build"}, "tool_use_id": "toolu_1"}
    event(layout, session, "PreToolUse", **call)
    fd = os.open(layout.lock_file(session), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as `flock .claude/state/session-<id>.lock sleep 8` does
        event(layout, session, "PostToolUse", **call, tool_response={"stdout": "built"})
        event(layout, session, "SessionEnd", reason="exit")
    finally:
        os.close(fd)
    assert len(spooled(layout, session)) == 2


def session_start(layout: Layout, session: str, source: str = "startup") -> None:
    """Another session's SessionStart, and the sweep it leaves for after its answer."""
    event(layout, session, "SessionStart", source=source, cwd=str(layout.claude_dir.parent))
    for fn, args in later.take():
        fn(*args)


def spooled(layout: Layout, session: str) -> list[Path]:
    folder = layout.session_spool(session)
    return sorted(folder.iterdir()) if folder.exists() else []


def logged_events(layout: Layout, session: str) -> list[str]:
    """The hook events in the log (lifeguard's own records, such as LifeguardHealth, left out)."""
    return [r["event"] for r in eventlog.iter_records(layout.event_log(session))
            if not r["event"].startswith("Lifeguard")]


def assert_drained_once_in_order(layout: Layout, session: str = LEFT) -> None:
    assert logged_events(layout, session) == ["SessionStart", "PreToolUse", "PostToolUse", "SessionEnd"]
    assert spooled(layout, session) == []
    records = list(eventlog.iter_records(layout.event_log(session)))
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    state = state_mod.load(layout.session_file(session))
    assert state == reducer.replay_log(layout.event_log(session), session, FEATURES)  # the snapshot caught up too
    assert state["session"]["lifecycle"]["status"] == "ended"


def test_another_sessions_start_brings_a_stranded_spool_into_its_log(layout: Layout) -> None:
    strand(layout)
    session_start(layout, OTHER)
    assert_drained_once_in_order(layout)
    session_start(layout, OTHER, "resume")
    assert_drained_once_in_order(layout)  # exactly once: a second sweep adds nothing


def test_a_spool_whose_session_has_no_files_yet_becomes_its_log(layout: Layout) -> None:
    # every hook of this session ran under a held lock: nothing but the spool exists
    fd = os.open(layout.lock_file("only-spooled"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        event(layout, "only-spooled", "SessionStart", source="startup")
        event(layout, "only-spooled", "SessionEnd", reason="exit")
    finally:
        os.close(fd)
    session_start(layout, OTHER)
    assert logged_events(layout, "only-spooled") == ["SessionStart", "SessionEnd"]
    assert spooled(layout, "only-spooled") == []


def test_repair_all_brings_a_stranded_spool_into_its_log(layout: Layout) -> None:
    strand(layout)
    proc = run_tool(layout, "repair", "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 spooled event(s)" in proc.stdout  # it says what it did
    assert_drained_once_in_order(layout)
    assert run_tool(layout, "repair", "--all").returncode == 0
    assert_drained_once_in_order(layout)


def test_analyze_counts_what_is_still_spooled(layout: Layout) -> None:
    strand(layout)
    code, report = run_json(layout, "analyze")
    assert report["spooled_events"] == 2
    [left] = [d for d in report["details"] if d["session"] == LEFT]
    assert left["spooled"] == 2 and any("2 spooled event(s)" in issue for issue in left["issues"])
    text = run_tool(layout, "analyze").stdout
    assert "Spooled events" in text and "repair --all" in text
    run_tool(layout, "repair", "--all")
    code, report = run_json(layout, "analyze")
    assert report["spooled_events"] == 0
