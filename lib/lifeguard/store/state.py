"""The session state as plain data: its default shape, and how it is read and written.

The state is a snapshot that can always be rebuilt by replaying the event log through
`reducer.apply`; `persistence.checkpoint.sequence` says which event it reflects. The pydantic
model in `schema.py` validates this shape (off the hot path).
"""

from __future__ import annotations

import os

from ..core import fsutil
from . import jsoncodec

SCHEMA_VERSION = 1


def default_state(session_id: str, now: str, workspace: str = "") -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "session": {
            "id": session_id,
            "created_at": now,
            "mode": "development",
            "user_context": {"workspace_path": workspace},
            "lifecycle": {"status": "active", "started_at": now, "last_activity": now, "ended_at": None, "source": None},
        },
        "execution": {
            "agents": {"active": {}, "pool": {}},
            "tasks": {},
            "tools": {"calls": 0, "failures": 0, "by_name": {}},
        },
        "communication": {
            "message_queues": {},
            "coordination": {"locks": {}, "dependencies": {"graph": {"nodes": {}, "edges": []}, "blocks": []}},
        },
        "observability": {
            "metrics": {"performance": {}, "utilization": {"events_by_type": {}}, "quality": {}},
            "events": {"recent": []},
            "health": {"system_status": "healthy", "checks": {}},
            "incidents": [],
        },
        "persistence": {
            "checkpoint": {"last_saved": now, "sequence": 0},
            "event_log": {"total_events": 0},
            "spool_done": [],
        },
    }


class StateUnreadable(ValueError):
    """The state file exists but is not a JSON object (truncated, garbage, hand-broken)."""


def load(path: str | os.PathLike) -> dict | None:
    """The state at `path`; None when there is none; StateUnreadable when it is damaged."""
    try:
        data = fsutil.read_bytes_nofollow(path)
    except FileNotFoundError:
        return None
    try:
        state = jsoncodec.loads(data)
    except (ValueError, RecursionError) as exc:
        raise StateUnreadable(f"{os.path.basename(path)}: not valid JSON ({exc})") from None
    if not isinstance(state, dict) or not isinstance(state.get("persistence"), dict):
        raise StateUnreadable(f"{os.path.basename(path)}: not a lifeguard session state")
    return state


def dump(state: dict) -> bytes:
    return jsoncodec.dumps(state)


def save(path: str | os.PathLike, state: dict) -> None:
    """Replace the snapshot. Not fsynced: the event log is the truth and is synced before this
    runs (session.py), so after a power loss the snapshot is at worst behind the log, or
    unreadable, and loading catches it up or rebuilds it; every hook saves one, and two fsyncs
    were most of a hook's wait on a real disk."""
    fsutil.atomic_write(path, dump(state), sync=False)


def sequence(state: dict) -> int:
    try:
        seq = state["persistence"]["checkpoint"]["sequence"]
        return seq if isinstance(seq, int) and seq >= 0 else 0
    except (KeyError, TypeError):
        return 0


def peek(node: object, *keys: str) -> dict:
    """Read-only: the dict at `keys` below `node` ({} where there is none, or something else).
    `peek(value)` is `value` if it is a dict, else {}. Readers tolerate hand-edited state."""
    node = node if isinstance(node, dict) else {}
    for key in keys:
        node = node.get(key)
        if not isinstance(node, dict):
            return {}
    return node


def section(state: dict, *keys: str) -> dict:
    """The dict at `keys`, created (or replaced, if not a dict) on the way: reducers tolerate
    hand-edited state."""
    node = state
    for key in keys:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    return node
