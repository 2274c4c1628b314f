"""The recovery decision tree: none / minor / major / critical / lost, and what is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.upkeep import backup, jsonrepair, repair
from lifeguard.store import snapshot as logsnapshot, reducer, state as state_mod
from lifeguard.core.paths import Layout
from lifeguard.store.session import SessionStore

SID = "sess-r"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".claude")


def commit(layout: Layout, n: int, sid: str = SID, **extra) -> dict:
    with SessionStore(layout, sid, reducers=FEATURES).transaction() as txn:
        for i in range(n):
            txn.commit({"event": "PostToolUse", "tool": f"T{i % 3}", **extra})
    return state_mod.load(layout.session_file(sid))


def quarantined_bytes(layout: Layout) -> list[bytes]:
    return [p.read_bytes() for p in sorted(layout.quarantine_dir.iterdir()) if p.name != "index.jsonl"]


def assert_consistent(layout: Layout, sid: str = SID) -> dict:
    """The state file loads, validates and equals a replay of its (snapshot +) log, gap-free."""
    state = state_mod.load(layout.session_file(sid))
    assert state is not None
    from lifeguard.upkeep.schema import validate_state

    assert validate_state(state) == []
    view = repair.LogView(layout, sid, FEATURES)
    assert view.complete, view.problems()
    assert view.replay == state
    return state


# -- json repair -------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ('{"a":1,"b":[1,2,],}', {"a": 1, "b": [1, 2]}),
    ('{"a":"x,]","b":{"c":[1,2', {"a": "x,]", "b": {"c": [1]}}),
    ('{"a":1,"b":{"c":"unterminat', {"a": 1, "b": {}}),
    ('{"a":1,"b":tru', {"a": 1}),
    ('{"a":"\\"},",', {"a": '"},'}),
])
def test_json_repair(text, expected):
    assert jsonrepair.repair(text) == expected


@pytest.mark.parametrize("text", ["garbage", "[1,2]", "", "\x00\x01"])
def test_json_repair_gives_up_on_non_objects(text):
    assert jsonrepair.repair(text) is None


# -- the ladder --------------------------------------------------------------------------------


def test_healthy_session_is_left_alone(layout):
    before = commit(layout, 4)
    raw = layout.session_file(SID).read_bytes()
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "none" and not report.repaired and report.backup is None
    assert layout.session_file(SID).read_bytes() == raw and before == assert_consistent(layout)


def test_state_behind_log_is_caught_up_quietly(layout):
    commit(layout, 2)
    lagging = layout.session_file(SID).read_bytes()
    commit(layout, 2)
    layout.session_file(SID).write_bytes(lagging)
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "none"
    assert state_mod.sequence(assert_consistent(layout)) == 4


def test_minor_trailing_comma_repaired_in_place(layout):
    good = commit(layout, 3)
    raw = layout.session_file(SID).read_bytes()
    broken = raw[:-1] + b",}"
    layout.session_file(SID).write_bytes(broken)
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "minor", report.summary()
    assert assert_consistent(layout) == good
    assert broken in quarantined_bytes(layout)  # the original is kept
    assert report.backup and (Path(report.backup) / layout.session_file(SID).name).read_bytes() == broken


def test_minor_missing_section_filled_from_defaults(layout):
    good = commit(layout, 3)
    damaged = dict(good)
    del damaged["communication"]
    layout.session_file(SID).write_text(json.dumps(damaged))
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "minor" and "communication" in report.summary()
    assert assert_consistent(layout) == good


def test_major_truncated_state_rebuilt_from_log(layout):
    good = commit(layout, 6)
    raw = layout.session_file(SID).read_bytes()
    layout.session_file(SID).write_bytes(raw[: len(raw) // 3])
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "major" and report.events_kept == 6
    assert assert_consistent(layout) == good
    assert raw[: len(raw) // 3] in quarantined_bytes(layout)


def test_major_damaged_log_line_rebuilds_and_rebases(layout):
    commit(layout, 5)
    log = layout.event_log(SID)
    lines = log.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"PostToolUse", b"PostToolUsX")  # CRC now fails: event 3 is lost
    log.write_bytes(b"\n".join(lines))
    layout.session_file(SID).write_bytes(b"not json at all")
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "major" and "damaged" in report.summary()
    state = assert_consistent(layout)  # the gap is gone: the log was rebased on a snapshot
    assert state_mod.sequence(state) == 5 and state["execution"]["tools"]["calls"] == 4
    assert logsnapshot.read(log).seq == 5
    commit(layout, 1)  # and it carries on at 6
    assert state_mod.sequence(assert_consistent(layout)) == 6


def test_critical_restores_newest_valid_checkpoint_and_replays_later_events(layout):
    commit(layout, 3)
    backup.checkpoint_session(layout, SID, keep=3, seq=3)
    commit(layout, 2)
    expected = state_mod.load(layout.session_file(SID))
    log = layout.event_log(SID)
    lines = log.read_bytes().split(b"\n")
    lines[0] = b"garbage line"  # event 1 gone: the log alone cannot rebuild
    log.write_bytes(b"\n".join(lines))
    layout.session_file(SID).write_bytes(b"\x00\x00")
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "critical", report.summary()
    assert "replayed 2 later event(s)" in report.summary()
    assert assert_consistent(layout) == expected


def test_lost_when_nothing_usable(layout):
    commit(layout, 2)
    layout.session_file(SID).write_bytes(b"\xff garbage")
    layout.event_log(SID).write_bytes(b"junk\nmore junk\n")
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.level == "lost"
    assert "data was lost" in report.summary() and str(layout.quarantine_dir) in report.summary()
    assert not layout.session_file(SID).exists() and not layout.event_log(SID).exists()
    assert b"\xff garbage" in quarantined_bytes(layout)
    assert b"junk\nmore junk\n" in quarantined_bytes(layout)
    commit(layout, 1)  # a clean start
    assert state_mod.sequence(assert_consistent(layout)) == 1


def test_still_failing_is_marked_for_manual_review(layout):
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:  # an incident whose kind is not a string
        txn.commit({"event": "PostToolUse", "notices": [{"code": "X", "kind": 5}]})
    layout.session_file(SID).write_bytes(b"{")
    report = repair.repair_session(layout, SID, reducers=FEATURES)
    assert report.still_failing and any("kind" in p for p in report.still_failing)
    lines = (layout.state_dir / "manual-review.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["session"] == SID
    assert state_mod.sequence(state_mod.load(layout.session_file(SID))) == 1  # kept, not wiped


# Claude Code's session ids: a state rebuilt from its log alone records the id its file names hold
ONE, TWO, THREE = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e", "2c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f"


def test_repair_all_covers_every_session_with_one_backup(layout):
    commit(layout, 2, ONE)
    commit(layout, 2, TWO)
    commit(layout, 2, THREE)
    layout.session_file(ONE).write_bytes(b"{")
    layout.session_file(THREE).write_bytes(b"[]")
    reports = {r.session_id: r for r in repair.repair_all(layout, reducers=FEATURES)}
    assert set(reports) == {ONE, TWO, THREE}
    assert reports[TWO].level == "none" and reports[ONE].level == "major" == reports[THREE].level
    assert len([m for m in backup.list_backups(layout) if m["name"] == "pre-repair"]) == 1
    for sid in (ONE, TWO, THREE):
        assert_consistent(layout, sid)


def test_store_uses_the_ladder_for_an_unreadable_state(layout):
    commit(layout, 3)
    backup.checkpoint_session(layout, SID, keep=3, seq=3)
    layout.event_log(SID).write_bytes(b"")  # log emptied and state broken: only the checkpoint is left
    layout.session_file(SID).write_bytes(b"{{{")
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
        [repair] = txn.repairs  # restored from a checkpoint: bytes set aside, medium
        assert txn.last_seq == 3 and (repair["code"], repair["severity"]) == ("EVENTS_QUARANTINED", "medium")
        assert "restored the saved state" in repair["text"]
        txn.commit({"event": "Stop"})
    assert state_mod.sequence(assert_consistent(layout)) == 4


def test_log_view_reports_gaps(layout):
    commit(layout, 3)
    log = layout.event_log(SID)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2])
    view = repair.LogView(layout, SID, FEATURES)
    assert view.gaps == [(2, 3)] and not view.complete
    assert reducer.replay_log(log, SID, FEATURES) is not None
