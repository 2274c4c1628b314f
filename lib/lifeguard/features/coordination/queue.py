"""Lifeguard's own message queue: priorities, overflow, dead letters, retry back-off.

Notices for the main agent that cannot be shown at the moment they arise (a Stop, a
subagent's event) wait in a queue until the next event that can carry them. The queue
follows the spec's message system:

- priorities critical > high > normal > low (from the error code's severity);
- on overflow, critical and high messages are never dropped; the most recent normal
  ones are kept (50 by default) and everything else is archived, not lost;
- a message that cannot be delivered goes to a dead letter queue (bounded);
- retries are limited by priority (critical 10, high 5, normal 3, low 1) and spaced by
  exponential back-off, 2^attempt seconds capped at 300.

Pure functions over plain lists/dicts; the caller stores them in the state.
"""

from __future__ import annotations

from ...alerts import codes

PRIORITIES = ("critical", "high", "normal", "low")
RANK = {p: i for i, p in enumerate(PRIORITIES)}
RETRY_LIMITS = {"critical": 10, "high": 5, "normal": 3, "low": 1}
BACKOFF_CAP = 300.0
NEVER_DROPPED = frozenset({"critical", "high"})
SEVERITY_PRIORITY = {"critical": "critical", "high": "high", "medium": "high", "low": "normal", "info": "low"}


def priority_for(code: str) -> str:
    return SEVERITY_PRIORITY.get(codes.lookup(code).severity, "normal")


def max_retries(priority: str) -> int:
    return RETRY_LIMITS.get(priority, RETRY_LIMITS["normal"])


def backoff_seconds(attempt: int, base: float = 1.0, cap: float = BACKOFF_CAP) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^attempt, capped."""
    attempt = max(0, min(int(attempt), 64))
    return float(min(base * (2 ** attempt), cap))


def retry_decision(attempts: int, priority: str, base: float = 1.0, cap: float = BACKOFF_CAP) -> dict:
    """After `attempts` failed deliveries: retry (after how long) or give up (dead letter)."""
    limit = max_retries(priority)
    if attempts >= limit:
        return {"retry": False, "attempts": attempts, "limit": limit}
    return {"retry": True, "attempts": attempts, "limit": limit, "delay": backoff_seconds(attempts, base, cap)}


def overflow(queue: list[dict], max_size: int, keep_normal: int = 50) -> tuple[list[dict], list[dict]]:
    """Split `queue` into (kept, archived) when it is longer than `max_size`.

    Critical and high messages are all kept; of the normal ones, the `keep_normal` most
    recent (by `id`, which grows with time); low ones are archived first. Order is kept.
    """
    if len(queue) <= max_size:
        return list(queue), []
    normal = sorted((m for m in queue if m.get("priority", "normal") == "normal"), key=_age, reverse=True)
    keep_ids = {id(m) for m in normal[:max(0, keep_normal)]}
    kept, archived = [], []
    for msg in queue:
        if msg.get("priority") in NEVER_DROPPED or id(msg) in keep_ids:
            kept.append(msg)
        else:
            archived.append(msg)
    return kept, archived


def _age(msg: dict) -> int:
    value = msg.get("id")
    return value if isinstance(value, int) else -1


def enqueue(queue: list[dict], messages: list[dict], max_size: int, keep_normal: int = 50) -> tuple[list[dict], list[dict]]:
    """Append `messages`, then apply the overflow rule; returns (new queue, archived)."""
    return overflow(list(queue) + list(messages), max_size, keep_normal)


def by_priority(queue: list[dict]) -> list[dict]:
    """Delivery order: most urgent first, oldest first within a priority."""
    return sorted(queue, key=lambda m: (RANK.get(m.get("priority", "normal"), 2), _age(m)))


def dead_letter(dead: list[dict], message: dict, keep: int) -> list[dict]:
    """Add one undeliverable message to the dead letter queue, keeping the last `keep`."""
    out = list(dead) + [message]
    return out[-keep:] if keep > 0 else []
