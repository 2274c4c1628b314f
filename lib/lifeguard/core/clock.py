"""Time, the one source: `now_iso()` stamps a record ("YYYY-MM-DDTHH:MM:SS.mmmZ", UTC),
`epoch(ts)` reads such a stamp back (seconds), `parse_ts(value)` reads any ISO 8601 time (or
None), `file_stamp()` names a file by the time ("YYYYMMDDTHHMMSS", UTC). Stdlib `time` only
at import: hot path. Tests replace `now_iso` here to control the time on records.
"""

from __future__ import annotations

import time


def now_iso() -> str:
    return iso(time.time())


def iso(t: float) -> str:
    """Epoch seconds as a record timestamp "YYYY-MM-DDTHH:MM:SS.mmmZ"."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def epoch(ts: str | None) -> float:
    """Epoch seconds of a record timestamp "YYYY-MM-DDTHH:MM:SS.mmmZ" (0.0 if unreadable).

    Done by hand: `time.strptime` and `datetime` cost more to import than a hot hook may spend.
    """
    try:
        y, mo, d = int(ts[0:4]), int(ts[5:7]), int(ts[8:10])
        h, mi, s = int(ts[11:13]), int(ts[14:16]), int(ts[17:19])
        frac = float("0" + ts[19:].rstrip("Z")) if len(ts) > 20 and ts[19] == "." else 0.0
    except (TypeError, ValueError, IndexError):
        return 0.0
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        return 0.0  # not a time (a month 13 must not become next January)
    y -= mo <= 2  # days from the civil date (Howard Hinnant's algorithm)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + h * 3600 + mi * 60 + s + frac


def _own_stamp(value: str) -> bool:
    """Whether `value` has the shape `now_iso` writes (with or without milliseconds)."""
    return (len(value) == 20 or (len(value) == 24 and value[19] == ".")) and value[10] == "T" and value[-1] == "Z"


def parse_ts(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 time, or None when `value` is not one. lifeguard's own
    stamps are read by hand (`epoch`); anything else (an offset, a date alone) through
    datetime, imported only then. A time without a zone is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    if _own_stamp(value):
        seconds = epoch(value)
        return seconds if seconds > 0 else None
    from datetime import datetime, timezone

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def file_stamp() -> str:
    """The current UTC time as it goes into file names: "YYYYMMDDTHHMMSS"."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime())
