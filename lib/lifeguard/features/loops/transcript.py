"""The calls no hook saw, read from the session's transcript as it grows.

Claude Code runs its own validation before PreToolUse: a call that fails it (an Edit whose
old_string is not in the file, a bad input, an unknown tool) fires no hook at all; its
tool_result, `<tool_use_error>...</tool_use_error>`, is only in the transcript
(`transcript_path`, JSONL). `read` picks those calls up from where it stopped last time.

The cursor it keeps (in the session state, through the record) is
`{"offset": bytes read, "ident": [dev, inode], "skip": inside an over-long line,
"pending": {tool_use_id: the call, not yet answered}, "hooked": [ids a hook saw]}`.

Bounds and failures, all inside `read`, which never raises:
- at most MAX_BYTES and MAX_SECONDS per call; the rest waits for the next hook;
- a partial last line is left for next time (the offset stops at its start); a line longer
  than MAX_BYTES is skipped whole;
- a missing or unreadable file: nothing read, the cursor unchanged;
- a file seen for the first time, replaced (another inode) or truncated: read from its start
  when it is small (a new session), else from its end (history is not this hook's business);
- only main-thread lines count (subagents' validation failures are in their own transcripts);
- a line that is not JSON, or not the shape expected, is passed over.
The whole file is never loaded: only the bytes after the offset, and only lines holding a
tool call or a validation error are parsed.
"""

from __future__ import annotations

import json
import os
import time

from . import signature as sig_mod
from ...core.clock import epoch

MAX_BYTES = 256 * 1024
MAX_SECONDS = 0.05
PENDING_KEEP = 16  # calls with no answer yet (their ids and labels go into every record that moves the cursor)
HOOKED_KEEP = 8  # the last calls a hook saw (a few in parallel at most)
ERROR_OPEN, ERROR_CLOSE = "<tool_use_error>", "</tool_use_error>"
_USE_MARK = b'"tool_use"'
_ERROR_MARK = ERROR_OPEN.encode()


def read(path: str | None, cursor: dict | None) -> tuple[dict, list[dict]]:
    """(the new cursor, the calls Claude Code rejected since `cursor`, oldest first)."""
    cursor = dict(cursor or {})
    if not path:
        return cursor, []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return cursor, []
    try:
        st = os.fstat(fd)
        ident = [st.st_dev, st.st_ino]
        offset = cursor.get("offset")
        if cursor.get("ident") != ident or not isinstance(offset, int) or st.st_size < offset:
            start = 0 if st.st_size <= MAX_BYTES else st.st_size
            cursor = {"offset": start, "ident": ident, "pending": {}, "hooked": list(cursor.get("hooked") or ())}
            offset = start
        if st.st_size <= offset:
            return cursor, []
        data = os.pread(fd, min(MAX_BYTES, st.st_size - offset), offset)
    except OSError:
        return cursor, []
    finally:
        os.close(fd)
    return _scan(cursor, offset, data)


def _scan(cursor: dict, offset: int, data: bytes) -> tuple[dict, list[dict]]:
    pending = dict(cursor.get("pending") or {})
    hooked = set(cursor.get("hooked") or ())
    hidden: list[dict] = []
    deadline = time.monotonic() + MAX_SECONDS
    pos, skip = 0, bool(cursor.get("skip"))
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            if pos == 0 and len(data) >= MAX_BYTES:  # one line longer than a whole read: skip it
                pos, skip = len(data), True
            break
        line, pos = data[pos:end], end + 1
        if skip:  # the tail of an over-long line
            skip = False
            continue
        if _USE_MARK in line or _ERROR_MARK in line:
            _line(line, pending, hooked, hidden)
        if time.monotonic() > deadline:
            break
    while len(pending) > PENDING_KEEP:
        pending.pop(next(iter(pending)))
    return {**cursor, "offset": offset + pos, "skip": skip, "pending": pending}, hidden


def _line(line: bytes, pending: dict, hooked: set, hidden: list[dict]) -> None:
    try:
        rec = json.loads(line)
        if rec.get("isSidechain"):
            return
        content = rec["message"]["content"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return
    if not isinstance(content, list):
        return
    for block in content:
        if not isinstance(block, dict):
            continue
        kind, uid = block.get("type"), block.get("id") or block.get("tool_use_id")
        if not isinstance(uid, str):
            continue
        if kind == "tool_use" and rec.get("type") == "assistant" and uid not in hooked:
            tool, tool_input = str(block.get("name") or "?"), block.get("input")
            tool_input = tool_input if isinstance(tool_input, dict) else {}
            pending[uid] = {"sig": sig_mod.call_signature(tool, tool_input),
                            "label": sig_mod.call_label(tool, tool_input)}
        elif kind == "tool_result" and uid in pending:
            text = _result_text(block.get("content"))
            if ERROR_OPEN in text:
                call = pending.pop(uid)
                error = text.replace(ERROR_OPEN, "").replace(ERROR_CLOSE, "").strip()
                hidden.append({**call, "id": uid, "ok": False, "hidden": True,
                               "fp": sig_mod.failure_fingerprint(error), "err": sig_mod.first_error_line(error),
                               "t": _epoch(rec.get("timestamp"))})


def _result_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def _epoch(ts) -> float | None:
    value = epoch(ts) if isinstance(ts, str) else 0.0
    return round(value, 3) if value else None


def saw(cursor: dict | None, tool_use_id: str | None) -> dict:
    """The cursor once a hook has seen `tool_use_id`: it is no call Claude Code rejected."""
    cursor = dict(cursor or {})
    if tool_use_id:
        pending = dict(cursor.get("pending") or {})
        pending.pop(tool_use_id, None)
        cursor["pending"] = pending
        cursor["hooked"] = ([h for h in cursor.get("hooked") or () if h != tool_use_id] + [tool_use_id])[-HOOKED_KEEP:]
    return cursor
