"""Fold event records into the session state. `replay` rebuilds a state from a whole log.

The reducers are given by the caller (the features' registry, `features.registry.FEATURES`):
each is an object with an optional `apply(state, record)`. This module imports no feature."""

from __future__ import annotations

import os

from . import eventlog
from .state import default_state


def apply(state: dict, record: dict, reducers) -> None:
    for feature in reducers:
        fn = getattr(feature, "apply", None)
        if fn is not None:
            fn(state, record)


def replay(records, session_id: str, reducers, state: dict | None = None) -> dict | None:
    """The state the records produce (from `state`, e.g. a snapshot's), or None if there is nothing."""
    for record in records:
        if state is None:
            state = default_state(session_id, record.get("ts") or "")
        apply(state, record, reducers)
    return state


def replay_log(path: str | os.PathLike, session_id: str, reducers, report: eventlog.ReadReport | None = None) -> dict | None:
    """Replay a session's log, starting from its snapshot (`logsnapshot`) when there is one.

    Lines at or below the snapshot's sequence number are already in it and are skipped. A
    damaged snapshot is reported in `report.snapshot_problem` and replay starts from nothing.
    """
    from . import snapshot as logsnapshot

    try:
        snap = logsnapshot.read(path)
    except logsnapshot.SnapshotDamaged as exc:
        snap = None
        if report is not None:
            report.snapshot_problem = str(exc)
    base = snap.seq if snap is not None else 0
    if report is not None:
        report.snapshot_seq = base
    records = (r for r in eventlog.iter_records(path, report) if r["seq"] > base)
    return replay(records, session_id, reducers, snap.state if snap is not None else None)
