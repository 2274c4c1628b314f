"""The event log: line encoding, CRC, reading a damaged tail, reading after a sequence number."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from lifeguard.store import eventlog


def rec(seq: int, **extra) -> dict:
    return {"seq": seq, "ts": f"t{seq}", "event": "PostToolUse", **extra}


def write_log(path: Path, records: list[dict]) -> bytes:
    data = b"".join(eventlog.encode(r) for r in records)
    path.write_bytes(data)
    return data


def quarantined(qdir: Path) -> bytes:
    """All bytes kept in quarantine (excluding the index)."""
    if not qdir.exists():
        return b""
    return b"".join(p.read_bytes() for p in sorted(qdir.iterdir()) if p.name != "index.jsonl")


# -- encode / decode -----------------------------------------------------------------------


def test_encode_decode_roundtrip():
    record = rec(7, input={"command": "echo 'hi' \u00e9\u2603"}, n=[1, None, True])
    line = eventlog.encode(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    line.decode("ascii")  # ASCII only, whatever the content
    assert eventlog.decode(line[:-1]) == record


def test_crc_is_over_the_line_without_the_crc_member():
    line = eventlog.encode(rec(1))[:-1]
    body, crc = line.rsplit(b',"crc":"', 1)
    assert int(crc[:-2], 16) == zlib.crc32(body + b"}")
    assert json.loads(line)["crc"] == crc[:-2].decode()


@pytest.mark.parametrize("bad", [{}, [], "x", 3])
def test_encode_refuses_non_records(bad):
    with pytest.raises((ValueError, TypeError)):
        eventlog.encode(bad)


def test_decode_rejects_damage():
    line = eventlog.encode(rec(3, note="hello"))[:-1]
    assert eventlog.decode(line) is not None
    assert eventlog.decode(line.replace(b"hello", b"hellp")) is None  # content changed
    assert eventlog.decode(line[:-5]) is None  # torn
    assert eventlog.decode(b"") is None
    assert eventlog.decode(b"garbage") is None
    assert eventlog.decode(b'{"seq":1}') is None  # no crc


def test_decode_requires_an_integer_seq():
    body = json.dumps({"seq": "1", "event": "x"}, separators=(",", ":"))
    line = f'{body[:-1]},"crc":"{zlib.crc32(body.encode()):08x}"}}'.encode()
    assert eventlog.decode(line) is None


def test_every_single_bit_flip_is_detected():
    line = eventlog.encode(rec(5, tool="Bash"))[:-1]
    for i in range(len(line)):
        for bit in range(8):
            damaged = bytearray(line)
            damaged[i] ^= 1 << bit
            assert eventlog.decode(bytes(damaged)) is None, (i, bit)


# -- read_tail / repair_tail --------------------------------------------------------------


def test_read_tail_of_missing_and_empty_log(tmp_path):
    tail = eventlog.read_tail(tmp_path / "none.jsonl")
    assert (tail.last_seq, tail.good_end, tail.size) == (0, 0, 0)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    tail = eventlog.read_tail(tmp_path / "empty.jsonl")
    assert (tail.last_seq, tail.good_end, tail.size) == (0, 0, 0)


def test_read_tail_of_clean_log(tmp_path):
    path = tmp_path / "log.jsonl"
    data = write_log(path, [rec(i) for i in range(1, 6)])
    tail = eventlog.read_tail(path)
    assert (tail.last_seq, tail.good_end, tail.size) == (5, len(data), len(data))


def test_torn_tail_at_every_offset_of_the_last_line(tmp_path):
    """kill -9 mid-append leaves any prefix of the last line: exactly the earlier events load."""
    path = tmp_path / "log.jsonl"
    earlier = [rec(i, tool="Bash") for i in range(1, 4)]
    head = b"".join(eventlog.encode(r) for r in earlier)
    last = eventlog.encode(rec(4, tool="Read", input={"file_path": "/x"}))
    for cut in range(0, len(last)):  # every proper prefix, including the one missing only "\n"
        path.write_bytes(head + last[:cut])
        tail = eventlog.read_tail(path)
        assert tail.last_seq == 3 and tail.good_end == len(head), cut
        assert list(eventlog.iter_records(path)) == earlier, cut
        assert eventlog.read_after(path, 0) == earlier, cut
        report = eventlog.ReadReport()
        list(eventlog.iter_records(path, report))
        assert report.torn_tail == (cut > 0), cut
    # the whole line, newline included, is a good line
    path.write_bytes(head + last)
    assert eventlog.read_tail(path).last_seq == 4


def test_bit_flips_in_the_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    earlier = [rec(i) for i in range(1, 3)]
    head = b"".join(eventlog.encode(r) for r in earlier)
    last = eventlog.encode(rec(3, tool="Edit"))
    for i in range(len(last) - 1):  # flipping the newline would merge lines; covered by torn tails
        for bit in (0, 3, 6):
            damaged = bytearray(last)
            damaged[i] ^= 1 << bit
            if damaged[i] == ord("\n"):
                continue  # a flip that makes a newline splits the line: two damaged lines
            path.write_bytes(head + bytes(damaged))
            tail = eventlog.read_tail(path)
            assert tail.last_seq == 2 and tail.good_end == len(head), (i, bit)
            assert list(eventlog.iter_records(path)) == earlier, (i, bit)


def test_read_tail_skips_several_damaged_lines_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(eventlog, "_TAIL_CHUNK", 64)  # force many backward reads
    path = tmp_path / "log.jsonl"
    good = b"".join(eventlog.encode(rec(i, pad="x" * 50)) for i in range(1, 30))
    junk = b"not a record\n" * 20 + b'{"seq":99,"crc":"00000000"}\n' + b"torn{"
    path.write_bytes(good + junk)
    tail = eventlog.read_tail(path)
    assert (tail.last_seq, tail.good_end, tail.size) == (29, len(good), len(good + junk))


def test_read_tail_when_nothing_is_good(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"junk\nmore junk\ntorn")
    tail = eventlog.read_tail(path)
    assert (tail.last_seq, tail.good_end) == (0, 0)


def test_repair_tail_quarantines_the_fragment(tmp_path):
    path = tmp_path / "log.jsonl"
    qdir = tmp_path / "q"
    head = write_log(path, [rec(1), rec(2)])
    fragment = eventlog.encode(rec(3))[:17]
    path.write_bytes(head + fragment)
    tail = eventlog.read_tail(path)
    moved = eventlog.repair_tail(path, tail, qdir)
    assert moved == len(fragment)
    assert path.read_bytes() == head
    assert quarantined(qdir) == fragment  # kept, never dropped
    index = [json.loads(line) for line in (qdir / "index.jsonl").read_text().splitlines()]
    assert len(index) == 1 and index[0]["bytes"] == len(fragment) and "tail" in index[0]["reason"]
    assert (qdir / index[0]["file"]).read_bytes() == fragment
    # appending after the repair produces a clean log
    eventlog.append(path, rec(3))
    assert [r["seq"] for r in eventlog.iter_records(path)] == [1, 2, 3]


def test_repair_tail_of_clean_log_changes_nothing(tmp_path):
    path = tmp_path / "log.jsonl"
    data = write_log(path, [rec(1)])
    assert eventlog.repair_tail(path, eventlog.read_tail(path), tmp_path / "q") == 0
    assert path.read_bytes() == data
    assert not (tmp_path / "q").exists()


def test_repair_keeps_damaged_lines_in_the_middle(tmp_path):
    """Only the tail after the last good line is moved; earlier damage stays for the tools."""
    path = tmp_path / "log.jsonl"
    data = eventlog.encode(rec(1)) + b"damaged\n" + eventlog.encode(rec(2)) + b"tor"
    path.write_bytes(data)
    eventlog.repair_tail(path, eventlog.read_tail(path), tmp_path / "q")
    assert path.read_bytes() == data[:-3]
    report = eventlog.ReadReport()
    assert [r["seq"] for r in eventlog.iter_records(path, report)] == [1, 2]
    assert report.damaged_lines == [2] and not report.torn_tail


def test_log_files_are_private(tmp_path):
    path = tmp_path / "log.jsonl"
    eventlog.append(path, rec(1))
    assert path.stat().st_mode & 0o777 == 0o600


def test_append_refuses_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (tmp_path / "log.jsonl").symlink_to(target)
    with pytest.raises(OSError):
        eventlog.append(tmp_path / "log.jsonl", rec(1))
    assert target.read_bytes() == b""


def counted_reads(monkeypatch) -> list[int]:
    """The bytes each of the log's reads returns, from now on."""
    reads: list[int] = []
    real_pread = eventlog.os.pread

    def counting_pread(fd, n, off):
        data = real_pread(fd, n, off)
        reads.append(len(data))
        return data

    monkeypatch.setattr(eventlog.os, "pread", counting_pread)
    return reads


# -- read_after ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [32, 200, 16384])
def test_read_after(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(eventlog, "_TAIL_CHUNK", chunk)
    path = tmp_path / "log.jsonl"
    records = [rec(i, pad="y" * (i % 7) * 10) for i in range(1, 201)]
    write_log(path, records)
    for seq in (0, 1, 57, 150, 199, 200, 500):
        assert eventlog.read_after(path, seq) == [r for r in records if r["seq"] > seq], seq


def test_read_after_missing_log(tmp_path):
    assert eventlog.read_after(tmp_path / "none.jsonl", 0) == []


def test_read_after_skips_damaged_lines_and_torn_tail(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(eventlog.encode(rec(1)) + b"junk\n" + eventlog.encode(rec(2)) + eventlog.encode(rec(3))[:9])
    assert [r["seq"] for r in eventlog.read_after(path, 0)] == [1, 2]
    assert [r["seq"] for r in eventlog.read_after(path, 1)] == [2]


def test_read_after_reads_only_the_tail(tmp_path, monkeypatch):
    """Catching up a few events must not read the whole (long) log."""
    path = tmp_path / "log.jsonl"
    write_log(path, [rec(i, pad="z" * 100) for i in range(1, 5001)])
    reads = counted_reads(monkeypatch)
    assert [r["seq"] for r in eventlog.read_after(path, 4990)] == list(range(4991, 5001))
    assert sum(reads) < path.stat().st_size / 5
    reads.clear()
    assert eventlog.read_tail(path).last_seq == 5000
    assert sum(reads) <= 2 * eventlog._TAIL_CHUNK  # one chunk scanned, plus the line itself


def test_newlines_are_found_last_first_across_chunk_boundaries(tmp_path):
    """read_tail walks newlines backwards chunk by chunk, scanning each byte once."""
    import os

    data = bytearray(b"x" * (3 * eventlog._TAIL_CHUNK + 7))
    offsets = [0, 5, eventlog._TAIL_CHUNK - 1, eventlog._TAIL_CHUNK, 2 * eventlog._TAIL_CHUNK + 3, len(data) - 1]
    for at in offsets:
        data[at] = 10
    path = tmp_path / "f"
    path.write_bytes(bytes(data))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert list(eventlog._newlines_backwards(fd, len(data))) == sorted(offsets, reverse=True)
    finally:
        os.close(fd)


def test_read_tail_finds_the_last_good_line_before_a_long_damaged_stretch(tmp_path):
    path = tmp_path / "events.jsonl"
    good = eventlog.encode({"seq": 1, "event": "x"})
    path.write_bytes(good + b"\0" * (64 * eventlog._TAIL_CHUNK) + b"\n" + b"junk\n")
    tail = eventlog.read_tail(path)
    assert (tail.last_seq, tail.good_end) == (1, len(good))


# -- read_from (the exporter's forward reading, a batch at a time) ---------------------------------


@pytest.mark.parametrize("chunk", [40, 333, 1 << 18])
def test_read_from_walks_the_log_a_batch_at_a_time(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(eventlog, "_READ_CHUNK", chunk)  # lines cut across chunk boundaries
    path = tmp_path / "log.jsonl"
    records = [rec(i, pad="y" * (i % 7) * 10) for i in range(1, 101)]
    data = write_log(path, records)
    mark, seen = {}, []
    for _ in range(20):
        got, mark = eventlog.read_from(path, mark, 7)
        assert len(got) <= 7
        seen += got
        if not got:
            break
    assert [r for r, _end in seen] == records  # each once, in order
    assert [end for _r, end in seen] == [data.index(eventlog.encode(r)) + len(eventlog.encode(r)) for r in records]
    assert mark == {"seq": 100, "off": len(data), "head": zlib.crc32(eventlog.encode(records[0])[:-1])}
    assert eventlog.read_from(path, mark, 7) == ([], mark)  # near miss: at the end, nothing


def test_read_from_leaves_a_line_being_written_and_skips_damage(tmp_path):
    path = tmp_path / "log.jsonl"
    line3 = eventlog.encode(rec(3))
    path.write_bytes(eventlog.encode(rec(1)) + b"junk\n" + eventlog.encode(rec(2)) + line3[:9])
    got, mark = eventlog.read_from(path, {}, 10)
    assert [r["seq"] for r, _ in got] == [1, 2] and mark["seq"] == 2
    with open(path, "ab") as f:
        f.write(line3[9:])  # the line completed
    got, mark = eventlog.read_from(path, mark, 10)
    assert [r["seq"] for r, _ in got] == [3] and mark["off"] == path.stat().st_size
    assert eventlog.read_from(tmp_path / "gone.jsonl", mark, 10) == ([], mark)


def test_read_from_reads_a_new_log_whole(tmp_path):
    """Compaction moves the log away and a new one continues the numbering; a session archived
    while idle and resumed starts a new log at 1. Either way the file is not the one the mark
    was taken on (its first line differs): all of it is new."""
    path = tmp_path / "log.jsonl"
    write_log(path, [rec(i, pad="x" * 50) for i in range(1, 11)])
    _got, mark = eventlog.read_from(path, {}, 100)
    assert mark["seq"] == 10
    write_log(path, [rec(i) for i in range(11, 14)])  # compacted at 10, then 11 to 13
    got, _mark = eventlog.read_from(path, mark, 100)
    assert [r["seq"] for r, _ in got] == [11, 12, 13]
    write_log(path, [rec(i, ts="resumed") for i in range(1, 4)])  # started over
    got, after = eventlog.read_from(path, mark, 100)
    assert [r["seq"] for r, _ in got] == [1, 2, 3] and after["off"] == path.stat().st_size


def test_read_from_a_repaired_log_skips_what_was_read(tmp_path):
    """A log repaired in place (a damaged line taken out: the offsets move, the first line stays)
    is read from its start, what was read already skipped by number: nothing twice."""
    path = tmp_path / "log.jsonl"
    records = [rec(i, pad="x" * 50) for i in range(1, 11)]
    path.write_bytes(b"".join(eventlog.encode(r) + (b"junk\n" if r["seq"] == 3 else b"") for r in records))
    _got, mark = eventlog.read_from(path, {}, 6)
    assert mark["seq"] == 6
    write_log(path, records + [rec(11)])  # without the junk line, and one more event
    got, _after = eventlog.read_from(path, mark, 100)
    assert [r["seq"] for r, _ in got] == [7, 8, 9, 10, 11]  # (its near miss, a new log read whole: above)


def test_read_from_reads_a_chunk_not_the_log(tmp_path, monkeypatch):
    """A batch costs what it holds: the bytes read do not grow with the log's length."""
    path = tmp_path / "log.jsonl"
    write_log(path, [rec(i, pad="z" * 100) for i in range(1, 5001)])
    reads = counted_reads(monkeypatch)
    _got, mark = eventlog.read_from(path, {}, 10)
    assert sum(reads) <= eventlog._READ_CHUNK + eventlog._TAIL_CHUNK < path.stat().st_size / 2
    reads.clear()
    got, _mark = eventlog.read_from(path, mark, 10)  # from the offset: the first line and the one before it checked
    assert [r["seq"] for r, _ in got] == list(range(11, 21))
    assert sum(reads) <= eventlog._READ_CHUNK + 3 * eventlog._TAIL_CHUNK
