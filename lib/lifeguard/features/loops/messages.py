"""What the model and the user are told about a loop or an open breaker.

The model gets the reason and a concrete next step every time; the user gets one short line
per incident (features/loops.py decides when).
"""

from __future__ import annotations

from .rules import Finding

RESET = "A different call, a real change (such as an edit) or a new message from the user lets it run again."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _err(entry: dict) -> str:
    return f" (error: {entry['err']})" if entry.get("err") else ""


def _pair(found: Finding) -> tuple[str, str]:
    return str(found.entry.get("label")), str((found.other or {}).get("label"))


def warning(found: Finding, limits: dict) -> str:
    """additionalContext after an outcome that reached a warning threshold."""
    e = found.entry
    if found.rule == "repeated_failure":
        return (f"lifeguard: `{e.get('label')}` has now failed the same way {found.count} times in a row"
                f"{_err(e)}. Running it again unchanged will fail again. Next step: read the error and "
                "change something first (fix what it names, edit the code, or use a different command), "
                f"or ask the user. Lifeguard will refuse its {_ordinal(limits['failure_block_after'])} "
                "identical run.")
    if found.rule == "repeated_result":
        return (f"lifeguard: `{e.get('label')}` has returned the very same result {found.count} times in a "
                "row; nothing is changing. Use the result you already have. If you are waiting for "
                "something, wait longer between checks or check something else. Lifeguard will refuse its "
                f"{_ordinal(limits['repeat_block_after'])} identical run.")
    a, b = _pair(found)
    return (f"lifeguard: you are alternating between `{a}` and `{b}` with the same outcome every time "
            f"({found.count} rounds). That is a loop. Next step: step back, work out why the result does not "
            "change, and try a different approach or ask the user.")


def refusal(found: Finding) -> str:
    """The PreToolUse deny reason for a call refused as a repetition."""
    e = found.entry
    head = "lifeguard refused this call: it is a repetition."
    if found.rule == "repeated_failure":
        return (f"{head} `{e.get('label')}` already ran {found.count} times in a row and failed the same way "
                f"each time{_err(e)}; running it again would fail again. Instead: fix the cause the "
                "error names (edit the code or the input), try a different command, or stop and tell the "
                f"user what is blocking you. {RESET}")
    if found.rule == "repeated_result":
        return (f"{head} `{e.get('label')}` already ran {found.count} times in a row with the very same "
                "result; running it again would return it again. Instead: use that result, or do something "
                f"that changes the situation first. {RESET}")
    a, b = _pair(found)
    return (f"{head} You have alternated between `{a}` and `{b}` {found.count} times, with the same outcome "
            "every time. Instead: stop repeating this pair; try a different approach, or tell the user what "
            f"is blocking you. {RESET}")


def user_warning(found: Finding) -> str:
    label = found.entry.get("label")
    if found.rule == "alternation":
        return f"lifeguard: the agent keeps alternating between `{label}` and another call; warned it."
    return f"lifeguard: `{label}` repeated {found.count} times with the same outcome; warned the agent."


def user_refusal(found: Finding) -> str:
    label = found.entry.get("label")
    return f"lifeguard: refused a repeated call (`{label}`); told the agent to change approach."


def circuit_refusal(key: str, tool: str, entry: dict, wait: int) -> str:
    """The PreToolUse deny reason while a breaker is open."""
    last = entry.get("last_error") or "none given"
    return (f"lifeguard refused this call: the circuit breaker for {key} is open after "
            f"{entry.get('failures')} failures in a row (last error: {last}). It looks broken right now, so "
            f"calls to it are paused. Next step: do not call {tool} for now; continue with other work "
            f"or another tool, or tell the user that {key} is failing. One trial call will be let through "
            f"in about {wait}s.")


def circuit_opened(key: str, entry: dict, wait: int) -> tuple[str, str]:
    """(model text, user text) when an outcome opens a breaker."""
    last = entry.get("last_error") or "none given"
    model = (f"lifeguard: {key} has now failed {entry['failures']} times in a row (last error: {last}), so "
             f"its circuit breaker is open: calls to it will be refused for {wait}s, then one trial call is "
             f"let through. Work on something else meanwhile or tell the user that {key} is failing.")
    return model, f"lifeguard: paused {key} after {entry['failures']} failures in a row (retry in {wait}s)."


def stop_repeating(who: str, count: int) -> str:
    return (f"lifeguard: {who} has tried to stop {count} times in a row with the same last message; a Stop "
            "hook may be sending it back each time (check .claude/settings.json).")


def stop_halted(who: str, count: int) -> str:
    return (f"lifeguard stopped the session's turn: {who} tried to stop {count} times in a row with the same "
            "last message, and something (a Stop hook?) kept sending it back. Check the Stop hooks in "
            ".claude/settings.json.")
