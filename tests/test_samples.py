"""Hook samples (telemetry/samples.py): one line per hook, torn lines skipped, a cursor that
survives the file being moved aside."""

from __future__ import annotations

import os

from lifeguard.telemetry import samples


def sample(n: int, session: str = "s1") -> dict:
    return {"ts": 1000.0 + n, "s": session, "e": "PreToolUse", "ms": float(n)}


def test_append_and_read_back_skipping_a_torn_line(tmp_path) -> None:
    samples.append(tmp_path, sample(1))
    with open(samples.path(tmp_path), "ab") as f:
        f.write(b'{"ts": 1, "s": "s1", "e": "Pre')  # a hook killed mid-write
        f.write(b"\n")
    samples.append(tmp_path, sample(2, "s2"))
    assert [s["ms"] for s in samples.read_all(tmp_path)] == [1.0, 2.0]
    assert [s["ms"] for s in samples.read_all(tmp_path, session="s2")] == [2.0]
    assert oct(os.stat(samples.path(tmp_path)).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(samples.path(tmp_path))).st_mode & 0o777) == "0o700"


def test_cursor_reads_each_sample_once_across_a_rotation(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(samples, "MAX_BYTES", 400)
    seen: list[float] = []
    cursor = None
    for n in range(40):
        samples.append(tmp_path, sample(n))
        if n % 7 == 0:
            got, cursor = samples.read_since(tmp_path, cursor)
            seen += [s["ms"] for s in got]
    got, cursor = samples.read_since(tmp_path, cursor)
    seen += [s["ms"] for s in got]
    assert os.path.exists(samples.path(tmp_path) + ".1")  # it did rotate, more than once
    assert seen == [float(n) for n in range(40)]
    assert samples.read_since(tmp_path, cursor)[0] == []


def test_a_line_being_written_waits_for_the_next_read(tmp_path) -> None:
    samples.append(tmp_path, sample(1))
    with open(samples.path(tmp_path), "ab") as f:
        f.write(b'{"ts": 2, "s": "s1", "e": "Stop", "ms": 2')
    got, cursor = samples.read_since(tmp_path, None)
    assert [s["ms"] for s in got] == [1.0]
    with open(samples.path(tmp_path), "ab") as f:
        f.write(b".5}\n")
    got, _ = samples.read_since(tmp_path, cursor)
    assert [s["ms"] for s in got] == [2.5]


def test_a_limited_read_takes_at_most_its_limit_across_a_rotation(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(samples, "MAX_BYTES", 400)
    for n in range(40):
        samples.append(tmp_path, sample(n))
    seen: list[float] = []
    cursor = None
    for _ in range(40):
        got, cursor = samples.read_since(tmp_path, cursor, limit=3)
        assert len(got) <= 3
        if not got:
            break
        seen += [s["ms"] for s in got]
    kept = [s["ms"] for s in samples.read_all(tmp_path)]  # what the rotation kept (older files are gone)
    assert seen == kept and len(kept) > 3
    # near miss: without a limit, one read takes all that is kept
    assert [s["ms"] for s in samples.read_since(tmp_path, None)[0]] == kept
