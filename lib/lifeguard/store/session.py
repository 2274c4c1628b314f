"""One session's durable state: the event log is the truth, the state file its snapshot.

A hook opens a transaction: it takes the session lock (bounded wait), loads the state,
brings it up to date with any log lines it has not seen (a crash between append and
snapshot), drains the spool, lets the caller commit records, then writes the snapshot.

    with SessionStore(layout, session_id, reducers=FEATURES).transaction() as txn:
        txn.state            # current state (plain dict)
        txn.commit(record)   # append to the log (durable), then fold into the state

If the lock cannot be had in time, `spool()` keeps the record in a file of its own; the
next transaction appends it to the log, so a busy lock never loses an event.
"""

from __future__ import annotations

import os
import time

from . import eventlog, inflight, jsoncodec, reducer
from ..core import fsutil
from . import state as state_mod
from ..core import clock
from ..core.locking import LockTimeout, SessionLock
from ..core.paths import Layout, reachable
from ..alerts import codes

DEFAULT_LOCK_TIMEOUT = 2.0


class Transaction:
    def __init__(self, store: "SessionStore", state: dict, last_seq: int, fresh: bool = False):
        self.store = store
        self.state = state
        self.last_seq = last_seq
        self.fresh = fresh  # no state and no log yet: the first record fixes the start time
        self.dirty = False
        # what loading had to fix, one incident each: {"code", "severity", "text"} (docs/severity.md)
        self.repairs: list[dict] = []
        self.drained = 0  # records this transaction brought in from the spool

    def commit(self, record: dict) -> int:
        ts = record.get("ts") or clock.now_iso()
        given, record = record, {"seq": self.last_seq + 1, "ts": ts,
                                 **{k: v for k, v in record.items() if k not in ("seq", "ts")}}
        if self.fresh:  # so that the state always equals a replay of the log
            self.state = state_mod.default_state(self.store.session_id, ts)
            self.fresh = False
        with inflight.durable():  # the deadline cannot split "in the log" from "no longer held"
            eventlog.append(self.store.log_path, record)
            inflight.release(given)
        self.last_seq = record["seq"]
        reducer.apply(self.state, record, self.store.reducers)
        self.dirty = True
        return self.last_seq


class Opened:
    """The context manager of SessionStore.transaction and .locked: a class, as contextlib would
    cost a hook 0.5 ms to import. The lock (when it takes it) is let go however the block ends;
    the state is saved only when the block ended normally."""

    def __init__(self, store: SessionStore, lock: bool, planted: list[str] | tuple = ()) -> None:
        self.store = store
        self.lock = lock
        self.planted = planted
        self.session_lock: SessionLock | None = None
        self.txn: Transaction | None = None

    def __enter__(self) -> Transaction:
        store, planted = self.store, self.planted
        if self.lock:
            store.ensure_dirs()
            planted = store._move_planted()
            self.session_lock = SessionLock(store.lock_path, store.lock_timeout)
            self.session_lock.acquire()
        try:
            txn = store._open()
            txn.repairs[:0] = planted
            store._drain_spool(txn)
        except BaseException:
            self._unlock()
            raise
        self.txn = txn
        return txn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and self.txn.dirty:
                state_mod.save(self.store.state_path, self.txn.state)
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self.session_lock is not None:
            self.session_lock.release()


class SessionStore:
    def __init__(self, layout: Layout, session_id: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, *, reducers):
        self.layout = layout
        self.reducers = reducers  # what folds a record into the state: the features, in order
        self.session_id = session_id
        self.lock_timeout = lock_timeout
        self.state_path = layout.session_path(session_id)  # str, as the layout's (core/paths.py)
        self.log_path = layout.log_path(session_id)
        self.lock_path = layout.lock_path(session_id)

    def ensure_dirs(self) -> None:
        fsutil.ensure_private_dir(self.layout.state)

    def _move_planted(self) -> list[dict]:
        """Links (or other foreign entries) planted at this session's paths, moved into quarantine
        (the link itself, never its target), so the hook neither writes through them nor fails
        on them every time. Three lstat calls when all is well."""
        moved = (fsutil.quarantine_planted(self.layout.quarantine, path)
                 for path in (self.lock_path, self.state_path, self.log_path))
        return [planted_incident(note) for note in moved if note]

    def transaction(self) -> Opened:
        """`with store.transaction() as txn:` the session locked, its state loaded and caught up,
        the spool drained; at the end of a block that did not raise, the state saved if changed."""
        return Opened(self, lock=True)

    def locked(self, planted: list[str] | tuple = ()) -> Opened:
        """`transaction` for a caller that already holds this session's lock."""
        return Opened(self, lock=False, planted=planted)

    # -- loading -----------------------------------------------------------------

    def _open(self) -> Transaction:
        tail = eventlog.read_tail(self.log_path)
        repairs: list[dict] = []
        if tail.good_end < tail.size:  # a line a killed writer left unfinished: never a committed event
            moved = eventlog.repair_tail(self.log_path, tail, self.layout.quarantine)
            repairs.append({"code": codes.LOG_TORN_LINE, "severity": "low",
                            "text": f"moved {moved} bytes of an unfinished last line of the event log to "
                                    f"{self.layout.quarantine}"})
        try:
            state = state_mod.load(self.state_path)
        except state_mod.StateUnreadable as exc:
            from ..upkeep.repair import recover_unreadable  # rare: the recovery ladder (stdlib only)

            repairs.append(recover_unreadable(self.layout, self.session_id, str(exc), self.reducers))
            tail = eventlog.read_tail(self.log_path)
            state = state_mod.load(self.state_path)  # what the ladder left; None: replay or start clean
        if state is None:
            state = reducer.replay_log(self.log_path, self.session_id, self.reducers)
            fresh = state is None
            if fresh:
                state = state_mod.default_state(self.session_id, clock.now_iso())
            txn = Transaction(self, state, max(tail.last_seq, state_mod.sequence(state)), fresh)
            txn.dirty = not fresh
        else:
            seen = state_mod.sequence(state)
            txn = Transaction(self, state, max(seen, tail.last_seq))
            if tail.last_seq > seen:  # crashed between append and snapshot: catch up
                later = eventlog.read_after(self.log_path, seen)
                if later and later[0]["seq"] != seen + 1:  # the log was rebased past this state
                    txn.state = reducer.replay_log(self.log_path, self.session_id, self.reducers) or state
                else:
                    for record in later:
                        reducer.apply(state, record, self.reducers)
                txn.dirty = True
        txn.repairs = repairs
        return txn

    # -- spool -------------------------------------------------------------------

    def spool(self, record: dict) -> str:
        """Keep a record that could not be committed (lock busy) for the next transaction."""
        folder = self.layout.spool_path(self.session_id)
        for path in (self.layout.spool, folder):  # a planted link: moved aside, not written through
            fsutil.quarantine_planted(self.layout.quarantine, path, want_dir=True)
            fsutil.ensure_private_dir(path)
        given, record = record, dict(record)
        record.setdefault("ts", clock.now_iso())
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(3).hex()}.json"
        record["spool"] = name
        path = os.path.join(folder, name)
        with inflight.durable():
            fsutil.atomic_write(path, jsoncodec.dumps(record))
            inflight.release(given)
        return path

    def drain(self, held: bool = False) -> int:
        """Bring this session's spool into its log now (one short transaction; `held`: the caller
        holds the lock); how many records that committed. For a session no hook will come back
        to (see `drain_all`, and cleanup.archive_session)."""
        with (self.locked() if held else self.transaction()) as txn:
            return txn.drained

    def _drain_spool(self, txn: Transaction) -> None:
        folder = self.layout.spool_path(self.session_id)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except (FileNotFoundError, NotADirectoryError):
            return
        # os.listdir followed any link: a link planted at the spool must not make us read
        # and delete files elsewhere
        planted = [fsutil.quarantine_planted(self.layout.quarantine, path, want_dir=True)
                   for path in (self.layout.spool, folder)]
        if any(planted):
            txn.repairs.extend(planted_incident(note) for note in planted if note)
            return
        done = set(txn.state.get("persistence", {}).get("spool_done") or ())
        for name in names:
            path = os.path.join(folder, name)
            if name not in done:
                try:
                    record = jsoncodec.loads(fsutil.read_bytes_nofollow(path))
                except (OSError, ValueError, RecursionError):
                    record = None
                if not isinstance(record, dict):  # damaged bytes are kept, never deleted
                    fsutil.quarantine_file(self.layout.quarantine, path, "unreadable spool file")
                    continue
                record["spool"] = name
                txn.commit(record)
                txn.drained += 1
            os.unlink(path)


def waiting(folder: str | os.PathLike) -> int:
    """How many records wait in one session's spool folder (0 when there is none)."""
    try:
        return sum(1 for name in os.listdir(folder) if name.endswith(".json"))
    except OSError:
        return 0


def spooled(layout: Layout) -> dict[str, int]:
    """Session (its file-name id) -> how many records wait in its spool, for every spool that
    holds any. Links planted in the spool folder are not followed; folders of older versions
    named after a plain id are left alone (`paths.reachable`)."""
    try:
        entries = list(os.scandir(layout.spool))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found = {entry.name: waiting(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False) and reachable(entry.name)}
    return {name: count for name, count in sorted(found.items()) if count}


def drain_all(layout: Layout, reducers, lock_timeout: float, skip: str | None = None,
              only: str | None = None) -> tuple[dict[str, int], list[str]]:
    """Bring every session's spool into its log: the records of a session whose last hooks found
    its lock busy (a recovery tool held it while they ran) wait there until someone does. Each
    session is one transaction of its own, so the records go in exactly once and in order, as
    the session's next hook would have put them. Returns ({session: records committed},
    [sessions left because a hook holds their lock: it drains them itself]). `skip`: a session
    left out (the one whose hook runs this); `only`: that session alone."""
    drained, busy = {}, []
    for session_id in spooled(layout):
        if session_id == skip or (only is not None and session_id != only):
            continue
        try:
            count = SessionStore(layout, session_id, lock_timeout, reducers=reducers).drain()
        except LockTimeout:
            busy.append(session_id)
            continue
        if count:
            drained[session_id] = count
    return drained, busy


def planted_incident(note: str) -> dict:
    """A foreign entry moved aside (fsutil.quarantine_planted's line), as a repair incident."""
    return {"code": codes.FOREIGN_FILE_QUARANTINED, "severity": "low", "text": note}
