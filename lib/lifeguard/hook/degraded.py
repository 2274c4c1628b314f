"""Memory-only mode: what a hook does when the state folder cannot be written (stdlib only).

Disk full, a read-only folder, permission denied or an I/O error while opening, appending
or saving must not cost the user the hook's answer. The decisions the features made (or
make now, on a read-only view of the state) are still returned; the user is told once per
session; the event is kept for later when possible.

What counts as committed (decided, and relied on by the tests):
- An event is committed once its log line is appended and fsynced. If the write or the
  fsync fails, `eventlog.append` cuts the line off again and raises: not committed. A
  failed fsync is never retried (after a failed fsync the page cache cannot be trusted).
- An uncommitted event goes to the spool (one small file of its own) when that can be
  written; the next hook that can write appends it to the log first: the catch-up.
  If even the spool fails, the event is lost to the log; the hook's answer is unaffected.
- A failed snapshot save after a committed append loses nothing: the snapshot is
  re-derived from the log by the next hook (the store catches up on open).
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

from ..store import eventlog
from ..store import state as state_mod
from ..core.paths import Layout, safe_name
from ..alerts import codes

PERSISTENCE_ERRNOS = frozenset(
    e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                errno.EFBIG, errno.EMFILE, errno.ENFILE) if e is not None
)


def is_persistence_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and not isinstance(exc, TimeoutError) and exc.errno in PERSISTENCE_ERRNOS


def readonly_state(layout: Layout, session_id: str) -> dict:
    """The session state as far as it can be read without writing anything."""
    try:
        state = state_mod.load(layout.session_file(session_id))
    except (OSError, ValueError):
        state = None
    if state is None:
        return state_mod.default_state(session_id, "")
    try:
        seen = state_mod.sequence(state)
        later = eventlog.read_after(layout.event_log(session_id), seen)
        if later and later[0]["seq"] == seen + 1:
            from ..features.registry import FEATURES
            from ..store import reducer

            for record in later:
                reducer.apply(state, record, FEATURES)
    except (OSError, ValueError):
        pass
    return state


def _marker_paths(layout: Layout, session_id: str) -> list[Path]:
    name = f"memonly-{safe_name(session_id)}.notified"
    digest = hashlib.sha256(str(layout.state_dir).encode()).hexdigest()[:12]
    return [layout.state_dir / name, Path(tempfile.gettempdir()) / f"lifeguard-{os.getuid()}-{digest}-{name}"]


def first_time(layout: Layout, session_id: str) -> bool:
    """True the first time this session hits a persistence failure (a marker remembers it;
    if no marker can be written anywhere, every time: better repeated than never said)."""
    paths = _marker_paths(layout, session_id)
    if any(p.exists() for p in paths):
        return False
    for path in paths:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            os.close(fd)
            return True
        except FileExistsError:
            return False
        except OSError:
            continue
    return True


def describe(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{reason}{where}"


def notice(layout: Layout, exc: OSError, kept: str) -> dict:
    text = (f"lifeguard cannot write its state in {layout.state_dir}: {describe(exc)}; {kept}. It catches up "
            "by itself once writing works again (free some disk space or fix the folder's permissions).")
    return {"code": codes.PERSISTENCE_FAILED, "kind": "user", "user": text}


def fallback(layout: Layout, store, session_id: str, record: dict, exc: OSError,
             committed: bool) -> tuple[str, dict | None]:
    """Keep an uncommitted event in the spool if possible. Returns what was saved, in a few
    words for the stderr line, and the once-per-session notice (or None)."""
    if committed:
        said, kept = ("event logged; the state snapshot was not updated",
                      "this event is in the log; only the state snapshot is behind")
    else:
        try:
            store.spool(record)
            said, kept = ("event not logged; kept in the spool for the next hook",
                          "it works from memory for now; this event is kept in the spool and is added to the log later")
        except OSError:
            said, kept = ("event not saved: neither the log nor the spool could be written",
                          "it works from memory for now; events are not being recorded until then")
    return said, (notice(layout, exc, kept) if first_time(layout, session_id) else None)
