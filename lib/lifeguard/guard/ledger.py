"""The guard's memory: a hook's guard entry read from the session state, and each execution
committed as a "GuardedHook" event to the session's log (see features/guarded_hooks.py).

Reading takes no lock: the snapshot is replaced atomically, and the few log lines written
since are folded in on a copy. Writing is one short transaction; when the session lock is
busy the record goes to the spool, like any hook's, and the next transaction commits it.
"""

from __future__ import annotations

from ..store import eventlog
from ..store import state as state_mod
from ..features import guarded_hooks
from ..core.paths import Layout

LOCK_WAIT = 0.5  # seconds; the guard's own deadline is short


def read_entry(layout: Layout, session_id: str, name: str) -> dict:
    try:
        state = state_mod.load(layout.session_file(session_id))
    except (OSError, state_mod.StateUnreadable):
        state = None
    if state is None:
        return guarded_hooks.new_entry()
    try:
        for record in eventlog.read_after(layout.event_log(session_id), state_mod.sequence(state)):
            guarded_hooks.apply(state, record)
    except OSError:
        pass
    hooks = (state.get("execution") or {}).get("guarded_hooks") or {}
    entry = hooks.get(name)
    return entry if isinstance(entry, dict) else guarded_hooks.new_entry()


def record(layout: Layout, session_id: str, rec: dict) -> str:
    """Commit `rec`; returns "log" or "spool" (where it went)."""
    from ..core.locking import LockTimeout
    from ..features.registry import FEATURES
    from ..store.session import SessionStore

    store = SessionStore(layout, session_id, lock_timeout=LOCK_WAIT, reducers=FEATURES)
    try:
        with store.transaction() as txn:
            txn.commit(rec)
        return "log"
    except LockTimeout:
        store.spool(rec)
        return "spool"
