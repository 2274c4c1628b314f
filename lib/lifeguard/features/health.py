"""Health checks, repair, cleanup and backups at each lifecycle point.

- SessionStart (startup, resume, clear, compact): repair this session (deep validation),
  archive stale sessions, repair the other sessions' files, graded cleanup, log compaction,
  then the eight health checks, recorded as a `LifeguardHealth` event with their timings.
  The model gets one line of additionalContext when something was repaired; the user a
  systemMessage.
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

HEALTH_EVENT = "LifeguardHealth"
CLEANUP_EVENT = "LifeguardCleanup"
CHECKPOINT_EVENTS = ("PreCompact", "Stop")
HOT_EVENTS = ("PreToolUse", "PostToolUse")
REPAIRS_KEEP = 20
SWEEP_CACHE = "health-sweep.json"


# -- reducer -------------------------------------------------------------------------------


def apply(state: dict, record: dict) -> None:
    event = record.get("event")
    if event == CLEANUP_EVENT:
        from ..upkeep.cleanup import apply_cleanup

        apply_cleanup(state, record)
    elif event == HEALTH_EVENT:
        observability = state.setdefault("observability", {})
        health = observability.get("health")
        if not isinstance(health, dict):
            health = observability["health"] = {}
        health["system_status"] = record.get("status", "unknown")
        health["checks"] = record.get("checks") or {}
        health["last_check"] = {"seq": record.get("seq"), "ts": record.get("ts")}
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


def _limits(cfg: dict) -> dict:
    from ..config.load import DEFAULTS  # already loaded by the handler: no new import on the hot path

    limits = cfg.get("limits") if isinstance(cfg, dict) else None
    return {**DEFAULTS["limits"], **(limits if isinstance(limits, dict) else {})}


def on_tool_use(txn, cfg: dict, layout) -> list[dict]:
    """Cheap checks only: free disk (statvfs) and the state file's size (stat)."""
    import shutil

    limits = _limits(cfg)
    session_id = txn.store.session_id
    notices = []
    try:
        free = shutil.disk_usage(layout.state_dir).free
    except OSError:
        free = None
    if free is not None and free < limits["min_free_disk_bytes"] and _once(layout, session_id, "disk"):
        notices.append({"code": "RESOURCE_EXHAUSTION", "kind": "user",
                        "user": f"lifeguard: only {free // (1024 * 1024)} MiB free on the disk holding "
                                f"{layout.state_dir}; free some space or lifeguard will stop saving its state."})
    try:
        size = os.stat(txn.store.state_path).st_size
    except OSError:
        size = 0
    if size > limits["state_size_bytes"] and _once(layout, session_id, "size"):
        notices.append({"code": "STATE_SIZE_LIMIT_EXCEEDED", "kind": "user",
                        "user": f"lifeguard: this session's state is {size // 1024} KiB (limit "
                                f"{limits['state_size_bytes'] // 1024} KiB); it is cleaned up at the next stop."})
    return notices


def _once(layout, session_id: str, code: str) -> bool:
    """True the first time `code` is raised for this session (a marker file remembers)."""
    from ..core.paths import safe_name

    path = layout.state_dir / f"notified-{safe_name(session_id)}-{code}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return False
    except OSError:
        return True
    os.close(fd)
    return True


# -- cleanup and compaction (shared by SessionStart, PreCompact, Stop) ---------------------------


def upkeep(txn, cfg: dict, layout) -> list[str]:
    """Graded cleanup and log compaction for this session; returns what was done."""
    import shutil

    from ..upkeep import cleanup
    from ..store import state as state_mod

    limits = _limits(cfg)
    done = []
    try:
        free = shutil.disk_usage(layout.state_dir).free
    except OSError:
        free = None
    level = cleanup.assess(len(state_mod.dump(txn.state)), free, limits)
    if level is not None:
        rec, archive = cleanup.run_cleanup(txn, layout, level)
        if rec is not None:
            done.append(f"{level} cleanup: {len(rec.get('drop_tasks', ()))} task(s) archived to {archive}")
    session_id = txn.store.session_id
    if cleanup.events_in_log(layout, session_id, txn.last_seq) > limits["event_count"]:
        moved = cleanup.compact(layout, session_id, txn.state, txn.last_seq)
        done.append(f"compacted the event log into a snapshot at event {txn.last_seq}"
                    + (f" (old segment archived as {moved.name})" if moved else ""))
    return done


def on_checkpoint(txn, event: str, cfg: dict, layout) -> list[dict]:
    from ..upkeep import backup
    from ..store import state as state_mod

    limits = _limits(cfg)
    done = upkeep(txn, cfg, layout)
    state_mod.save(txn.store.state_path, txn.state)  # the checkpoint copies a current state file
    backup.checkpoint_session(layout, txn.store.session_id, limits["checkpoints_kept"], seq=txn.last_seq,
                              reason=event)
    age = backup.newest_auto_backup_age(layout, "auto")
    if event == "PreCompact" or age is None or age > limits["backup_interval_minutes"] * 60:
        backup.create_backup(layout, "auto", reason=f"automatic backup at {event}")
        backup.prune_backups(layout, limits["backups_kept"], name="auto")
    if any(d.startswith("emergency") for d in done):
        return [{"code": "STATE_SIZE_LIMIT_EXCEEDED", "kind": "user",
                 "user": "lifeguard: emergency cleanup: " + "; ".join(done)
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


def _sweep_others(layout, session_id: str, limits: dict, reducers) -> tuple[list, list]:
    """Archive stale sessions, then repair the others whose files changed since the last sweep."""
    import json

    from ..upkeep import cleanup, repair
    from ..core import fsutil
    from ..core.locking import LockTimeout
    from ..core.paths import safe_name

    archived = cleanup.archive_stale_sessions(layout, session_id, limits)
    cleanup.quarantine_abandoned_temp_files(layout)  # clutter from writers killed mid-write
    cache_path = layout.state_dir / SWEEP_CACHE
    try:
        cache = json.loads(fsutil.read_bytes_nofollow(cache_path))
        cache = cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        cache = {}
    reports, fresh_cache = [], {}
    backed_up = False
    for other in repair.session_ids(layout):
        if other == safe_name(session_id):
            continue
        key = _fingerprint(layout, other)
        if key is not None and cache.get(other) == key:
            fresh_cache[other] = key
            continue
        try:
            report = repair.repair_session(layout, other, deep=True, backup_first=not backed_up, lock_timeout=0.5,
                                           reducers=reducers)
        except LockTimeout:
            continue  # in use by a running hook: next time
        backed_up = backed_up or report.backup is not None
        if report.repaired:
            reports.append(report)
        if not report.still_failing:
            fresh_cache[other] = _fingerprint(layout, other)
    try:
        fsutil.atomic_write(cache_path, json.dumps(fresh_cache).encode())
    except OSError:
        pass
    return archived, reports


def _fingerprint(layout, session_id: str) -> list | None:
    from ..store import snapshot as logsnapshot

    out = []
    for path in (layout.session_file(session_id), layout.event_log(session_id),
                 logsnapshot.path_for(layout.event_log(session_id))):
        try:
            st = os.stat(path)
            out.append([st.st_size, st.st_mtime_ns, st.st_ino])
        except OSError:
            out.append(None)
    return out if any(out) else None


def on_session_start(txn, record: dict, cfg: dict, layout) -> list[dict]:
    from ..upkeep import checks as health

    limits = _limits(cfg)
    session_id = txn.store.session_id
    started = time.perf_counter()
    own = _repair_own(txn, layout)
    archived, others = _sweep_others(layout, session_id, limits, txn.store.reducers)
    done = upkeep(txn, cfg, layout)
    results = health.run_checks(layout, session_id, txn.store.reducers, full=True, state=txn.state, cfg=cfg)
    repairs = list(txn.repairs)
    if own.repaired:
        repairs.append(own.summary())
    repairs += [r.summary() for r in others]
    if archived:
        repairs.append(f"archived {len(archived)} stale session(s) to {archived[0].parent}")
    repairs += done
    txn.commit({"event": HEALTH_EVENT, "status": health.overall(results), "checks": health.summary(results),
                "repairs": [r[:300] for r in repairs], "ms": round((time.perf_counter() - started) * 1000, 1)})
    notices = []
    failing = [r for r in results if r.status == "fail"]
    if repairs:
        model_line = "lifeguard repaired its state at session start: " + " | ".join(repairs)
        notices.append({"code": "SESSION_CORRUPTED" if (own.repaired or txn.repairs) else "STATE_SIZE_EXCEEDED",
                        "kind": "context", "model": model_line[:1000].replace("\n", " ")})
        mine = repairs[len(txn.repairs):]  # the store's own repairs are already told by the handler
        if mine:
            notices.append({"code": "SESSION_CORRUPTED", "kind": "user", "user": "lifeguard: " + "; ".join(mine)})
    if own.level == "lost":
        notices.append({"code": "SESSION_CORRUPTED", "kind": "user",
                        "user": f"lifeguard: this session's saved state could not be recovered and was started "
                                f"clean; earlier history is lost. The damaged files are kept in {layout.quarantine_dir}."})
    if failing:
        notices.append({"code": "STATE_VALIDATION_FAILED", "kind": "user",
                        "user": "lifeguard health: " + "; ".join(f"{r.name}: {r.message}" for r in failing)[:600]})
    return notices
