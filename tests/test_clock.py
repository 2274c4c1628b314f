"""core/clock: the one reader and writer of lifeguard's timestamps."""

from __future__ import annotations

import calendar
import time

from lifeguard.core import clock


def test_own_stamps_round_trip() -> None:
    stamp = clock.now_iso()
    assert len(stamp) == 24 and stamp.endswith("Z")
    assert abs(clock.parse_ts(stamp) - time.time()) < 5
    assert clock.parse_ts("2000-02-29T00:00:00Z") == calendar.timegm((2000, 2, 29, 0, 0, 0, 0, 0, 0))
    assert clock.parse_ts("2000-02-29T00:00:00.250Z") == calendar.timegm((2000, 2, 29, 0, 0, 0, 0, 0, 0)) + 0.25


def test_other_iso_forms_are_read_with_their_zone() -> None:
    base = calendar.timegm((2024, 5, 1, 12, 0, 0, 0, 0, 0))
    assert clock.parse_ts("2024-05-01T14:00:00+02:00") == base  # an offset is not ignored
    assert clock.parse_ts("2024-05-01T12:00:00") == base  # no zone: UTC
    assert clock.parse_ts("2024-05-01") == calendar.timegm((2024, 5, 1, 0, 0, 0, 0, 0, 0))


def test_what_is_not_a_time_is_none() -> None:
    for value in (None, "", 17, "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T12:00:00+2"):
        assert clock.parse_ts(value) is None, value


def test_file_stamp_shape() -> None:
    stamp = clock.file_stamp()
    assert len(stamp) == 15 and stamp[8] == "T" and stamp.replace("T", "").isdigit()
