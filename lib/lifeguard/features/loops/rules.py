"""The loop patterns, each a small pure rule over one agent's recent calls.

A *window* is the agent's last calls, oldest first, each an entry
`{"sig": call signature, "fp": outcome fingerprint, "ok": bool, "label": str, "err": str,
"t": epoch seconds, "hidden": True if no hook saw it, "allow": True if the user allows it to repeat}`.
Hidden calls are those Claude Code's own validation rejected (`<tool_use_error>`): they fire
no hook and are read from the transcript (transcript.py).

Rules count *consecutive* calls: a different call in between (an edit, a look at a file,
another command) breaks a run of one call, and anything that does not keep the same order
and the same outcomes breaks a cycle (a successful call repeated with the same result inside a
round, such as reading the same file twice, does not make a new round), which is how "the agent changed its approach" and "the
test was re-run after an edit" stop being counted as a loop.

- `repeated_failure`: one call failing the same way again and again, in a row;
- `repeated_result`: one call returning the very same result again and again, in a row,
  unless the waits between runs keep growing or are all a minute or more (that is polling
  while waiting for something);
- `cycle`: two or three calls in the same order, round after round, each with the same outcome
  as in the round before (A B A B, A B C A B C).

Two kinds of checks: `first_warning(window, limits, added)` after the window changed (a call ran, or
hidden calls were read), and `first_refusal(window, sig, now, limits)` before a call with
signature `sig` runs. Only a call that keeps failing, or a repetition with no failure in it,
is refused: a call that succeeds in a cycle whose other call keeps failing is a bystander
(the Read between two failing Edits), and a hidden call cannot be refused at all, so those
cycles are only warned about, naming the failing call. An allowed call is never counted.
`limits` is the `loops` section of the config.
"""

from __future__ import annotations

WAIT_GROWTH = 1.5  # each wait at least this much longer than the one before: waiting, not looping
SLOW_POLL_SECONDS = 60  # checks at least this far apart are waiting too (a job that takes its time)
CYCLE_SIZES = (2, 3)


class Finding:
    """One detected loop: which rule, how far it has gone, and the calls that repeat."""

    __slots__ = ("rule", "stage", "count", "members", "refused")

    def __init__(self, rule: str, stage: str, count: int, members: list[dict], refused: dict | None = None):
        self.rule = rule  # "repeated_failure" | "repeated_result" | "cycle"
        self.stage = stage  # "warn" | "refuse"
        self.count = count  # runs of the call so far (a cycle: full rounds so far)
        self.members = members  # the repeating calls, in the order of their first round
        self.refused = refused  # "refuse": the member this call would have been

    @property
    def entry(self) -> dict:
        """The call to name: the refused one, else the first that keeps failing, else the first."""
        if self.refused is not None:
            return self.refused
        return next((m for m in self.members if not m.get("ok")), self.members[0])

    def key(self, agent: str) -> str:
        """Identifies the incident, so the user hears about it once, not per repetition."""
        sigs = sorted({m.get("sig", "") for m in self.members} - {""})
        return f"{self.rule}:{agent}:{'|'.join(sigs)}"

    def __repr__(self) -> str:  # for test failure messages
        return f"Finding({self.rule}, {self.stage}, count={self.count}, size={len(self.members)})"


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


def collapse(window: list[dict]) -> list[dict]:
    """The window with runs of one successful call with one result folded into one entry: for a
    cycle, reading the same file twice between two failing edits is still the same round.
    (Runs of a failing call are the repeated-failure rule's.)"""
    out: list[dict] = []
    for entry in window:
        if not out or not entry.get("ok") or not same(out[-1], entry):
            out.append(entry)
    return out


def cycle_tail(window: list[dict], size: int) -> int:
    """Length of the tail that repeats with period `size` (each entry the same call with the same
    outcome as the one `size` before it), counted only from two full rounds of `size` different
    calls; else 0."""
    if len(window) < 2 * size or len({e.get("sig") for e in window[-size:]}) != size:
        return 0
    n, i = size, len(window) - 1
    while i - size >= 0 and same(window[i], window[i - size]):
        n, i = n + 1, i - 1
    return n if n >= 2 * size else 0


def waiting(times: list) -> bool:
    """Runs spaced by ever longer waits (each gap WAIT_GROWTH x the last), or all at least
    SLOW_POLL_SECONDS apart: at least three runs. A tight poll is neither."""
    if len(times) < 3 or any(not isinstance(t, (int, float)) for t in times):
        return False
    gaps = [b - a for a, b in zip(times, times[1:])]
    if all(g >= SLOW_POLL_SECONDS for g in gaps):
        return True
    return all(g > 0 for g in gaps) and all(b >= a * WAIT_GROWTH for a, b in zip(gaps, gaps[1:]))


def _allowed(entries: list[dict]) -> bool:
    return any(e.get("allow") for e in entries)


# -- after the window changed: warnings -------------------------------------------------------


def warn_repeated_failure(window: list[dict], limits: dict) -> Finding | None:
    """The same call failed the same way N times in a row."""
    if not window or window[-1].get("ok") or _allowed(window[-1:]):
        return None
    run = trailing_run(window)
    if run >= limits["failure_warn_after"]:
        return Finding("repeated_failure", "warn", run, [window[-1]])
    return None


def warn_repeated_result(window: list[dict], limits: dict) -> Finding | None:
    """The same call succeeded with the very same result N times in a row, at a steady pace."""
    if not window or not window[-1].get("ok") or _allowed(window[-1:]):
        return None
    run = trailing_run(window)
    if run >= limits["repeat_warn_after"] and not waiting([e.get("t") for e in window[-run:]]):
        return Finding("repeated_result", "warn", run, [window[-1]])
    return None


def warn_cycle(window: list[dict], limits: dict, added: int = 1) -> Finding | None:
    """Two or three calls going round in the same order with the same outcomes, once per full round.
    `added`: how many of the last entries are new. A hook can bring two at once (a call no hook
    saw, read late from the transcript, and the call it reports), so a round is complete when
    the count of full rounds grew with them, not only when the tail ends on a round's edge."""
    if len(window) >= 2 and window[-1].get("ok") and same(window[-1], window[-2]):
        return None  # a repeat of the last call completes no round
    rounds = collapse(window)
    earlier = collapse(window[:-added]) if 0 < added < len(window) else []
    for size in CYCLE_SIZES:
        tail = cycle_tail(rounds, size)
        if tail and tail // size > cycle_tail(earlier, size) // size and tail // size >= limits["cycle_warn_rounds"]:
            members = rounds[-tail:][:size]
            if not _allowed(members):
                return Finding("cycle", "warn", tail // size, _latest(window, members))
    return None


# -- before the call: refusals ---------------------------------------------------------------


def refuse_repeated_failure(window: list[dict], sig: str, now: float | None, limits: dict) -> Finding | None:
    """Refuse the Nth run of a call that failed the same way every time before."""
    if not window or window[-1].get("sig") != sig or window[-1].get("ok") or window[-1].get("hidden"):
        return None
    run = trailing_run(window)
    if run + 1 >= limits["failure_block_after"]:
        return Finding("repeated_failure", "refuse", run, [window[-1]], window[-1])
    return None


def refuse_repeated_result(window: list[dict], sig: str, now: float | None, limits: dict) -> Finding | None:
    """Refuse the Nth run of a call that returned the very same result every time before, unless
    the waits between the runs (this one included) keep growing."""
    if not window or window[-1].get("sig") != sig or not window[-1].get("ok"):
        return None
    run = trailing_run(window)
    if run + 1 >= limits["repeat_block_after"] and not waiting([e.get("t") for e in window[-run:]] + [now]):
        return Finding("repeated_result", "refuse", run, [window[-1]], window[-1])
    return None


def refuse_cycle(window: list[dict], sig: str, now: float | None, limits: dict) -> Finding | None:
    """Refuse a call of a cycle that would take it into its Nth round (nothing changed since the
    last identical round: its next call or any other of its calls), if it is a call to blame:
    one that keeps failing in the cycle, or any call of a cycle in which nothing fails. Never a
    hidden call."""
    rounds = collapse(window)
    for size in CYCLE_SIZES:
        tail = cycle_tail(rounds, size)
        if not tail or tail // size + 1 < limits["cycle_block_rounds"]:
            continue
        members = rounds[-tail:][:size]
        this = next((m for m in members if m.get("sig") == sig), None)
        if this is None:
            continue
        if any(m.get("hidden") for m in members) or (this.get("ok") and not all(m.get("ok") for m in members)):
            return None  # only a warning names the call to blame
        return Finding("cycle", "refuse", tail // size, _latest(window, members), this)
    return None


def _latest(window: list[dict], members: list[dict]) -> list[dict]:
    """The members in the order of their first round, each as its latest run (same call, same outcome)."""
    latest = {e.get("sig"): e for e in window}
    return [latest.get(m.get("sig"), m) for m in members]


WARN_RULES = (warn_repeated_failure, warn_repeated_result, warn_cycle)
REFUSE_RULES = (refuse_repeated_failure, refuse_repeated_result, refuse_cycle)


def first_warning(window: list[dict], limits: dict, added: int = 1) -> Finding | None:
    """The first warning the window calls for; `added`: how many of its last entries are new."""
    for rule in WARN_RULES:
        found = rule(window, limits, added) if rule is warn_cycle else rule(window, limits)
        if found is not None:
            return found
    return None


def first_refusal(window: list[dict], sig: str, now: float | None, limits: dict, allowed: bool = False) -> Finding | None:
    if allowed:
        return None
    for rule in REFUSE_RULES:
        found = rule(window, sig, now, limits)
        if found is not None:
            return found
    return None
