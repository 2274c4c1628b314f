"""What the model and the user are told about a loop or an open breaker.

The model gets the reason and a concrete next step every time; the user gets one short line
per incident (feature.py decides when). "In a row" is said only of runs of one call,
which are consecutive by construction; a cycle is told in rounds, its calls always in the
order of its first round.
"""

from __future__ import annotations

from .rules import Finding

RESET = "A different call, a real change (such as an edit) or a new message from the user lets it run again."

# What to do about an error Claude Code's own validation gives (a call no hook sees), by its text.
HIDDEN_HINTS = (
    ("string to replace not found", "copy old_string exactly from the file's current text as Read shows it "
                                     "(whitespace and indentation included, without the line-number prefix), or "
                                     "replace a smaller, unique piece; if unsure, Read the file again first"),
    ("matches of the string to replace", "make old_string unique by including more of the surrounding lines, or set "
                                         "replace_all if every occurrence should change"),
    ("has not been read yet", "Read the file first, then edit it"),
    ("modified since read", "Read the file again (it changed since you read it), then edit it"),
    ("does not exist", "check the path (Glob or ls) before using it"),
    ("no such tool", "use one of the tools you were given"),
    ("inputvalidationerror", "fix the call's parameters as the error describes"),
)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _err(entry: dict) -> str:
    return f" (error: {entry['err']})" if entry.get("err") else ""


def _name(entry: dict) -> str:
    return f"`{entry.get('label')}`"


def _hint(entry: dict) -> str:
    text = str(entry.get("err") or "").lower()
    return next((hint for marker, hint in HIDDEN_HINTS if marker in text), "fix the call as the error describes")


def _rejected(entry: dict) -> str:
    return " Claude Code rejected it before it ran, so no hook saw it." if entry.get("hidden") else ""


def _cycle(found: Finding) -> str:
    return " -> ".join(_name(m) for m in found.members)


def _blame(found: Finding) -> str:
    """Which calls of a cycle keep failing, and the others that merely repeat beside them."""
    failing = [m for m in found.members if not m.get("ok")]
    if not failing or len(failing) == len(found.members):
        return ""
    bystanders = ", ".join(_name(m) for m in found.members if m.get("ok"))
    return (f" The call that keeps failing is {', '.join(_name(m) + _err(m) for m in failing)};"
            f" {bystanders} returned the same result each time and is not the problem.")


def warning(found: Finding, limits: dict) -> str:
    """additionalContext after the window reached a warning threshold."""
    e = found.entry
    if found.rule == "repeated_failure":
        if e.get("hidden"):
            return (f"lifeguard: {_name(e)} has now failed the same way {found.count} times in a row{_err(e)}."
                    f"{_rejected(e)} Next step: {_hint(e)}.")
        return (f"lifeguard: {_name(e)} has now failed the same way {found.count} times in a row"
                f"{_err(e)}. Running it again unchanged will fail again. Next step: read the error and "
                "change something first (fix what it names, edit the code, or use a different command), "
                f"or ask the user. Lifeguard will refuse its {_ordinal(limits['failure_block_after'])} "
                "identical run.")
    if found.rule == "repeated_result":
        return (f"lifeguard: {_name(e)} has returned the very same result {found.count} times in a row; "
                "nothing is changing. Use the result you already have. If you are waiting for something, "
                "wait longer between checks (lifeguard leaves polling with growing waits alone) or check "
                f"something else. Lifeguard will refuse its {_ordinal(limits['repeat_block_after'])} identical run.")
    failing = [m for m in found.members if not m.get("ok")]
    if failing and failing[0].get("hidden"):
        f = failing[0]
        others = ", ".join(_name(m) for m in found.members if m is not f)
        return (f"lifeguard: {_name(f)} keeps failing{_err(f)}: {found.count} rounds of {_cycle(found)}, the same "
                f"outcome each time.{_rejected(f)} {others} is not the problem. Next step: {_hint(f)}.")
    return (f"lifeguard: you are going round {_cycle(found)} with the same outcome every time ({found.count} full "
            f"rounds).{_blame(found)} That is a loop. Next step: step back, work out why the result does not change, "
            "and try a different approach or ask the user. Lifeguard will refuse the "
            f"{_ordinal(limits['cycle_block_rounds'])} round.")


def refusal(found: Finding) -> str:
    """The PreToolUse deny reason for a call refused as a repetition."""
    e = found.entry
    head = "lifeguard refused this call: it is a repetition."
    if found.rule == "repeated_failure":
        return (f"{head} {_name(e)} already ran {found.count} times in a row and failed the same way "
                f"each time{_err(e)}; running it again would fail again. Instead: fix the cause the "
                "error names (edit the code or the input), try a different command, or stop and tell the "
                f"user what is blocking you. {RESET}")
    if found.rule == "repeated_result":
        return (f"{head} {_name(e)} already ran {found.count} times in a row with the very same "
                "result; running it again would return it again. Instead: use that result, or do something "
                f"that changes the situation first. {RESET}")
    return (f"{head} It would start round {found.count + 1} of {_cycle(found)}, which went the same way in each of "
            f"the last {found.count} rounds.{_blame(found)} Instead: stop repeating these calls; try a different "
            f"approach, or tell the user what is blocking you. {RESET}")


def user_warning(found: Finding) -> str:
    if found.rule == "cycle":
        return f"lifeguard: the agent keeps going round {_cycle(found)} ({found.count} rounds); warned it."
    return f"lifeguard: {_name(found.entry)} repeated {found.count} times with the same outcome; warned the agent."


def user_refusal(found: Finding) -> str:
    return f"lifeguard: refused a repeated call ({_name(found.entry)}); told the agent to change approach."


def circuit_refusal(key: str, tool: str, entry: dict, wait: int) -> str:
    """The PreToolUse deny reason while a breaker is open."""
    last = entry.get("last_error") or "none given"
    return (f"lifeguard refused this call: {key} is unavailable (its last {entry.get('failures')} calls failed "
            f"with outage errors; last: {last}), so calls to it are paused. Next step: do not call {tool} for now; "
            f"continue with other work or another tool, or tell the user that {key} is down. One trial call "
            f"will be let through in about {wait}s.")


def circuit_opened(keys: list[str], entry: dict, wait: int) -> tuple[str, str]:
    """(model text, user text) when an outcome opens breakers (a tool's, and maybe its server's)."""
    last = entry.get("last_error") or "none given"
    what = " and ".join(keys)
    model = (f"lifeguard: {what} looks unavailable: the last {entry['failures']} calls failed with outage errors "
             f"(last: {last}), so calls to it are paused for {wait}s, then one trial call is let through. "
             f"Work on something else meanwhile or tell the user that it is down.")
    return model, f"lifeguard: paused {what} after {entry['failures']} outage errors (retry in {wait}s)."


def stop_repeating(who: str, count: int) -> str:
    return (f"lifeguard: {who} has tried to stop {count} times in a row with the same last message; a Stop "
            "hook may be sending it back each time (check .claude/settings.json).")


def stop_halted(who: str, count: int) -> str:
    return (f"lifeguard stopped the session's turn: {who} tried to stop {count} times in a row with the same "
            "last message, and something (a Stop hook?) kept sending it back. Check the Stop hooks in "
            ".claude/settings.json.")


def hidden_at_stop(found: Finding) -> str:
    """The user line when a loop of calls no hook saw is found only at Stop."""
    e = found.entry
    times = f"{found.count} rounds" if found.rule == "cycle" else f"{found.count} times"
    return (f"lifeguard: before stopping, the agent kept trying {_name(e)}{_err(e)} ({times}); Claude Code "
            "rejected it each time before it ran.")
