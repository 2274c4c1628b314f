"""Time as lifeguard writes it: `now_iso()` stamps a record ("YYYY-MM-DDTHH:MM:SS.mmmZ", UTC),
`epoch(ts)` reads one back (seconds). Stdlib `time` only: hot path."""

from __future__ import annotations

import time


def now_iso() -> str:
    t = time.time()
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
    y -= mo <= 2  # days from the civil date (Howard Hinnant's algorithm)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + h * 3600 + mi * 60 + s + frac
