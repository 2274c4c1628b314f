"""Fold event records into the session state. `replay` rebuilds a state from a whole log."""

from __future__ import annotations

from pathlib import Path

from . import eventlog
from .features import FEATURES
from .state import default_state


def apply(state: dict, record: dict) -> None:
    for feature in FEATURES:
        fn = getattr(feature, "apply", None)
        if fn is not None:
            fn(state, record)


def replay(records, session_id: str) -> dict | None:
    """The state the records produce, or None if there are none."""
    state = None
    for record in records:
        if state is None:
            state = default_state(session_id, record.get("ts") or "")
        apply(state, record)
    return state


def replay_log(path: Path, session_id: str, report: eventlog.ReadReport | None = None) -> dict | None:
    return replay(eventlog.iter_records(path, report), session_id)
