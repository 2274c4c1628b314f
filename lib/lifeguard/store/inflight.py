"""The event record this hook has not yet made durable, so a hook that runs out of time keeps it.

The handler registers its record with `hold`; committing it to the log or writing it to the
spool clears the slot inside `durable()`, where the runner's deadline (SIGALRM) is held back,
so "written" and "cleared" happen together. When the deadline fires while a record is still
held, the runner spools it (no lock needed) and the next hook commits it; when none was held
yet (out of time before the record was built) and none was written, the runner builds it
first. A hook that exits 0 never loses its event, and never records it twice.

Through the resident helper an invocation has an id (client.py): the record carries it
(`"inv"`), the worker tells its client the moment the record is written (`begin`'s
`on_written`), and a client whose worker died checks with `written` before running the hook
again.
"""

from __future__ import annotations

import _signal  # the C module itself: `signal` costs a hook 0.5 ms more to import (its enums)

_held: dict | None = None
_settled = False  # this invocation's record was written (committed or spooled)
_attempted = False  # building this invocation's record began (it may be what ran out of time)
_invocation: str | None = None
_on_written = None


def begin(invocation: str | None, on_written=None) -> None:
    """A new invocation: its id (None outside the helper) and what to call once its record is
    written. Nothing of an earlier one stays (a worker's rehearsal ran one, hook/rehearsal.py)."""
    global _invocation, _on_written, _attempted, _held, _settled
    _invocation, _on_written, _attempted, _held, _settled = invocation, on_written, False, None, False


def attempt() -> None:
    """Building the record begins (the runner does not begin it a second time)."""
    global _attempted
    _attempted = True


def attempted() -> bool:
    return _attempted


def tag(record: dict) -> dict:
    """`record` with this invocation's id, when it has one."""
    if _invocation:
        record["inv"] = _invocation
    return record


def hold(record: dict) -> None:
    global _held
    _held = tag(record)


def held() -> dict | None:
    return _held


def settled() -> bool:
    """Whether the held record was written; False also when none was ever held."""
    return _settled


def release(record: dict) -> None:
    """Forget `record` if it is the one held (call inside `durable()`, right after writing it)."""
    global _held, _settled
    if _held is record:
        _held, _settled = None, True
        if _on_written is not None:
            _on_written()


def durable() -> _Durable:
    """Hold back the deadline while a record is written and released (a few ms at most)."""
    return _Durable()


class _Durable:
    """durable()'s context manager; a class, as contextlib would cost a hook 0.5 ms to import."""

    def __enter__(self) -> None:
        try:
            self._old = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGALRM})
        except (AttributeError, ValueError, OSError):  # no signal masks here: nothing to hold back
            self._old = None

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, self._old)


def written(layout, session_id: str, invocation: str) -> bool:
    """Whether a record of `invocation` is in the session's spool, its log or (compacted just
    now) its newest archived segment. For a client whose worker is gone, and so writes no more.
    Read in the order records move (spool -> log -> archive; each move writes the new place
    before it removes the old), so a record on the move is seen in one place or the next."""
    import os

    from ..core import fsutil

    # compact (jsoncodec), and the spacing of the spool files older versions wrote
    needles = (f'"inv":"{invocation}"'.encode(), f'"inv": "{invocation}"'.encode())

    def holds(path) -> bool:
        try:
            data = fsutil.read_bytes_nofollow(path)
        except OSError:
            return False
        return any(needle in data for needle in needles)

    folder = layout.spool_path(session_id)
    try:
        spooled = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        spooled = []
    log = layout.log_path(session_id)
    if any(holds(os.path.join(folder, name)) for name in spooled) or holds(log):
        return True
    prefix = os.path.basename(log)[: -len(".jsonl")] + "-upto"
    try:
        archived = sorted(n for n in os.listdir(layout.archive) if n.startswith(prefix))
    except OSError:
        return False
    return bool(archived) and holds(os.path.join(layout.archive, archived[-1]))
