"""Guard state per guarded hook and session, folded from "GuardedHook" records (written by
hooks/guard.py): the loop window and when the user was last told. (The breaker is the
workspace's, not a session's: guard/workspace.py.)

Kept in the session state (`execution.guarded_hooks`) rather than a file of its own: the
event log is already the durable, locked, crash-safe record of every guarded run, so the
loop window is just a replay of it (`state == replay(log)`), needs no second lock or file
format, and is rebuilt with everything else. The guard reads it lock-free from the snapshot
before a run and commits one record after it.

Deterministic from the record alone: times travel in the record.
Bounded: a short window of recent inputs per hook, and at most MAX_HOOKS hooks.
"""

from __future__ import annotations

EVENT = "GuardedHook"
RECENT_KEEP = 12  # enough for "more than 10 in 5 minutes" and "3 in a row"
MAX_HOOKS = 32


def apply(state: dict, record: dict) -> None:
    if record.get("event") != EVENT or not isinstance(record.get("guard"), dict):
        return
    guard, name, outcome = record["guard"], str(record.get("hook") or "?"), record.get("outcome")
    t = guard.get("t")
    if not isinstance(t, (int, float)):
        return
    execution = state.setdefault("execution", {})
    hooks = execution.get("guarded_hooks")
    if not isinstance(hooks, dict):
        hooks = execution["guarded_hooks"] = {}
    entry = hooks.get(name) if isinstance(hooks.get(name), dict) else new_entry()
    entry["runs"] = int(entry.get("runs") or 0) + 1
    if guard.get("warned"):
        entry["warned_at"] = t
    if guard.get("input"):
        recent = [r for r in entry.get("recent") or () if isinstance(r, list)]
        recent.append([t, guard["input"], guard.get("verdict") or "allow"])
        entry["recent"] = recent[-RECENT_KEEP:]
    entry["last"] = {"t": t, "outcome": outcome, "code": record.get("code"), "ms": record.get("duration_ms")}
    hooks[name] = entry
    while len(hooks) > MAX_HOOKS:  # forget the hook idle the longest
        del hooks[min(hooks, key=lambda k: (hooks[k].get("last") or {}).get("t") or 0)]


def new_entry() -> dict:
    return {"runs": 0, "warned_at": None, "recent": [], "last": None}
