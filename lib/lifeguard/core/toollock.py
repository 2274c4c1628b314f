"""The tools' lock: filelock on the hooks' lock files, keeping the hooks' protocol.

The tools (restore, repair, doctor's scratch workspace) take a session's lock, or the sweep's,
as the hooks do with `core.locking.SessionLock`: an exclusive flock on the same file, so each
excludes the other (tests/test_toollock.py, across processes). filelock's UnixFileLock takes
that flock, opening the file without following a link and never truncating it. This wrapper
keeps the rest of the hooks' protocol, which filelock alone does not:
- a lock file removed or replaced while we waited (its holder may unlink it: an archived
  session) is noticed once we hold it, and the file now at the path is locked instead
  (filelock notices only a file removed for good, by its link count; not one renamed away);
- no fallback to filelock's soft lock where flock is missing: a marker file would not exclude
  the hooks;
- a missing folder is an error (FileNotFoundError), not made: filelock would make it with the
  umask's mode, and the state folder is private (0700);
- a holder that is a stopped lifeguard process of this `.claude/` is ended, as a hook waiting
  does, checked between slices of the wait;
- a wait past the timeout raises core.locking.LockTimeout; a link at the path raises OSError.

Never imported by a hook, and filelock is imported at the first lock taken: its import costs a
fresh Python about 65 ms, several hooks' worth, which only the tools that lock pay. Without
filelock (the tools under a plain python3 when uv is missing, scripts/lifeguard's last resort)
the lock is SessionLock itself, the same protocol.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path

from .fsutil import FILE_MODE
from .locking import STOPPED_CHECK_SECONDS, LockTimeout, SessionLock, end_stopped_holder, same_file

POLL_SECONDS = 0.01


class _Replaced(Exception):
    """The file we locked is no longer the one at the path."""


class ToolLock:
    def __init__(self, path: Path, timeout: float):
        self.path = Path(path)
        self.timeout = timeout
        self._held = None

    def acquire(self) -> None:
        filelock = installed_filelock()
        if filelock is None:
            lock = SessionLock(self.path, self.timeout)
            lock.acquire()
            self._held = lock
            return
        if not self.path.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, "no such folder for a lock", str(self.path.parent))
        lock = filelock.UnixFileLock(self.path, mode=FILE_MODE, fallback_to_soft=False,
                                     poll_interval=POLL_SECONDS, on_acquired=self._check_same_file)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                # filelock gives the lock back itself when _check_same_file raises
                lock.acquire(timeout=min(STOPPED_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))
            except filelock.Timeout:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"lock {self.path.name} held for over {self.timeout:g}s") from None
                end_stopped_holder(self.path)
                continue
            except _Replaced:  # removed or replaced by its holder while we waited: lock the file there now
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"lock {self.path.name} replaced for over {self.timeout:g}s") from None
                continue
            self._held = lock
            return

    def _check_same_file(self, fd: int) -> None:
        if not same_file(self.path, fd):
            raise _Replaced

    def release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def __enter__(self) -> "ToolLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def installed_filelock():
    """The filelock module; None under a plain python3 (see above)."""
    try:
        import filelock
    except ImportError:
        return None
    return filelock
