"""A careful repair of broken JSON text: trailing commas and truncation (stdlib only).

It never invents data: trailing commas are dropped and a truncated document is cut back to
the last point where a member or element was complete, then its open brackets are closed.
Whatever it cannot make parse is reported as None.
"""

from __future__ import annotations

import json

_CLOSE = {"{": "}", "[": "]"}
MAX_TRIES = 64


def strip_trailing_commas(text: str) -> str:
    """Drop commas directly before `}` or `]` (outside strings)."""
    out: list[str] = []
    in_str = esc = False
    pending: int | None = None  # index in `out` of a comma not yet known to be trailing
    for ch in text:
        if in_str:
            out.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch in "}]" and pending is not None:
            del out[pending]
            pending = None
        elif ch == ",":
            pending = len(out)
        elif not ch.isspace():
            pending = None
        if ch == '"':
            in_str = True
        out.append(ch)
    return "".join(out)


def _safe_points(text: str) -> list[tuple[int, str]]:
    """(offset, closers) pairs where cutting at `offset` and appending `closers` is well formed."""
    points: list[tuple[int, str]] = []
    stack: list[str] = []
    in_str = esc = False
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append(ch)
            points.append((i + 1, "".join(_CLOSE[c] for c in reversed(stack))))
        elif ch in "}]":
            if stack:
                stack.pop()
            points.append((i + 1, "".join(_CLOSE[c] for c in reversed(stack))))
        elif ch == "," and stack:
            points.append((i, "".join(_CLOSE[c] for c in reversed(stack))))
    return points


def repair(data: bytes | str) -> dict | None:
    """The JSON object `data` most plausibly held, or None. Tries, in order: as is, without
    trailing commas, then cut back to each earlier complete member (newest first)."""
    try:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    except Exception:  # noqa: BLE001 - anything odd is simply not repairable
        return None
    for candidate in (text, strip_trailing_commas(text)):
        obj = _loads(candidate)
        if obj is not None:
            return obj
    text = strip_trailing_commas(text)
    for offset, closers in reversed(_safe_points(text)[-MAX_TRIES:]):
        obj = _loads(strip_trailing_commas(text[:offset] + closers))
        if obj is not None:
            return obj
    return None


def _loads(text: str) -> dict | None:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None
