"""Hook samples: what each hook invocation cost, one JSON line each in `state/telemetry/samples.jsonl`.

The event log says what happened; a sample says how long lifeguard took over it, which the
log cannot know when its record is written (the hook is not over yet):

    {"ts": 1764517000.123, "s": SESSION, "e": EVENT, "ms": 12.3, "q": 1.1, "tool": "Bash"}

`ms` is the hook's wall time inside lifeguard (from the runner's start to its answer written),
`q` the state query (session lock, state load, catch-up from the log), `to` marks a hook that
ran out of its time budget. Written once the answer is out: one O_APPEND write, no fsync. A
crash can lose the last few samples, never an event (those are in the log) and never a whole
file: readers skip a torn line. Past MAX_BYTES the file moves to `samples.jsonl.1` (one kept),
so the cost and the disk use stay flat however long sessions run.

Stdlib only: this runs in every hook.
"""

from __future__ import annotations

import fcntl
import json
import os
import zlib

FOLDER = "telemetry"
NAME = "samples.jsonl"
MAX_BYTES = 2 << 20

# This invocation's measures, filled by the handler as the hook goes: "h0" (its start,
# time.monotonic), "q" (state query ms), "telemetry" (the config section, for the runner).
NOTE: dict = {}


def path(state_dir) -> str:
    return os.path.join(state_dir, FOLDER, NAME)


def append(state_dir, sample: dict) -> None:
    """Add one sample. Raises OSError (the caller fails open: a sample is not worth a fault)."""
    line = (json.dumps(sample, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
    target = path(state_dir)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(target, flags, 0o600)
    except FileNotFoundError:
        os.mkdir(os.path.dirname(target), 0o700)
        fd = os.open(target, flags, 0o600)
    try:
        os.write(fd, line)
        if os.fstat(fd).st_size > MAX_BYTES:
            _rotate(target)
    finally:
        os.close(fd)


def _rotate(target: str) -> None:
    """Move the full file aside, once: hooks racing here take a lock, and only one moves it."""
    lock = os.open(target + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return  # another hook is moving it
    try:
        if os.lstat(target).st_size > MAX_BYTES:
            os.replace(target, target + ".1")
    finally:
        os.close(lock)


def decode(line: bytes) -> dict | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None
    if not isinstance(item, dict) or not isinstance(item.get("e"), str) or not isinstance(item.get("ms"), (int, float)):
        return None
    return item


def read_all(state_dir, session: str | None = None) -> list[dict]:
    """Every sample kept (the rotated file first), optionally of one session."""
    out = []
    for name in (path(state_dir) + ".1", path(state_dir)):
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for line in data.splitlines():
            item = decode(line)
            if item is not None and (session is None or item.get("s") == session):
                out.append(item)
    return out


def read_since(state_dir, cursor: dict | None, limit: int | None = None) -> tuple[list[dict], dict]:
    """Samples written after `cursor` (None: all kept), at most `limit` of them, and the cursor
    after them.

    A cursor names the file it was taken on (its inode and the start of its first line: an
    inode alone can be reused once the file is gone) and how far it was read. When that file
    has since been moved to `.1`, its rest is read first; when `.1` is some later file, all of
    it. Only whole lines are read, so a sample being written is picked up next time.
    """
    current = path(state_dir)
    cursor = cursor or {}
    mine, off = cursor.get("id"), int(cursor.get("off") or 0)
    out: list[dict] = []
    now = _identity(current)
    if not _same(now, mine):
        old = _identity(current + ".1")
        if old is not None:
            got, end = _read_from(current + ".1", off if _same(old, mine) else 0, limit)
            out += got
            if now is None or (limit is not None and len(out) >= limit):
                return out, {"id": old, "off": end}  # the cursor stays on the old file: its rest first
        off = 0
    if now is None:
        return out, cursor
    more, off = _read_from(current, off, None if limit is None else limit - len(out))
    return out + more, {"id": now, "off": off}


def _identity(name: str) -> list | None:
    """[inode, crc of the first line]; a file is never moved aside before its first line is whole."""
    try:
        with open(name, "rb") as f:
            head = f.readline(4096)
            return [os.fstat(f.fileno()).st_ino, zlib.crc32(head) if head.endswith(b"\n") else None]
    except OSError:
        return None


def _same(a: list | None, b: list | None) -> bool:
    """The same file: a first line not yet whole when one was taken matches any first line."""
    return a is not None and b is not None and a[0] == b[0] and (a[1] == b[1] or None in (a[1], b[1]))


def _read_from(name: str, offset: int, limit: int | None) -> tuple[list[dict], int]:
    """Up to `limit` samples from `offset`, a line at a time (memory bounded by `limit`), and
    the offset after the last line read."""
    out: list[dict] = []
    try:
        with open(name, "rb") as f:
            f.seek(offset)
            while limit is None or len(out) < limit:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break  # the end, or a line still being written: it waits for the next read
                offset += len(line)
                item = decode(line)
                if item is not None:
                    out.append(item)
    except OSError:
        pass
    return out, offset
