"""When the guard skips a hook instead of running it: pure rules over the hook's entries.

The session's entry (kept in the session state by `features/guarded_hooks.apply`):
    {"runs": n, "warned_at": epoch or None,
     "recent": [[epoch, input fingerprint, verdict], ...] (newest last), "last": {...}}
The workspace's entry (guard/workspace.py): {"failures_in_row": k, "open_until": epoch or None, ...}

- Breaker (workspace entry): `failures_in_row` reaching the threshold opens it until
  `open_until`; the first run after that is the trial: success closes it, failure opens it again.
- Loop: the same input `repeat_limit` times in a row, or more than `max_runs` runs with the
  same input within `window_seconds` (the spec: 3 in a row, more than 10 in 5 minutes).
- Re-entry: the hook is already running further up this process's ancestry (its name is in
  the guard stack variable): it started something that ran it again.
"""

from __future__ import annotations

# Events where a hook's "block" is a gate (refusing the call is the safe side). On other events
# (Stop, SubagentStop) a repeated block is itself the loop, so a skipped run lets things go on.
GATE_EVENTS = frozenset({"PreToolUse", "PermissionRequest", "UserPromptSubmit"})


def breaker_open(entry: dict, now: float) -> bool:
    until = entry.get("open_until")
    return isinstance(until, (int, float)) and now < until


def trips_breaker(entry: dict, failed: bool, threshold: int) -> bool:
    """Whether this run's failure is the one that opens the breaker."""
    return failed and int(entry.get("failures_in_row") or 0) + 1 >= threshold


def reentered(name: str, stack: list[str]) -> bool:
    return name in stack


def loop_reason(entry: dict, fingerprint: str, now: float, limits: dict) -> str | None:
    """Why this run looks like a loop, or None."""
    recent = [r for r in entry.get("recent") or () if isinstance(r, list) and len(r) == 3]
    in_row = int(limits["loop_repeat_limit"])
    tail = recent[-in_row:]
    if in_row > 0 and len(tail) == in_row and all(r[1] == fingerprint for r in tail):
        return f"the same input {in_row} times in a row"
    window, most = float(limits["loop_window_seconds"]), int(limits["loop_max_runs"])
    same = sum(1 for r in recent if r[1] == fingerprint and now - r[0] <= window)
    if same >= most:
        return f"{same} runs with the same input in the last {window:g}s"
    return None


def replayed_verdict(entry: dict, fingerprint: str, event: str) -> str:
    """What a skipped run answers: on gate events the hook's last answer to this same input
    (so skipping a hook that refused a call never lets the call through), else "allow"."""
    if event not in GATE_EVENTS:
        return "allow"
    for _, seen, verdict in reversed([r for r in entry.get("recent") or () if isinstance(r, list) and len(r) == 3]):
        if seen == fingerprint and verdict in ("allow", "block"):
            return verdict
    return "allow"


def should_warn(entry: dict, now: float, interval: float) -> bool:
    """Warn the user about a skip at most once per `interval` seconds per hook."""
    warned = entry.get("warned_at")
    return not isinstance(warned, (int, float)) or now - warned >= interval
