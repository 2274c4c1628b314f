"""Health checks, repair, cleanup and backups at each lifecycle point.

- SessionStart (startup, resume, clear, compact): repair this session (deep validation) and
  run the eight health checks on it, recorded as a `LifeguardHealth` event with their timings.
  The model gets one line of additionalContext when something was repaired; the user a
  systemMessage. A new session (this event is its first) has nothing to repair: the checks
  are the cheap ones. Everything else is left for after the answer (core/later.py), so the
  hook costs the same with 0 or 1,000 other sessions: the sweep of the other sessions
  (upkeep/sweep.py: archive the idle ones, repair the changed ones, ...) and this session's
  graded cleanup and compaction, recorded as a `LifeguardSweep` event in this session's log.
- PreCompact and Stop: cleanup / compaction when over the limits, a session checkpoint
  (bounded number kept) and, at PreCompact or when the last one is older than the
  interval, a full backup with rotation.
- PreToolUse / PostToolUse: only cheap checks (statvfs and stat; no log read), each told
  to the user once per session.

Everything heavy (repair, pydantic via the schema) is imported lazily inside those paths.
"""

from __future__ import annotations

import os
import sys
import time
from ..alerts import codes
from ..config.load import section

HEALTH_EVENT = "LifeguardHealth"
SWEEP_EVENT = "LifeguardSweep"
CLEANUP_EVENT = "LifeguardCleanup"
CHECKPOINT_EVENTS = ("PreCompact", "Stop")
HOT_EVENTS = ("PreToolUse", "PostToolUse")
REPAIRS_KEEP = 20


# -- reducer -------------------------------------------------------------------------------


def apply(state: dict, record: dict) -> None:
    event = record.get("event")
    if event == CLEANUP_EVENT:
        from ..upkeep.cleanup import apply_cleanup

        apply_cleanup(state, record)
    elif event in (HEALTH_EVENT, SWEEP_EVENT):
        observability = state.setdefault("observability", {})
        health = observability.get("health")
        if not isinstance(health, dict):
            health = observability["health"] = {}
        if event == HEALTH_EVENT:
            health["system_status"] = record.get("status", "unknown")
            health["checks"] = record.get("checks") or {}
            health["last_check"] = {"seq": record.get("seq"), "ts": record.get("ts")}
        else:
            health["last_sweep"] = {"seq": record.get("seq"), "ts": record.get("ts"),
                                    "archived": record.get("archived", 0)}
        if record.get("repairs"):
            repairs = health.get("repairs") if isinstance(health.get("repairs"), list) else []
            repairs.append({"seq": record.get("seq"), "ts": record.get("ts"), "notes": record["repairs"]})
            health["repairs"] = repairs[-REPAIRS_KEEP:]


# -- after commit ----------------------------------------------------------------------------


def after_commit(txn, record: dict, cfg: dict, layout) -> list[dict]:
    event = record.get("event")
    try:
        if event == "SessionStart":
            return on_session_start(txn, record, cfg, layout)
        if event in CHECKPOINT_EVENTS:
            return on_checkpoint(txn, event, cfg, layout)
        if event in HOT_EVENTS:
            return on_tool_use(txn, cfg, layout)
    except OSError:
        raise  # persistence failures: the handler's memory-only mode takes over
    except Exception as exc:  # noqa: BLE001 - health upkeep must never cost the hook its answer
        sys.stderr.write(f"lifeguard: health upkeep at {event} failed: {type(exc).__name__}: {exc}\n")
    return []


def on_tool_use(txn, cfg: dict, layout) -> list[dict]:
    """Cheap checks only: free disk (statvfs) and the state file's size (stat)."""
    limits = section(cfg, "limits")
    session_id = txn.store.session_id
    notices = []
    free = free_bytes(layout.state)
    if free is not None and free < limits["min_free_disk_bytes"] and _once(layout, session_id, "disk"):
        notices.append({"code": codes.RESOURCE_EXHAUSTION, "kind": "user",
                        "user": f"lifeguard: only {free // (1024 * 1024)} MiB free on the disk holding "
                                f"{layout.state}; free some space or lifeguard will stop saving its state."})
    try:
        size = os.stat(txn.store.state_path).st_size
    except OSError:
        size = 0
    if size > limits["state_size_bytes"] and _once(layout, session_id, "size"):
        notices.append({"code": codes.STATE_SIZE_LIMIT_EXCEEDED, "kind": "user",
                        "user": f"lifeguard: this session's state is {size // 1024} KiB (limit "
                                f"{limits['state_size_bytes'] // 1024} KiB); it is cleaned up at the next stop."})
    return notices


def free_bytes(folder) -> int | None:
    """Bytes free for us on the disk holding `folder` (shutil.disk_usage's figure, without
    importing shutil, which brings bz2 and lzma: milliseconds on every tool call without the
    resident helper); None when it cannot be had."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _once(layout, session_id: str, code: str) -> bool:
    """True the first time `code` is raised for this session (a marker file remembers)."""
    from ..core.paths import safe_name

    path = os.path.join(layout.state, f"notified-{safe_name(session_id)}-{code}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return False
    except OSError:
        return True
    os.close(fd)
    return True


# -- cleanup and compaction (shared by SessionStart, PreCompact, Stop) ---------------------------


def upkeep(txn, cfg: dict, layout) -> list[dict]:
    """Graded cleanup and log compaction for this session; returns what was done, one incident
    each ({"code", "severity", "text"}): nothing is lost, so info (an emergency cleanup: low)."""
    from ..upkeep import cleanup
    from ..store import state as state_mod

    limits = section(cfg, "limits")
    done = []
    free = free_bytes(layout.state)
    level = cleanup.assess(len(state_mod.dump(txn.state)), free, limits)
    if level is not None:
        rec, archive = cleanup.run_cleanup(txn, layout, level)
        if rec is not None:
            done.append({"code": codes.STATE_SIZE_LIMIT_EXCEEDED, "severity": "low" if level == "emergency" else "info",
                         "text": f"{level} cleanup: {len(rec.get('drop_tasks', ()))} task(s) archived to {archive}"})
    session_id = txn.store.session_id
    if cleanup.events_in_log(layout, session_id, txn.last_seq) > limits["event_count"]:
        moved = cleanup.compact(layout, session_id, txn.state, txn.last_seq)
        done.append({"code": codes.LOG_COMPACTED, "severity": "info",
                     "text": f"compacted the event log into a snapshot at event {txn.last_seq}"
                             + (f" (old segment archived as {moved.name})" if moved else "")})
    return done


def on_checkpoint(txn, event: str, cfg: dict, layout) -> list[dict]:
    from ..upkeep import backup
    from ..store import state as state_mod

    limits = section(cfg, "limits")
    done = upkeep(txn, cfg, layout)
    state_mod.save(txn.store.state_path, txn.state)  # the checkpoint copies a current state file
    backup.checkpoint_session(layout, txn.store.session_id, limits["checkpoints_kept"], seq=txn.last_seq,
                              reason=event)
    age = backup.newest_auto_backup_age(layout, "auto")
    if event == "PreCompact" or age is None or age > limits["backup_interval_minutes"] * 60:
        backup.create_backup(layout, "auto", reason=f"automatic backup at {event}")
        backup.prune_backups(layout, limits["backups_kept"], name="auto")
    if any(d["text"].startswith("emergency") for d in done):
        return [{"code": codes.STATE_SIZE_LIMIT_EXCEEDED, "severity": "low", "kind": "user",
                 "user": "lifeguard: " + "; ".join(d["text"] for d in done)
                         + ". Only active agents and open tasks were kept; the rest is in the archive."}]
    return []


# -- SessionStart ------------------------------------------------------------------------------


def _repair_own(txn, layout) -> "object":
    """Deep-check this session (the store already fixed a torn tail / unreadable file) and
    adopt whatever the repair left on disk."""
    from ..upkeep import repair
    from ..store import reducer
    from ..store import state as state_mod

    state_mod.save(txn.store.state_path, txn.state)  # the file is current before it is judged
    report = repair.repair_locked(layout, txn.store.session_id, deep=True, backup_first=True,
                                  reducers=txn.store.reducers)
    if report.level == "none":
        return report
    loaded = state_mod.load(txn.store.state_path)
    if loaded is None:
        loaded = reducer.replay_log(txn.store.log_path, txn.store.session_id, txn.store.reducers)
    if loaded is None:  # a clean start: the next commit begins a new log
        txn.state = state_mod.default_state(txn.store.session_id, "")
        txn.last_seq, txn.fresh, txn.dirty = 0, True, False
    else:
        txn.state, txn.last_seq = loaded, state_mod.sequence(loaded)
    return report


def after_answer(layout, session_id: str, cfg: dict, reducers) -> None:
    """SessionStart's work once the hook has answered: the sweep of the other sessions, then this
    session's graded cleanup and compaction, recorded together as a `LifeguardSweep` event (when
    the lock is busy, the sweep's part is spooled and the rest left to the next Stop)."""
    from ..core.locking import LockTimeout
    from ..store.session import SessionStore
    from ..upkeep import sweep

    if not layout.state_dir.is_dir():
        return  # removed since the hook ran (a scratch workspace, e.g. doctor's): nothing to sweep
    report = sweep.run(layout, session_id, cfg, reducers) or {}
    record = {"event": SWEEP_EVENT, "drained": sum(report.get("drained", {}).values()),
              "archived": len(report.get("archived", ())),
              "locks_removed": report.get("locks_removed", 0), "quarantined": report.get("quarantined", 0),
              "repairs": report.get("repairs", []), "failed": report.get("failed", [])}
    # `state_recovery.py incidents` lists them, each with its code and severity; no one is interrupted
    found = list(report.get("incidents", ()))
    if record["archived"]:
        found.append({"code": codes.SESSIONS_ARCHIVED, "severity": "info",
                      "text": f"archived {record['archived']} idle session(s) to {layout.archive_dir}"})
    worth = any(record[k] for k in ("drained", "archived", "locks_removed", "quarantined", "repairs", "failed"))
    store = SessionStore(layout, session_id, cfg["locks"]["timeout_seconds"], reducers=reducers)
    try:
        with store.transaction() as txn:
            done = upkeep(txn, cfg, layout)
            found += txn.repairs  # damage met on opening (the hook that answered left it sound)
            if worth or done or txn.repairs:
                notices = [{"code": r["code"], "severity": r["severity"], "kind": "sweep", "message": r["text"]}
                           for r in found + done]
                txn.commit({**record, "repairs": record["repairs"] + [d["text"] for d in done],
                            **({"notices": notices} if notices else {})})
    except LockTimeout:
        if worth:
            store.spool(record)


def _said(incident: dict) -> str:
    if incident["code"] == codes.SESSION_CORRUPTED:
        return (f"lifeguard: {incident['text']}. That session's earlier history could not be recovered; "
                "the damaged files are kept in quarantine.")
    return f"lifeguard: {incident['text']}"


def on_session_start(txn, record: dict, cfg: dict, layout) -> list[dict]:
    from ..core import later
    from ..upkeep import checks as health

    session_id = txn.store.session_id
    started = time.perf_counter()
    new = txn.last_seq == 1  # this event is the session's first: nothing older to check or repair
    own = None if new else _repair_own(txn, layout)
    results = health.run_checks(layout, session_id, txn.store.reducers, full=not new, state=txn.state, cfg=cfg)
    # one incident per thing done, each with its own code and severity (docs/severity.md); the
    # store's own repairs (txn.repairs) are told by the handler, the sweep's after the answer
    found = [own.incident()] if own is not None and own.repaired else []
    txn.commit({"event": HEALTH_EVENT, "status": health.overall(results), "checks": health.summary(results),
                "repairs": [r["text"][:300] for r in list(txn.repairs) + found],
                "ms": round((time.perf_counter() - started) * 1000, 1)})
    later.add(after_answer, layout, session_id, cfg, txn.store.reducers)
    # for the user only: lifeguard's bookkeeping never changes the model's next step
    notices = [{"code": r["code"], "severity": r["severity"], "kind": "user", "user": _said(r)} for r in found]
    failing = [r for r in results if r.status == "fail"]
    if failing:
        notices.append({"code": codes.STATE_VALIDATION_FAILED, "kind": "user",
                        "user": "lifeguard health: " + "; ".join(f"{r.name}: {r.message}" for r in failing)[:600]})
    return notices
