"""A doctor finding: `(level, what, fix)`, level "ok", "warn" or "fail"; `fix` is empty for "ok"."""

from __future__ import annotations

Finding = tuple[str, str, str]  # (level, what, fix)


def ok(what: str) -> Finding:
    return ("ok", what, "")


def warn(what: str, fix: str) -> Finding:
    return ("warn", what, fix)


def fail(what: str, fix: str) -> Finding:
    return ("fail", what, fix)
