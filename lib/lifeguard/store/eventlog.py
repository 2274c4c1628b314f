"""The append-only JSONL event log: one line per event, each with a sequence number and a CRC.

Line format: a compact JSON object (ASCII only) whose last member is `"crc":"xxxxxxxx"`, the
CRC-32 of the line without that member. A line whose CRC does not match (a torn write, a bit
flip, a hand edit) is damaged: readers skip it and report it, and the appender moves a damaged
tail into quarantine before it writes, so the log only ever grows by good lines.

Appending reads only the tail of the file, so its cost does not grow with the log's length.
"""

from __future__ import annotations

import os
import zlib

TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Iterator

from ..core import fsutil
from . import jsoncodec

_SUFFIX_LEN = len(',"crc":"00000000"}')
_TAIL_CHUNK = 16384


def encode(record: dict) -> bytes:
    body = jsoncodec.dumps(record)
    if not body.startswith(b"{") or body == b"{}":
        raise ValueError("an event record must be a non-empty object")
    return b'%s,"crc":"%08x"}\n' % (body[:-1], zlib.crc32(body))


def decode(line: bytes) -> dict | None:
    """The record in one line (without its trailing newline), or None if damaged."""
    if len(line) <= _SUFFIX_LEN or not line.endswith(b'"}') or line[-_SUFFIX_LEN:-10] != b',"crc":"':
        return None
    body = line[:-_SUFFIX_LEN] + b"}"
    # compare the exact bytes encode() writes: int(x, 16) would also take "ABCD", " 1_2" ...
    if line[-10:-2] != b"%08x" % zlib.crc32(body):
        return None
    try:
        record = jsoncodec.loads(body)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int):
        return None
    return record


class Tail:
    """What the appender needs to know about the end of the log."""

    __slots__ = ("last_seq", "good_end", "size")

    def __init__(self, last_seq: int, good_end: int, size: int):
        self.last_seq = last_seq  # seq of the last good line (0 if none)
        self.good_end = good_end  # byte offset just past the last good line
        self.size = size


def _open_ro(path: str | os.PathLike) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | fsutil._NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


def _newlines_backwards(fd: int, size: int):
    """Offsets of every newline in the file, last first, reading a chunk at a time.

    Each byte is scanned once, so a long damaged stretch costs linear time."""
    pos = size
    while pos > 0:
        start = max(0, pos - _TAIL_CHUNK)
        chunk = os.pread(fd, pos - start, start)
        at = len(chunk)
        while (at := chunk.rfind(b"\n", 0, at)) != -1:
            yield start + at
        pos = start


def read_tail(path: str | os.PathLike) -> Tail:
    """Find the last good line by reading backwards from the end.

    Bytes after the last newline are a torn fragment and are never taken for a line; a
    damaged line before it is skipped, and the one before that tried, and so on.
    """
    fd = _open_ro(path)
    if fd is None:
        return Tail(0, 0, 0)
    try:
        size = os.fstat(fd).st_size
        newlines = _newlines_backwards(fd, size)
        end = next(newlines, None)  # the newline that ends the candidate line
        while end is not None:
            begin = next(newlines, -1)  # the newline before it (-1: the file's first line)
            record = decode(os.pread(fd, end - begin - 1, begin + 1))
            if record is not None:
                return Tail(record["seq"], end + 1, size)
            end = begin if begin >= 0 else None
        return Tail(0, 0, size)
    finally:
        os.close(fd)


def repair_tail(path: str | os.PathLike, tail: Tail, quarantine_dir: str | os.PathLike) -> int:
    """Move everything after the last good line into quarantine; returns bytes moved.

    Call only while holding the session lock (nobody else is appending).
    """
    if tail.good_end >= tail.size:
        return 0
    fd = os.open(path, os.O_RDWR | fsutil._NOFOLLOW | os.O_CLOEXEC)
    try:
        damaged = os.pread(fd, tail.size - tail.good_end, tail.good_end)
        fsutil.quarantine(quarantine_dir, os.path.basename(path) + ".tail", damaged, "damaged event-log tail")
        os.ftruncate(fd, tail.good_end)
        os.fsync(fd)
    finally:
        os.close(fd)
    tail.size = tail.good_end
    return len(damaged)


def append(path: str | os.PathLike, record: dict) -> None:
    """Append one line durably. If the write or the fsync fails the event is not committed:
    the line is cut off again (best effort, never retried) and the error is raised."""
    data = encode(record)
    try:
        before = os.stat(path, follow_symlinks=False).st_size
    except FileNotFoundError:
        before = 0
    try:
        fsutil.append_durable(path, data)
    except OSError:
        _rollback(path, before)
        raise


def _rollback(path: str | os.PathLike, size: int) -> None:
    """Cut an uncommitted append back off (we hold the lock: nobody else appends)."""
    try:
        fd = os.open(path, os.O_WRONLY | fsutil._NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if os.fstat(fd).st_size > size:
            os.ftruncate(fd, size)
    except OSError:
        pass  # a torn or unsynced line left behind is caught by the CRC and the tail repair
    finally:
        os.close(fd)


class ReadReport:
    def __init__(self) -> None:
        self.damaged_lines: list[int] = []  # 1-based line numbers
        self.torn_tail = False
        self.snapshot_seq = 0  # replay started from a snapshot at this sequence number
        self.snapshot_problem: str | None = None  # a snapshot was there but damaged


def iter_records(path: str | os.PathLike, report: ReadReport | None = None) -> Iterator[dict]:
    """Every good record in file order; damaged lines are skipped and noted in `report`."""
    try:
        data = fsutil.read_bytes_nofollow(path)
    except FileNotFoundError:
        return
    lines = data.split(b"\n")
    last = lines.pop()
    if last and report is not None:
        report.torn_tail = True
    for number, line in enumerate(lines, 1):
        record = decode(line)
        if record is None:
            if report is not None:
                report.damaged_lines.append(number)
            continue
        yield record
    if last and report is not None:
        report.damaged_lines.append(len(lines) + 1)


def read_after(path: str | os.PathLike, seq: int) -> list[dict]:
    """Good records with a sequence number above `seq`, reading only as far back as needed."""
    fd = _open_ro(path)
    if fd is None:
        return []
    try:
        pos = os.fstat(fd).st_size
        buf = b""
        while pos > 0:
            start = max(0, pos - 4 * _TAIL_CHUNK)
            buf = os.pread(fd, pos - start, start) + buf
            pos = start
            lines = buf.split(b"\n")
            complete = lines[1:-1] if pos > 0 else lines[:-1]
            first = next((r for r in map(decode, complete) if r is not None), None)
            if first is not None and first["seq"] <= seq:
                break
        lines = buf.split(b"\n")
        complete = lines[1:-1] if pos > 0 else lines[:-1]
        return [r for r in map(decode, complete) if r is not None and r["seq"] > seq]
    finally:
        os.close(fd)


_READ_CHUNK = 1 << 18


def read_from(path: str | os.PathLike, mark: dict, limit: int) -> tuple[list[tuple[dict, int]], dict]:
    """Up to `limit` good records after `mark`, read forward, each with the offset just past its
    line; and the mark after them, to pass next time.

    A mark is {"seq": the last record read, "off": where its line ends, "head": the CRC-32 of the
    log's first line} ({} or a missing member: from the start). A log whose first line is not the
    one the mark was taken on is another file (a session that started over at 1, a log compacted
    into a snapshot and begun anew): all of it is read. When the line ending at "off" is not the
    record numbered "seq" (the log was repaired since) it is read from its start, skipping what
    is numbered "seq" or below. A chunk at a time: memory is bounded by `limit` and the longest
    line, never by the log's length. A line without its newline yet (being written) is left for
    the next call. A missing log reads as empty, the mark kept.
    """
    fd = _open_ro(path)
    if fd is None:
        return [], mark
    try:
        seq, offset, head = int(mark.get("seq") or 0), int(mark.get("off") or 0), _head(fd)
        if None not in (head, mark.get("head")) and head != mark.get("head"):
            seq, offset = 0, 0
        elif offset and not _ends_record(fd, offset, seq):
            offset = 0
        out: list[tuple[dict, int]] = []
        start, buf, at = offset, b"", 0  # buf holds the file from `start`; `at` is the next line in it
        while len(out) < limit:
            nl = buf.find(b"\n", at)
            if nl == -1:
                buf, start, at = buf[at:], start + at, 0
                chunk = os.pread(fd, _READ_CHUNK, start + len(buf))
                if not chunk:
                    break
                buf += chunk
                continue
            record, end = decode(buf[at:nl]), start + nl + 1
            at = nl + 1
            if record is None or record["seq"] < seq:
                continue
            if record["seq"] > seq:
                out.append((record, end))
            seq, offset = record["seq"], end
        return out, {"seq": seq, "off": offset, "head": head}
    finally:
        os.close(fd)


def _head(fd: int) -> int | None:
    """The CRC-32 of the log's first line; None until it is whole."""
    line = b""
    while (nl := line.find(b"\n")) == -1:
        chunk = os.pread(fd, _TAIL_CHUNK, len(line))
        if not chunk:
            return None
        line += chunk
    return zlib.crc32(line[:nl])


def _ends_record(fd: int, offset: int, seq: int) -> bool:
    """Whether the line that ends at `offset` is the good record numbered `seq`."""
    if os.fstat(fd).st_size < offset or os.pread(fd, 1, offset - 1) != b"\n":
        return False
    begin = next(_newlines_backwards(fd, offset - 1), -1)
    record = decode(os.pread(fd, offset - 1 - begin - 1, begin + 1))
    return record is not None and record["seq"] == seq
