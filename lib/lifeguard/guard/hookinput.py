"""The guard's stdin: read with a bound in size and time, parsed best effort, fingerprinted."""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import time

MAX_INPUT_BYTES = 32 * 1024 * 1024
# Fields that differ on every call even when the call is "the same" (ids, paths of the run).
VOLATILE_FIELDS = ("tool_use_id", "session_id", "transcript_path", "prompt_id")


def read_bounded(fd: int = 0, limit: int = MAX_INPUT_BYTES, seconds: float = 2.0) -> bytes:
    """Stdin until EOF, `limit` bytes, `seconds`, or a complete JSON object, whichever is first.

    Claude Code writes one JSON object and closes stdin; a writer that never closes must not
    hang the guard, so a complete object ends the read without waiting for EOF.
    """
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    try:
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
    except (OSError, ValueError):  # stdin closed or not selectable (a regular file is fine below)
        return _read_plain(fd, limit)
    try:
        while size < limit:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, min(1 << 20, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if chunk.rstrip().endswith(b"}") and _is_json_object(b"".join(chunks)):
                break
    except OSError:
        pass
    finally:
        sel.close()
    return b"".join(chunks)


def _read_plain(fd: int, limit: int) -> bytes:
    try:
        return os.read(fd, limit)
    except OSError:
        return b""


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except (ValueError, RecursionError):
        return False


def parse(raw: bytes) -> dict:
    """The hook input as a dict; {} when it is not a JSON object (the command still gets the bytes)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def fingerprint(inp: dict, raw: bytes) -> str:
    """A short hash that is equal for "the same input": volatile ids are left out."""
    if inp:
        stable = {k: v for k, v in inp.items() if k not in VOLATILE_FIELDS}
        data = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str).encode()
    else:
        data = raw
    return hashlib.sha256(data).hexdigest()[:16]
