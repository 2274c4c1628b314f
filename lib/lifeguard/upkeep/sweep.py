"""The sweep: upkeep of the workspace's other sessions, which SessionStart leaves for after its answer.

    sweep.run(layout, current_session, cfg, reducers) -> report dict, or None (another sweep ran on)

SessionStart's answer never waits for it: the health feature queues it (core/later.py) and it
runs in the resident helper's worker once the hook has answered, or in a detached process when
the hook ran in its own. Its cost grows with the number of sessions; the hook's does not.

STEPS, in order; each is one named function of a `Sweep` (which knows the layout, the session
that started, the limits, the time and the report), and a new kind of upkeep is one more step:
- archive idle sessions: a session with no event for `limits.archive_idle_hours` is moved, with
  all its files (state, snapshot, log, spool, checkpoints), into `archive/sessions/<id>-<stamp>/`
  and its lock file removed (cleanup.archive_session); a lock file left alone is removed too.
  Never for the number of sessions, never the session that started, never one a hook holds.
- drain stranded spools: records spooled by a session's last hooks (its lock was busy) wait in
  `spool/<id>/` until a transaction of that session commits them; no later hook of that session
  may come, so every other session's spool is brought into its log here (exactly once, in order:
  store.session.drain_all; an idle session's was brought in by the archiving, under its lock).
- repair changed sessions: the others whose files changed since the last sweep (a fingerprint of
  size, mtime and inode per file) are checked and repaired like `state_recovery.py repair`.
- quarantine abandoned temp files: left by writers killed mid-write.

One sweep at a time per workspace (`state/sweep.lock`; a second waits up to LOCK_WAIT seconds,
then leaves the work to the one running). Every step works one session at a time under that
session's lock, so a sweep cut short (killed, out of time) leaves each session done or untouched,
and the next sweep goes on from there. What it did is returned and written to SWEEP_FILE (with
the fingerprints); the health feature records it in the starting session's log. A step that
fails is named in the report's `failed` and the others still run.
"""

from __future__ import annotations

import json
import os
import time

from ..core import fsutil
from ..core.locking import LockTimeout, SessionLock
from ..core.paths import Layout, reachable, safe_name
from ..store import snapshot as logsnapshot
from ..store.session import drain_all, waiting
from . import cleanup, repair

SWEEP_FILE = "health-sweep.json"  # the fingerprints of the sessions last found healthy, and the last report
SWEEP_LOCK = "sweep.lock"
LOCK_WAIT = 10.0
REPAIR_LOCK_WAIT = 0.5  # a session a hook holds longer is left for the next sweep


class Sweep:
    def __init__(self, layout: Layout, current: str, limits: dict, reducers, now: float | None = None):
        self.layout, self.limits, self.reducers = layout, limits, reducers
        self.current = safe_name(current)
        self.now = time.time() if now is None else now
        self.report: dict = {"drained": {}, "archived": [], "locks_removed": 0, "repairs": [], "incidents": [], "quarantined": 0,
                             "failed": []}
        self.saved = _read(layout)

    def others(self) -> list[str]:
        return [s for s in repair.session_ids(self.layout) if s != self.current]

    # -- the steps ------------------------------------------------------------------------------

    def drain_spools(self) -> None:
        drained, _ = drain_all(self.layout, self.reducers, REPAIR_LOCK_WAIT, skip=self.current)
        self.report["drained"].update(drained)

    def archive_idle(self) -> None:
        idle_after = float(self.limits["archive_idle_hours"]) * 3600
        for session_id in self.others() + self._lock_only():
            last = cleanup.last_event_time(self.layout, session_id)
            if last is not None and self.now - last <= idle_after:
                continue
            reason = (f"no event for {(self.now - last) / 3600:.1f} h (limits.archive_idle_hours: "
                      f"{self.limits['archive_idle_hours']:g})" if last is not None else "a lock file alone")
            pending = waiting(self.layout.session_spool(session_id))  # brought into its log by the archiving
            outcome = cleanup.archive_session(self.layout, session_id, reason, idle_after, self.now, self.reducers)
            if outcome == "archived":
                self.report["archived"].append(session_id)
                if pending:
                    self.report["drained"][session_id] = pending
            elif outcome == "lock removed":
                self.report["locks_removed"] += 1

    def repair_changed(self) -> None:
        known = known_healthy(self.layout)
        healthy: dict = {}
        backed_up = False
        for session_id in self.others():
            key = fingerprint(self.layout, session_id)
            if key is not None and known.get(session_id) == key:
                healthy[session_id] = key
                continue
            try:
                result = repair.repair_session(self.layout, session_id, deep=True, backup_first=not backed_up,
                                               lock_timeout=REPAIR_LOCK_WAIT, reducers=self.reducers)
            except LockTimeout:
                continue  # in use by a running hook: next time
            backed_up = backed_up or result.backup is not None
            if result.repaired:
                self.report["repairs"].append(result.summary()[:300])
                self.report["incidents"].append(result.incident(result.summary()[:300]))
            if not result.still_failing:
                healthy[session_id] = fingerprint(self.layout, session_id)
        self.report["fingerprints"] = healthy

    def quarantine_temp_files(self) -> None:
        self.report["quarantined"] = len(cleanup.quarantine_abandoned_temp_files(self.layout, self.now))

    def _lock_only(self) -> list[str]:
        """Sessions of which only the lock file is left (what older versions left after archiving)."""
        try:
            names = os.listdir(self.layout.state_dir)
        except OSError:
            return []
        ids = {n[len("session-"):-len(".lock")] for n in names if n.startswith("session-") and n.endswith(".lock")}
        ids = {i for i in ids if reachable(i)}
        return sorted(ids - set(repair.session_ids(self.layout)) - {self.current})


STEPS = (
    ("archive idle sessions", Sweep.archive_idle),
    ("drain stranded spools", Sweep.drain_spools),
    ("repair changed sessions", Sweep.repair_changed),
    ("quarantine abandoned temp files", Sweep.quarantine_temp_files),
)


def run(layout: Layout, current: str, cfg, reducers, now: float | None = None) -> dict | None:
    """Sweep the workspace (see the module's doc); None when another sweep held the lock too long."""
    from ..config.load import section

    fsutil.ensure_private_dir(layout.state_dir)
    try:
        lock = SessionLock(layout.state_dir / SWEEP_LOCK, LOCK_WAIT)
        lock.acquire()
    except LockTimeout:
        return None
    try:
        sweep = Sweep(layout, current, section(cfg, "limits"), reducers, now)
        started = time.monotonic()
        for name, step in STEPS:
            try:
                step(sweep)
            except Exception as exc:  # noqa: BLE001 - one step's failure does not stop the others
                sweep.report["failed"].append(f"{name}: {type(exc).__name__}: {exc}"[:300])
        report = sweep.report
        fingerprints = report.pop("fingerprints", sweep.saved.get("fingerprints") or {})
        report.update(finished=time.time(), seconds=round(time.monotonic() - started, 3))
        try:
            fsutil.atomic_write(layout.state_dir / SWEEP_FILE,
                                json.dumps({"fingerprints": fingerprints, "last": report}).encode())
        except OSError:
            pass  # the next sweep checks every session again
    finally:
        lock.release()
    return report


def last_report(layout: Layout) -> dict | None:
    """What the last sweep did (SWEEP_FILE's `last`), None before the first."""
    last = _read(layout).get("last")
    return last if isinstance(last, dict) else None


def known_healthy(layout: Layout) -> dict:
    """session id -> its fingerprint when the last sweep checked it deeply and found it healthy."""
    found = _read(layout).get("fingerprints")
    return found if isinstance(found, dict) else {}


def fingerprint(layout: Layout, session_id: str) -> list | None:
    out = []
    for path in (layout.session_file(session_id), layout.event_log(session_id),
                 logsnapshot.path_for(layout.event_log(session_id))):
        try:
            st = os.stat(path)
            out.append([st.st_size, st.st_mtime_ns, st.st_ino])
        except OSError:
            out.append(None)
    return out if any(out) else None


def _read(layout: Layout) -> dict:
    try:
        saved = json.loads(fsutil.read_bytes_nofollow(layout.state_dir / SWEEP_FILE))
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}
