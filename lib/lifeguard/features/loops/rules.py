"""The loop patterns, each a small pure rule over one agent's recent calls.

A *window* is the agent's last calls, oldest first, each an entry
`{"sig": call signature, "fp": outcome fingerprint, "ok": bool, "label": str, "err": str}`.
Counting is over *consecutive* calls: any different call in between (an edit, a look at a
file, another command) breaks a run, which is how "the agent changed its approach" and "the
call was re-run after an edit" stop being counted as a loop. Repeating the *same* edit does
not break an alternation, because the same edit twice is not progress.

Two kinds of rules:
- `warn_*(window, limits)`: after a call's outcome (the window already holds it): a Finding
  when the loop has reached the warning threshold, else None.
- `refuse_*(window, sig, limits)`: before a call with signature `sig` runs: a Finding when
  running it would be the Nth repetition the config says to refuse, else None.
`limits` is the `loops` section of the config. Thresholds count runs of the call: "warn after
the 3rd failure", "refuse the 5th run".
"""

from __future__ import annotations


class Finding:
    """One detected loop: which rule, how far it has gone, and what repeats."""

    __slots__ = ("rule", "stage", "count", "entry", "other")

    def __init__(self, rule: str, stage: str, count: int, entry: dict, other: dict | None = None):
        self.rule = rule  # "repeated_failure" | "repeated_result" | "alternation"
        self.stage = stage  # "warn" | "refuse"
        self.count = count  # runs of the repeating call so far
        self.entry = entry  # the repeating call (for alternation: one of the pair)
        self.other = other  # alternation: the other call of the pair

    def key(self, agent: str) -> str:
        """Identifies the incident, so the user hears about it once, not per repetition."""
        sigs = sorted({self.entry.get("sig", ""), (self.other or {}).get("sig", "")} - {""})
        return f"{self.rule}:{agent}:{'|'.join(sigs)}"

    def __repr__(self) -> str:  # for test failure messages
        return f"Finding({self.rule}, {self.stage}, count={self.count})"


def same(a: dict, b: dict) -> bool:
    """Same call with the same outcome."""
    return a.get("sig") == b.get("sig") and a.get("fp") == b.get("fp")


def trailing_run(window: list[dict]) -> int:
    """How many of the last entries are the same call with the same outcome as the last one."""
    if not window:
        return 0
    last, n = window[-1], 0
    for entry in reversed(window):
        if not same(entry, last):
            break
        n += 1
    return n


def alternation_length(window: list[dict]) -> int:
    """Length of the A B A B ... tail (A != B; each A and each B with the same outcome); 0 if none."""
    if len(window) < 4 or window[-1].get("sig") == window[-2].get("sig"):
        return 0
    n = 2
    for i in range(len(window) - 3, -1, -1):
        if not same(window[i], window[i + 2]):
            break
        n += 1
    return n if n >= 4 else 0


# -- after the outcome: warnings -------------------------------------------------------------


def warn_repeated_failure(window: list[dict], limits: dict) -> Finding | None:
    """The same call failed the same way N times in a row."""
    if not window or window[-1].get("ok"):
        return None
    run = trailing_run(window)
    if run >= limits["failure_warn_after"]:
        return Finding("repeated_failure", "warn", run, window[-1])
    return None


def warn_repeated_result(window: list[dict], limits: dict) -> Finding | None:
    """The same call succeeded with the very same result N times in a row."""
    if not window or not window[-1].get("ok"):
        return None
    run = trailing_run(window)
    if run >= limits["repeat_warn_after"]:
        return Finding("repeated_result", "warn", run, window[-1])
    return None


def warn_alternation(window: list[dict], limits: dict) -> Finding | None:
    """Two calls alternating, A B A B ..., each with the same outcome every time."""
    cycles = alternation_length(window) // 2
    if cycles >= limits["alternation_warn_after"]:
        return Finding("alternation", "warn", cycles, window[-2], window[-1])
    return None


# -- before the call: refusals ---------------------------------------------------------------


def refuse_repeated_failure(window: list[dict], sig: str, limits: dict) -> Finding | None:
    """Refuse the Nth run of a call that failed the same way every time before."""
    if not window or window[-1].get("sig") != sig or window[-1].get("ok"):
        return None
    run = trailing_run(window)
    if run + 1 >= limits["failure_block_after"]:
        return Finding("repeated_failure", "refuse", run, window[-1])
    return None


def refuse_repeated_result(window: list[dict], sig: str, limits: dict) -> Finding | None:
    """Refuse the Nth run of a call that returned the very same result every time before."""
    if not window or window[-1].get("sig") != sig or not window[-1].get("ok"):
        return None
    run = trailing_run(window)
    if run + 1 >= limits["repeat_block_after"]:
        return Finding("repeated_result", "refuse", run, window[-1])
    return None


def refuse_alternation(window: list[dict], sig: str, limits: dict) -> Finding | None:
    """Refuse either call of an A B A B ... pattern once it would run for the Nth time.

    Both calls count: after a refused A, running B yet again is still the same loop.
    """
    length = alternation_length(window)
    if not length:
        return None
    if window[-2].get("sig") == sig:  # the pattern's next step: every 2nd entry from the end
        runs, entry, other = length // 2, window[-2], window[-1]
    elif window[-1].get("sig") == sig:  # the call that just ran, again
        runs, entry, other = (length + 1) // 2, window[-1], window[-2]
    else:
        return None
    if runs + 1 >= limits["alternation_block_after"]:
        return Finding("alternation", "refuse", runs, entry, other)
    return None


WARN_RULES = (warn_repeated_failure, warn_repeated_result, warn_alternation)
REFUSE_RULES = (refuse_repeated_failure, refuse_repeated_result, refuse_alternation)


def first_warning(window: list[dict], limits: dict) -> Finding | None:
    for rule in WARN_RULES:
        found = rule(window, limits)
        if found is not None:
            return found
    return None


def first_refusal(window: list[dict], sig: str, limits: dict) -> Finding | None:
    for rule in REFUSE_RULES:
        found = rule(window, sig, limits)
        if found is not None:
            return found
    return None
