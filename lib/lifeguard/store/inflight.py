"""The event record this hook has not yet made durable, so a hook that runs out of time keeps it.

The handler registers its record with `hold`; committing it to the log or writing it to the
spool clears the slot inside `durable()`, where the runner's deadline (SIGALRM) is held back,
so "written" and "cleared" happen together. When the deadline fires while a record is still
held, the runner spools it (no lock needed) and the next hook commits it; when none was held
yet (out of time before the record was built) and none was written, the runner builds it
first. A hook that exits 0 never loses its event, and never records it twice.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Iterator

_held: dict | None = None
_settled = False  # this invocation's record was written (committed or spooled)


def hold(record: dict) -> None:
    global _held
    _held = record


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


@contextmanager
def durable() -> Iterator[None]:
    """Hold back the deadline while a record is written and released (a few ms at most)."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    except (AttributeError, ValueError, OSError):  # no signal masks here: nothing to hold back
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
