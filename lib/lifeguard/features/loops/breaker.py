"""Circuit breakers per tool and per MCP server: CLOSED -> OPEN -> HALF_OPEN -> CLOSED.

A breaker is about availability. Only an *outage* failure counts (`outage(error)`: a timeout,
a refused or reset connection, a 5xx or 429 answer, a server that is not running, an MCP
transport error, an exhausted quota). Any other failure (not found, invalid parameter,
validation failed) is the caller's mistake: the service answered, so for the breaker it is
as good as a success, and the loop rules deal with the mistake.

CLOSED: calls run; each outage counts, an answer resets the count. After `failure_threshold`
consecutive outages the breaker OPENs (an MCP server's own breaker only once at least
`SERVER_MIN_TOOLS` of its tools are among them: one broken tool is not a broken server): calls are refused until `recovery_timeout_seconds`
have passed since it opened. Then the next call is let through as the one trial (HALF_OPEN);
others wait while it runs. The trial's success closes the breaker, its failure opens it again.

Pure functions from (entry, time, outcome) to a new entry. The feature decides in `check`,
under the session lock, and writes the new entries into the record; the reducer only copies
them into the state, so the state stays a replay of the log. Times are epoch seconds taken
from record timestamps (`epoch`), never from the clock.
"""

from __future__ import annotations

import re

from ...core.lazyregex import LazyRegex

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
ALLOW, REFUSE, TRIAL = "allow", "refuse", "trial"
SERVER_MIN_TOOLS = 2
TOOLS_KEEP = 8

_OUTAGE_SOURCE = (
    r"\btime[sd]?[ -]?outs?\b|deadline exceeded|ETIMEDOUT|ECONNREFUSED|connection refused|ECONNRESET|connection reset"
    r"|reset by peer|socket hang up|EPIPE|broken pipe|EHOSTUNREACH|ENETUNREACH|network is unreachable|EAI_AGAIN"
    r"|temporary failure in name resolution|connection closed|not connected|disconnected"
    r"|server (?:is )?not running|no server running|transport (?:error|closed)|MCP error -3200[01]"
    r"|\b(?:status|code|HTTP|error)\W{0,3}(?:5\d\d|429)\b|\b(?:5\d\d|429) (?:[A-Z][a-z]+ ?)+"
    r"|too many requests|rate[ _-]?limit|service unavailable|bad gateway|gateway time|internal server error"
    r"|overloaded|quota|resource[ _-]?exhausted|try again later|temporarily unavailable")
_OUTAGE = LazyRegex(_OUTAGE_SOURCE, re.IGNORECASE)  # compiled on first use: most hooks never see a failure


def outage(error: str) -> bool:
    """Does this error say the service is unavailable (rather than that the call was wrong)?"""
    return bool(_OUTAGE.search(error[:2000]))


def new_entry() -> dict:
    return {"state": CLOSED, "failures": 0, "opened_at": None, "trial": None, "trial_at": None,
            "last_error": "", "tools": []}


def is_server(key: str) -> bool:
    return key.startswith("mcp__") and key.count("__") == 1


def matches(name: str, pattern: str) -> bool:
    """fnmatchcase(name, pattern), without its regex for the usual patterns: a plain name
    (`WebFetch`) is compared and `prefix*` (`mcp__*`) is a prefix. fnmatch compiles each pattern
    it meets into a regex, once per process: 1 ms of every hook for the default breaker list."""
    if isinstance(name, str) and isinstance(pattern, str) and "[" not in pattern and "?" not in pattern:
        star = pattern.find("*")
        if star < 0:
            return name == pattern
        if star == len(pattern) - 1:
            return name.startswith(pattern[:-1])
    from fnmatch import fnmatchcase

    return fnmatchcase(name, pattern)


def keys_for(tool: str, patterns: list[str]) -> list[str]:
    """The breakers a call to `tool` goes through: its own and, for MCP tools, its server's."""
    if not tool or not any(matches(tool, p) for p in patterns):
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


def after_result(entry: dict | None, available: bool, now: float, error: str, limits: dict,
                 key: str = "", tool: str = "") -> tuple[dict, bool]:
    """(new entry, whether this outcome opened the breaker) after a call to `tool` finished;
    `available` is False only for an outage."""
    entry = dict(entry or new_entry())
    if available:
        return new_entry(), False
    entry["failures"] = int(entry.get("failures") or 0) + 1
    entry["last_error"] = error[:200]
    tools = [t for t in entry.get("tools") or () if t != tool] + [tool]
    entry["tools"] = tools[-TOOLS_KEEP:]
    state = entry.get("state")
    enough = entry["failures"] >= int(limits["failure_threshold"]) and (
        not is_server(key) or len(entry["tools"]) >= SERVER_MIN_TOOLS)
    if state == HALF_OPEN or (state == CLOSED and enough):
        entry.update(state=OPEN, opened_at=now, trial=None, trial_at=None)
        return entry, True
    return entry, False  # CLOSED below the threshold, or OPEN (a call that was already running)


def retry_at(entry: dict, limits: dict) -> float:
    """When the next trial call will be let through (epoch seconds)."""
    base = entry.get("opened_at") if entry.get("state") == OPEN else entry.get("trial_at")
    return float(base or 0) + float(limits["recovery_timeout_seconds"])
