"""The user's extra redaction patterns (`redaction.extra_patterns`), kept from stalling a hook.

Python's `re` backtracks, so a pattern such as `(x+x+)+y` can take exponential time. Three
guards, each cheap:
- a pattern whose repeated part itself repeats without bound (`(a+)+`, `(\\w+\\s?)+`) is
  refused when the config is read, with the reason;
- every pattern sees at most TEXT_LIMIT characters at a time (longer text is cut into pieces
  at a line break or space), so even a slow pattern's cost is bounded by the piece;
- each pattern runs under a CPU-time budget (ITIMER_VIRTUAL, which the hook's own deadline
  does not use). A pattern that overruns it is dropped for the rest of the process and
  reported, and the piece it was working on is withheld whole (a placeholder), since the
  secret it may hold was not looked at.
"""

from __future__ import annotations

import re

TEXT_LIMIT = 4096  # characters per piece any extra pattern sees
BUDGET_SECONDS = 0.05  # CPU time per pattern per piece; a sane pattern needs microseconds


class TooSlow(Exception):
    """An extra pattern overran its CPU-time budget."""


def problem(pattern: object) -> str | None:
    """Why `pattern` cannot be an extra redaction pattern, or None if it can."""
    if not isinstance(pattern, str) or not pattern:
        return "must be a non-empty string"
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        return f"{pattern!r} is not a valid regular expression ({exc})"
    if rx.match(""):
        return f"{pattern!r} matches the empty string"
    if _nested_repeat(pattern):
        return (f"{pattern!r} can backtrack without bound: it repeats a part that itself repeats, as (x+)+ "
                "does; write it without the nested repetition (x+)")
    return None


def _nested_repeat(pattern: str) -> bool:
    """Whether a repetition sits inside an unbounded one (star height 2: exponential backtracking)."""
    import re._parser as parser  # only when the config names extra patterns

    try:
        tree = parser.parse(pattern)
    except (re.error, RecursionError):
        return False
    repeats = {parser.MAX_REPEAT, parser.MIN_REPEAT, getattr(parser, "POSSESSIVE_REPEAT", None)} - {None}

    def walk(items, inside: bool) -> bool:
        for op, arg in items:
            if op in repeats:
                if inside and arg[1] > 1:
                    return True
                found = walk(arg[2], inside or arg[1] == parser.MAXREPEAT)
            elif op is parser.SUBPATTERN:
                found = walk(arg[-1], inside)
            elif op is parser.BRANCH:
                found = any(walk(branch, inside) for branch in arg[1])
            elif op in (parser.ASSERT, parser.ASSERT_NOT):
                found = walk(arg[1], inside)
            else:
                found = False
            if found:
                return True
        return False

    return walk(tree, False)


def pieces(text: str) -> list[str]:
    """`text` cut into pieces of at most TEXT_LIMIT characters, at a line break or space when
    there is one in the second half of the piece (so a token is rarely cut in two)."""
    if len(text) <= TEXT_LIMIT:
        return [text]
    out, start = [], 0
    while len(text) - start > TEXT_LIMIT:
        end = start + TEXT_LIMIT
        cut = max(text.rfind("\n", start + TEXT_LIMIT // 2, end), text.rfind(" ", start + TEXT_LIMIT // 2, end))
        end = cut + 1 if cut > 0 else end
        out.append(text[start:end])
        start = end
    out.append(text[start:])
    return out


def _overrun(signum, frame):  # noqa: ARG001
    raise TooSlow()


def run_limited(fn, *args):
    """`fn(*args)` under the CPU-time budget; raises TooSlow when it overruns. Outside the main
    thread (no signals there) it runs unlimited: the static check and TEXT_LIMIT still hold."""
    import signal  # only when the config names extra patterns
    import threading

    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    previous = signal.signal(signal.SIGVTALRM, _overrun)
    signal.setitimer(signal.ITIMER_VIRTUAL, BUDGET_SECONDS)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
