"""Graded cleanup, crash-safe log compaction and stale-session archiving."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.upkeep import cleanup, repair
from lifeguard.store import eventlog, snapshot as logsnapshot, reducer, state as state_mod
from lifeguard.config.load import section
from lifeguard.core.paths import Layout
from lifeguard.store.session import SessionStore

SID = "sess-c"
LIMITS = section(None, "limits")
OLD = "2020-01-01T00:00:00.000Z"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".claude")


def consistent(layout: Layout, sid: str = SID) -> dict:
    state = state_mod.load(layout.session_file(sid))
    view = repair.LogView(layout, sid, FEATURES)
    assert view.complete and view.replay == state, view.problems()
    return state


@pytest.mark.parametrize("size,free,level", [
    (100, None, None), (int(0.8 * LIMITS["state_size_bytes"]), None, "warning"),
    (LIMITS["state_size_bytes"], None, "critical"), (int(1.5 * LIMITS["state_size_bytes"]), None, "emergency"),
    (100, 0, "emergency"), (100, 1 << 40, None),
])
def test_assess(size, free, level):
    assert cleanup.assess(size, free, LIMITS) == level


def tasked_state() -> dict:
    state = state_mod.default_state(SID, OLD)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    state["execution"]["tasks"] = {
        "old-done": {"status": "completed", "updated_at": OLD},
        "new-done": {"status": "completed", "updated_at": now},
        "open": {"status": "pending"}, "doing": {"status": "in_progress"}, "stuck": {"status": "blocked"},
        "dropped": {"status": "cancelled"},
    }
    state["execution"]["agents"]["active"] = {"busy": {"status": "running"}, "idle": {"status": "idle"}}
    state["observability"]["incidents"] = [{"seq": i + 1, "kind": "k"} for i in range(80)]
    return state


def test_warning_archives_old_completed_tasks_and_prunes_notices():
    state = tasked_state()
    record = cleanup.plan(state, "warning", time.time())
    assert record["drop_tasks"] == ["old-done"]
    cleanup.apply_cleanup(state, record)
    assert "old-done" not in state["execution"]["tasks"] and "new-done" in state["execution"]["tasks"]
    assert len(state["observability"]["incidents"]) == 50 and state["observability"]["incidents"][-1]["seq"] == 80


def test_critical_archives_all_completed_tasks():
    record = cleanup.plan(tasked_state(), "critical", time.time())
    assert record["drop_tasks"] == ["new-done", "old-done"]


def test_emergency_keeps_only_active_agents_and_open_tasks():
    state = tasked_state()
    record = cleanup.plan(state, "emergency", time.time())
    archived = cleanup.archived_data(state, record)
    cleanup.apply_cleanup(state, record)
    assert set(state["execution"]["tasks"]) == {"open", "doing", "stuck"}
    assert set(state["execution"]["agents"]["active"]) == {"busy"}
    assert state["observability"]["events"]["recent"] == []
    assert set(archived["tasks"]) == {"old-done", "new-done", "dropped"} and set(archived["agents"]) == {"idle"}


def test_run_cleanup_goes_through_the_log_and_archives_first(layout):
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
        txn.commit({"event": "SessionStart"})
        txn.state["execution"]["tasks"] = {}  # tasks reach the state through records only
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
        record, archive = cleanup.run_cleanup(txn, layout, "emergency")
    assert record is not None and archive.parent == layout.archive_dir
    assert json.loads(archive.read_bytes())["level"] == "emergency"
    state = consistent(layout)
    assert state["observability"]["health"]["last_cleanup"]["level"] == "emergency"


def fill(layout: Layout, n: int) -> None:
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
        for _ in range(n):
            txn.commit({"event": "PostToolUse", "tool": "Bash"})


def test_compaction_keeps_replay_and_sequence(layout):
    fill(layout, 10)
    before = state_mod.load(layout.session_file(SID))
    moved = cleanup.compact(layout, SID, before, 10)
    assert moved.parent == layout.archive_dir and not layout.event_log(SID).exists()
    assert len(moved.read_bytes().splitlines()) == 10  # the old segment is kept, not deleted
    assert logsnapshot.read(layout.event_log(SID)).seq == 10
    assert reducer.replay_log(layout.event_log(SID), SID, FEATURES) == before
    fill(layout, 3)
    state = consistent(layout)
    assert state_mod.sequence(state) == 13
    assert [r["seq"] for r in eventlog.iter_records(layout.event_log(SID))] == [11, 12, 13]
    assert cleanup.events_in_log(layout, SID, 13) == 3


def test_compaction_crash_after_snapshot_before_log_moved(layout):
    fill(layout, 6)
    state = state_mod.load(layout.session_file(SID))
    logsnapshot.write(layout.event_log(SID), state, 6, SID)  # "crash" here: old log still in place
    assert reducer.replay_log(layout.event_log(SID), SID, FEATURES) == state
    fill(layout, 2)
    assert state_mod.sequence(consistent(layout)) == 8


def test_state_file_older_than_snapshot_is_rebuilt(layout):
    fill(layout, 3)
    old_state = layout.session_file(SID).read_bytes()
    fill(layout, 3)
    cleanup.compact(layout, SID, state_mod.load(layout.session_file(SID)), 6)
    fill(layout, 1)
    layout.session_file(SID).write_bytes(old_state)  # a state from before the compaction
    fill(layout, 1)
    assert state_mod.sequence(consistent(layout)) == 8


def test_abandoned_temp_files_are_moved_to_quarantine_not_deleted(tmp_path):

    from lifeguard.upkeep import cleanup
    from lifeguard.core import fsutil
    from lifeguard.core.paths import Layout

    layout = Layout(tmp_path / ".claude")
    fsutil.ensure_private_dir(layout.state_dir)
    old = layout.state_dir / ".session-x.json.123.abcd1234.tmp"
    fresh = layout.state_dir / ".session-y.json.124.abcd1234.tmp"
    other = layout.state_dir / "session-x.json"
    for path in (old, fresh, other):
        path.write_bytes(b"partial")
    os.utime(old, (1, 1))
    moved = cleanup.quarantine_abandoned_temp_files(layout)
    assert not old.exists() and fresh.exists() and other.exists()
    assert len(moved) == 1 and Path(moved[0]).read_bytes() == b"partial" and Path(moved[0]).parent == layout.quarantine_dir
