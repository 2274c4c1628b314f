"""The eight health checks, each separately, and the feature at the lifecycle points."""

from __future__ import annotations

import os

import json
import time
from pathlib import Path

import pytest

from lifeguard.config.load import section
from lifeguard.features.registry import FEATURES
from lifeguard.upkeep import backup, checks as health
from lifeguard.core import later
from lifeguard.store import eventlog, state as state_mod
from lifeguard.features import health as health_feature
from lifeguard.hook.pipeline import handle
from lifeguard.core.paths import Layout, safe_name
from lifeguard.store.session import SessionStore

SID = "sess-h"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".claude")


def fresh() -> dict:
    return state_mod.default_state(SID, "2026-01-01T00:00:00.000Z")


def ctx(layout: Layout, state: dict | None, full: bool = True, **limits) -> health.Ctx:
    return health.Ctx(layout, SID, state, {**section(None, "limits"), **limits}, full, tuple(FEATURES))


def commit(layout: Layout, n: int) -> dict:
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
        for _ in range(n):
            txn.commit({"event": "PostToolUse", "tool": "Bash"})
    return state_mod.load(layout.session_file(SID))


def test_state_consistency(layout):
    state = fresh()
    assert health.check_state_consistency(ctx(layout, state))[0] == "pass"
    state["execution"]["tasks"]["t1"] = {"assignee": "ghost"}
    state["execution"]["agents"]["active"]["a1"] = {"current_task": "t9"}
    state["communication"]["coordination"]["dependencies"]["graph"]["edges"] = [{"from": "x", "to": "y"}]
    status, message, details = health.check_state_consistency(ctx(layout, state))
    assert status == "warn" and len(details["issues"]) == 3 and "ghost" in message


def test_session_validity_deep_and_structural(layout):
    state = fresh()
    assert health.check_session_validity(ctx(layout, state))[0] == "pass"
    state["execution"]["tools"]["calls"] = "many"  # structurally fine, wrong type for the schema
    assert health.check_session_validity(ctx(layout, state, full=False))[0] == "pass"
    status, message, _ = health.check_session_validity(ctx(layout, state, full=True))
    assert status == "fail" and "calls" in message
    del state["persistence"]
    assert health.check_session_validity(ctx(layout, state, full=False))[0] == "fail"


def test_agent_responsiveness(layout):
    state = fresh()
    old = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 7200))
    new = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    state["execution"]["agents"]["active"] = {"slow": {"spawned_at": old}, "fine": {"spawned_at": new}}
    status, _, details = health.check_agent_responsiveness(ctx(layout, state, agent_silent_minutes=60))
    assert status == "warn" and details["agents"] == ["slow"]
    assert health.check_agent_responsiveness(ctx(layout, state, agent_silent_minutes=180))[0] == "pass"


def test_resource_availability(layout):
    state = commit(layout, 2)
    assert health.check_resource_availability(ctx(layout, state))[0] == "pass"
    status, message, _ = health.check_resource_availability(ctx(layout, state, state_size_bytes=10))
    assert status == "warn" and "limit 10" in message
    status, message, _ = health.check_resource_availability(ctx(layout, state, min_free_disk_bytes=1 << 62))
    assert status == "fail" and "free on disk" in message
    assert health.check_resource_availability(ctx(layout, state, event_count=1))[0] == "warn"


def test_persistence_integrity_full_and_incremental(layout):
    state = commit(layout, 3)
    assert health.check_persistence_integrity(ctx(layout, state))[0] == "pass"
    assert health.check_persistence_integrity(ctx(layout, state, full=False))[0] == "pass"
    edited = json.loads(json.dumps(state))
    edited["execution"]["tools"]["calls"] = 99
    status, message, _ = health.check_persistence_integrity(ctx(layout, edited))
    assert status == "fail" and "replay" in message
    with open(layout.event_log(SID), "ab") as f:
        f.write(b'{"seq":4,"to')
    assert health.check_persistence_integrity(ctx(layout, state, full=False))[0] == "warn"
    log = layout.event_log(SID)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2])  # event 2 missing: a gap
    status, message, details = health.check_persistence_integrity(ctx(layout, state))
    assert status == "fail" and "gap" in message and details["gaps"] == [(2, 3)]


def test_communication_flow(layout):
    state = fresh()
    assert health.check_communication_flow(ctx(layout, state))[0] == "pass"
    state["communication"]["message_queues"] = {"dead_letter": [{"m": 1}]}
    assert health.check_communication_flow(ctx(layout, state))[0] == "warn"
    state["communication"]["message_queues"] = {"a": list(range(20))}
    assert health.check_communication_flow(ctx(layout, state, pending_messages=10))[0] == "warn"
    spooled = SessionStore(layout, SID, reducers=FEATURES).spool({"event": "PostToolUse"})
    import os

    os.utime(spooled, (time.time() - 600, time.time() - 600))
    status, message, _ = health.check_communication_flow(ctx(layout, fresh()))
    assert status == "warn" and "spool" in message


def test_dependency_resolution(layout):
    state = fresh()
    state["execution"]["tasks"] = {"a": {"depends_on": ["b"]}, "b": {"depends_on": ["c"]}, "c": {}}
    assert health.check_dependency_resolution(ctx(layout, state))[0] == "pass"
    state["execution"]["tasks"]["c"] = {"depends_on": ["a"]}
    status, message, details = health.check_dependency_resolution(ctx(layout, state))
    assert status == "fail" and "circular" in message and details["cycle"][0] == details["cycle"][-1]
    for task in state["execution"]["tasks"].values():
        task["status"] = "blocked"
    assert "deadlock" in health.check_dependency_resolution(ctx(layout, state))[1]


def test_find_cycle_on_graph_edges():
    assert health.find_cycle({"a": {"b"}, "b": set()}) is None
    assert health.find_cycle({"a": {"b"}, "b": {"a"}}) in (["a", "b", "a"], ["b", "a", "b"])


def test_event_processing(layout):
    state = commit(layout, 2)
    assert health.check_event_processing(ctx(layout, state))[0] == "pass"
    behind = json.loads(json.dumps(state))
    behind["persistence"]["checkpoint"]["sequence"] = 1
    assert health.check_event_processing(ctx(layout, behind))[0] == "warn"
    layout.event_log(SID).write_bytes(b"garbage\n")
    assert health.check_event_processing(ctx(layout, state))[0] == "fail"


def test_run_checks_records_all_eight_with_timing(layout):
    commit(layout, 2)
    results = health.run_checks(layout, SID, FEATURES, full=True)
    assert [r.name for r in results] == [name for name, _ in health.CHECKS] and len(results) == 8
    assert all(r.status == "pass" and r.duration_ms >= 0 for r in results), results
    assert health.overall(results) == "healthy"


def test_a_crashing_check_is_a_failed_check(layout):
    def boom(_ctx):
        raise RuntimeError("bug")

    result = health.run_one("x", boom, ctx(layout, fresh()))
    assert result.status == "fail" and "RuntimeError" in result.message


# -- the feature ---------------------------------------------------------------------------------


def hook(layout: Layout, event: str, **extra) -> dict:
    return handle(event, {"session_id": SID, "hook_event_name": event, "cwd": "/w", **extra}, layout)


def test_session_start_records_health_and_reports_each_repair_by_its_consequence(layout):
    hook(layout, "SessionStart", source="startup")
    later.take()  # no other session yet: nothing for its sweep to do
    state = state_mod.load(layout.session_file(SID))
    checks = state["observability"]["health"]["checks"]
    assert set(checks) == {name for name, _ in health.CHECKS}
    assert all("ms" in c for c in checks.values())
    # now damage it: a truncated state, a torn line, another session's garbage file
    raw = layout.session_file(SID).read_bytes()
    layout.session_file(SID).write_bytes(raw[:200])
    with open(layout.event_log(SID), "ab") as f:
        f.write(b'{"seq":77,"event":"PostTo')
    layout.session_file("other").write_bytes(b"\x00garbage")
    out = hook(layout, "SessionStart", source="resume")
    assert "additionalContext" not in out["hookSpecificOutput"]  # nothing here changes the model's next step
    lines = out["systemMessage"].splitlines()
    assert any(line.startswith("lifeguard repaired this session's state, nothing lost") for line in lines)
    assert any("unfinished last line" in line for line in lines)
    assert f"session {safe_name('other')}" not in json.dumps(out)  # the other sessions are the sweep's, after the answer
    assert health.run_checks(layout, SID, FEATURES, full=True)[4].status == "pass"  # persistence integrity
    [record] = [r for r in eventlog.iter_records(layout.event_log(SID)) if r.get("event") == "SessionStart"][-1:]
    # this session: rebuilt, nothing lost (info); its torn tail never held an event (low)
    assert {(n["code"], n["severity"]) for n in record["notices"]} >= {("STATE_REPAIRED", "info"), ("LOG_TORN_LINE", "low")}
    for fn, args in later.take():
        fn(*args)
    [swept] = [r for r in eventlog.iter_records(layout.event_log(SID)) if r["event"] == "LifeguardSweep"]
    # the other session's garbage, with no log or backup behind it, could not be recovered: critical
    assert f"session {safe_name('other')}" in swept["repairs"][0]
    assert (swept["notices"][0]["code"], swept["notices"][0]["severity"]) == ("SESSION_CORRUPTED", "critical")
    assert state_mod.load(layout.session_file(SID))["observability"]["health"]["repairs"][-1]["notes"] == \
        swept["repairs"]


def test_stop_and_precompact_checkpoint_and_backup_with_rotation(layout):
    hook(layout, "SessionStart", source="startup")
    for _ in range(7):
        hook(layout, "Stop")
    assert len(backup.list_checkpoints(layout, SID)) == 5  # checkpoints_kept
    autos = [m for m in backup.list_backups(layout) if m["name"] == "auto"]
    assert len(autos) == 1  # the interval holds further full backups back
    for _ in range(4):
        hook(layout, "PreCompact", trigger="auto")
    autos = [m for m in backup.list_backups(layout) if m["name"] == "auto"]
    assert len(autos) == 3  # backups_kept


def test_hot_events_tell_the_user_once(layout, monkeypatch):
    hook(layout, "SessionStart", source="startup")
    import types

    real = os.statvfs
    monkeypatch.setattr(os, "statvfs", lambda p: types.SimpleNamespace(**{  # 1 KiB free
        name: getattr(real(p), name) for name in ("f_bsize", "f_frsize", "f_blocks")}, f_bfree=1, f_bavail=1))
    first = hook(layout, "PostToolUse", tool_name="Bash", tool_input={}, tool_response={})
    second = hook(layout, "PostToolUse", tool_name="Bash", tool_input={}, tool_response={})
    assert "free" in first.get("systemMessage", "")
    assert "free on the disk" not in second.get("systemMessage", "")


def test_feature_apply_is_deterministic():
    state = fresh()
    record = {"event": health_feature.HEALTH_EVENT, "seq": 1, "ts": "t", "status": "healthy",
              "checks": {"x": {"status": "pass"}}, "repairs": ["r"]}
    other = fresh()
    health_feature.apply(state, dict(record))
    health_feature.apply(other, dict(record))
    assert state == other and state["observability"]["health"]["repairs"][0]["notes"] == ["r"]
