"""The session store: transactions, crash catch-up, damaged state, the spool."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.store import eventlog, reducer, state as state_mod, session as store_mod
from lifeguard.upkeep import schema
from lifeguard.core.locking import LockTimeout, SessionLock
from lifeguard.core.paths import Layout
from lifeguard.store.session import SessionStore

SID = "sess-1"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".claude")


def event(n: int, kind: str = "PostToolUse") -> dict:
    return {"event": kind, "tool": "Bash", "input": {"command": f"echo {n}"}}


def log_records(st: SessionStore) -> list[dict]:
    return list(eventlog.iter_records(st.log_path))


def assert_consistent(st: SessionStore) -> dict:
    """The snapshot exists, validates, and equals a replay of the log."""
    saved = state_mod.load(st.state_path)
    assert saved is not None
    assert schema.validate_state(saved) == []
    assert saved == reducer.replay_log(st.log_path, st.session_id, FEATURES)
    seqs = [r["seq"] for r in log_records(st)]
    assert seqs == list(range(1, len(seqs) + 1))
    return saved


def quarantine_files(layout: Layout) -> list[Path]:
    if not layout.quarantine_dir.exists():
        return []
    return sorted(p for p in layout.quarantine_dir.iterdir() if p.name != "index.jsonl")


def test_first_transaction_creates_private_files(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        assert txn.fresh and txn.last_seq == 0
        assert txn.commit(event(1)) == 1
    assert Path(st.state_path).stat().st_mode & 0o777 == 0o600
    assert Path(st.log_path).stat().st_mode & 0o777 == 0o600
    assert layout.state_dir.stat().st_mode & 0o777 == 0o700
    saved = assert_consistent(st)
    assert saved["session"]["id"] == SID
    assert saved["persistence"]["checkpoint"]["sequence"] == 1


def test_commits_get_consecutive_sequence_numbers(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    for n in range(5):
        with st.transaction() as txn:
            txn.commit(event(2 * n))
            txn.commit(event(2 * n + 1))
    records = log_records(st)
    assert [r["seq"] for r in records] == list(range(1, 11))
    assert [r["input"]["command"] for r in records] == [f"echo {n}" for n in range(10)]
    saved = assert_consistent(st)
    assert saved["execution"]["tools"]["calls"] == 10


def test_commit_keeps_given_ts_and_ignores_given_seq(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit({"event": "Stop", "seq": 99, "ts": "2026-01-02T03:04:05.000Z"})
    (record,) = log_records(st)
    assert record["seq"] == 1 and record["ts"] == "2026-01-02T03:04:05.000Z"
    saved = assert_consistent(st)
    assert saved["session"]["created_at"] == "2026-01-02T03:04:05.000Z"
    assert saved["session"]["lifecycle"]["last_activity"] == "2026-01-02T03:04:05.000Z"


def test_transaction_without_commit_writes_nothing(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        assert txn.state["persistence"]["checkpoint"]["sequence"] == 0
    assert not Path(st.state_path).exists() and not Path(st.log_path).exists()


def test_exception_inside_transaction_keeps_committed_event(layout):
    """The log is the truth: an event appended before a fault survives it."""
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit(event(1))
    with pytest.raises(RuntimeError):
        with st.transaction() as txn:
            txn.commit(event(2))
            raise RuntimeError("feature bug")
    assert state_mod.sequence(state_mod.load(st.state_path)) == 1  # snapshot not written
    with st.transaction() as txn:
        assert txn.last_seq == 2 and state_mod.sequence(txn.state) == 2
        txn.commit(event(3))
    assert assert_consistent(st)["execution"]["tools"]["calls"] == 3


def test_catch_up_after_crash_between_append_and_snapshot(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit(event(1))
    snapshot = Path(st.state_path).read_bytes()
    with st.transaction() as txn:
        txn.commit(event(2))
        txn.commit(event(3))
    Path(st.state_path).write_bytes(snapshot)  # as if killed after the appends, before the snapshot
    with st.transaction() as txn:
        assert state_mod.sequence(txn.state) == 3 and txn.dirty and not txn.repairs
    saved = assert_consistent(st)
    assert saved["execution"]["tools"]["calls"] == 3


def test_state_missing_rebuilt_from_log(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        for n in range(4):
            txn.commit(event(n))
    expected = state_mod.load(st.state_path)
    Path(st.state_path).unlink()
    with st.transaction() as txn:
        assert txn.state == expected and txn.last_seq == 4 and not txn.fresh
    assert state_mod.load(st.state_path) == expected


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"[1,2,3]", b'{"session":{}}', b"\xff\xfe"])
def test_unreadable_state_rebuilt_and_original_quarantined(layout, garbage):
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit(event(1))
        txn.commit(event(2))
    expected = state_mod.load(st.state_path)
    Path(st.state_path).write_bytes(garbage)
    with st.transaction() as txn:
        assert txn.state == expected
        [repair] = txn.repairs  # rebuilt from the log: nothing lost
        assert (repair["code"], repair["severity"]) == ("STATE_REPAIRED", "info") and "unreadable" in repair["text"]
        txn.commit(event(3))
    assert [p.read_bytes() for p in quarantine_files(layout)] == [garbage]
    index = (layout.quarantine_dir / "index.jsonl").read_text().splitlines()
    assert len(index) == 1 and json.loads(index[0])["from"] == str(st.state_path)
    assert assert_consistent(st)["persistence"]["checkpoint"]["sequence"] == 3


def test_torn_log_tail_quarantined_and_reported(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit(event(1))
    fragment = eventlog.encode({"seq": 2, "event": "PostToolUse"})[:20]
    with open(st.log_path, "ab") as f:
        f.write(fragment)
    with st.transaction() as txn:
        [repair] = txn.repairs  # a line no hook finished writing: never a committed event
        assert (repair["code"], repair["severity"]) == ("LOG_TORN_LINE", "low") and "unfinished" in repair["text"]
        txn.commit(event(2))
    assert [p.read_bytes() for p in quarantine_files(layout)] == [fragment]
    assert [r["seq"] for r in log_records(st)] == [1, 2]
    assert_consistent(st)


def test_lock_busy_times_out_within_bound(layout):
    st = SessionStore(layout, SID, lock_timeout=0.05, reducers=FEATURES)
    st.ensure_dirs()
    with SessionLock(st.lock_path, 1.0):
        with pytest.raises(LockTimeout):
            with st.transaction():
                pytest.fail("entered a transaction while another process holds the lock")


def test_spool_when_lock_busy_then_drained_exactly_once(layout):
    st = SessionStore(layout, SID, lock_timeout=0.05, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit(event(1))
    with SessionLock(st.lock_path, 1.0):
        for n in (2, 3):
            with pytest.raises(LockTimeout):
                with st.transaction() as txn:
                    txn.commit(event(n))
            st.spool(event(n))
    spool_dir = layout.session_spool(SID)
    assert len(os.listdir(spool_dir)) == 2
    assert [r["seq"] for r in log_records(st)] == [1]
    with st.transaction() as txn:  # the next hook drains the spool first, in order
        txn.commit(event(4))
    assert os.listdir(spool_dir) == []
    assert [r["input"]["command"] for r in log_records(st)] == ["echo 1", "echo 2", "echo 3", "echo 4"]
    with st.transaction() as txn:
        txn.commit(event(5))
    assert [r["seq"] for r in log_records(st)] == [1, 2, 3, 4, 5]
    assert_consistent(st)


def test_spool_not_duplicated_after_crash_before_unlink(layout, monkeypatch):
    """Killed after committing a spooled record but before deleting its file: not committed twice."""
    st = SessionStore(layout, SID, reducers=FEATURES)
    path = Path(st.spool(event(1)))
    kept = path.read_bytes()

    class Killed(BaseException):
        pass

    def crash(_path):
        raise Killed()

    monkeypatch.setattr(store_mod.os, "unlink", crash)
    with pytest.raises(Killed):
        with st.transaction():
            pass
    monkeypatch.undo()
    assert path.read_bytes() == kept  # still there
    assert not Path(st.state_path).exists()  # and the snapshot was never written
    with st.transaction() as txn:
        txn.commit(event(2))
    assert [r["input"]["command"] for r in log_records(st)] == ["echo 1", "echo 2"]
    assert not path.exists()
    assert_consistent(st)


def test_unreadable_spool_file_quarantined_not_deleted(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    good = Path(st.spool(event(1)))
    bad = good.with_name("00000000000000000000-1-abcdef.json")
    bad.write_bytes(b"{torn")
    not_object = good.with_name("00000000000000000001-1-abcdef.json")
    not_object.write_bytes(b"[1]")
    with st.transaction() as txn:
        txn.commit(event(2))
    assert sorted(p.read_bytes() for p in quarantine_files(layout)) == [b"[1]", b"{torn"]
    assert [r["input"]["command"] for r in log_records(st)] == ["echo 1", "echo 2"]
    assert os.listdir(good.parent) == []


def test_state_equals_replay_across_mixed_events(layout):
    st = SessionStore(layout, SID, reducers=FEATURES)
    kinds = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
             "SubagentStart", "SubagentStop", "PreCompact", "Stop", "SessionEnd"]
    for i, kind in enumerate(kinds * 3):
        rec = {"event": kind, "tool": "Bash", "agent": f"a{i // 10}", "agent_type": "x", "source": "startup"}
        if i % 4 == 0:
            rec["notices"] = [{"code": "X", "kind": "context", "message": "m"}]
        with st.transaction() as txn:
            txn.commit(rec)
    saved = assert_consistent(st)
    assert saved["session"]["lifecycle"]["status"] == "ended"
    assert saved["persistence"]["event_log"]["total_events"] == 30


def test_hostile_session_ids_stay_inside_the_state_folder(layout):
    for sid in ("../../etc/passwd", "a/b", "..", "", "x\x00y", "é" * 200, "/abs"):
        st = SessionStore(layout, sid, reducers=FEATURES)
        with st.transaction() as txn:
            txn.commit(event(1))
        for path in map(Path, (st.state_path, st.log_path, st.lock_path, layout.spool_path(sid))):
            assert path.parent == layout.state_dir or path.parent == layout.spool_dir
            assert path.resolve().is_relative_to(layout.state_dir.resolve())
        assert_consistent(st)


# -- the snapshot is written without fsync (state.save): what a power loss can leave -----------


def test_snapshot_is_replaced_without_fsync_but_the_log_is_synced(layout, monkeypatch):
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))))
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(("fdatasync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                     real_fdatasync(fd)))
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit(event(1))
    assert synced == [("fdatasync", str(st.log_path))]
    assert state_mod.load(st.state_path)["persistence"]["checkpoint"]["sequence"] == 1


def test_an_empty_snapshot_a_power_loss_left_is_rebuilt_from_the_log(layout):
    """An unsynced snapshot may come back empty after a power loss (one left older is caught up
    like after a crash: test_catch_up_after_crash_between_append_and_snapshot)."""
    st = SessionStore(layout, SID, reducers=FEATURES)
    with st.transaction() as txn:
        txn.commit(event(1))
        txn.commit(event(2))
    Path(st.state_path).write_bytes(b"")  # the sync never happened
    with st.transaction() as txn:
        repairs = txn.repairs
        assert state_mod.sequence(txn.state) == 2  # nothing lost: rebuilt from the log
        txn.commit(event(3))
    assert [r["severity"] for r in repairs] == ["info"]  # lost nothing: info
    assert_consistent(st)
