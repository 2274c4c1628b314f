"""Circuit breakers per tool and per MCP server: CLOSED -> OPEN -> HALF_OPEN -> CLOSED.

CLOSED: calls run; each failure counts, a success resets the count. After `failure_threshold`
consecutive failures the breaker OPENs: calls are refused until `recovery_timeout_seconds`
have passed since it opened. Then the next call is let through as the one trial (HALF_OPEN);
others wait while it runs. The trial's success closes the breaker, its failure opens it again.

Pure functions from (entry, time, outcome) to a new entry. The feature decides in `check`,
under the session lock, and writes the new entries into the record; the reducer only copies
them into the state, so the state stays a replay of the log. Times are epoch seconds taken
from record timestamps (`epoch`), never from the clock.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
ALLOW, REFUSE, TRIAL = "allow", "refuse", "trial"


def new_entry() -> dict:
    return {"state": CLOSED, "failures": 0, "opened_at": None, "trial": None, "trial_at": None,
            "last_error": ""}


def keys_for(tool: str, patterns: list[str]) -> list[str]:
    """The breakers a call to `tool` goes through: its own and, for MCP tools, its server's."""
    if not tool or not any(fnmatchcase(tool, p) for p in patterns):
        return []
    keys = [tool]
    parts = tool.split("__")
    if len(parts) >= 3 and parts[0] == "mcp" and parts[1]:
        keys.append(f"mcp__{parts[1]}")
    return keys


def before_call(entry: dict | None, now: float, tuid: str | None, limits: dict) -> tuple[str, dict | None]:
    """(decision, new entry or None if unchanged) for a call about to run."""
    if not entry or entry.get("state") == CLOSED:
        return ALLOW, None
    recovery = float(limits["recovery_timeout_seconds"])
    if entry.get("state") == OPEN:
        if now - float(entry.get("opened_at") or 0) >= recovery:
            return TRIAL, {**entry, "state": HALF_OPEN, "trial": tuid, "trial_at": now}
        return REFUSE, None
    # HALF_OPEN: one trial at a time; a trial that never reported back is replaced
    if now - float(entry.get("trial_at") or 0) >= recovery:
        return TRIAL, {**entry, "trial": tuid, "trial_at": now}
    return REFUSE, None


def after_result(entry: dict | None, ok: bool, now: float, error: str, limits: dict) -> tuple[dict, bool]:
    """(new entry, whether this outcome opened the breaker) after a call finished."""
    entry = dict(entry or new_entry())
    if ok:
        return new_entry(), False
    entry["failures"] = int(entry.get("failures") or 0) + 1
    entry["last_error"] = error[:200]
    state = entry.get("state")
    if state == HALF_OPEN or (state == CLOSED and entry["failures"] >= int(limits["failure_threshold"])):
        entry.update(state=OPEN, opened_at=now, trial=None, trial_at=None)
        return entry, True
    return entry, False  # CLOSED below the threshold, or OPEN (a call that was already running)


def retry_at(entry: dict, limits: dict) -> float:
    """When the next trial call will be let through (epoch seconds)."""
    base = entry.get("opened_at") if entry.get("state") == OPEN else entry.get("trial_at")
    return float(base or 0) + float(limits["recovery_timeout_seconds"])
