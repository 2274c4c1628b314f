"""A per-session lock with a bounded wait.

The hot hooks take it on every tool call, so it is a direct `fcntl.flock` rather than
`filelock` (whose import alone costs more than the rest of a hook). It speaks the same
protocol as `filelock.UnixFileLock` (an exclusive flock on the same file), so tools that
use filelock exclude the hooks and vice versa. The kernel drops the lock when its holder
dies, so a kill -9 never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .fsutil import FILE_MODE

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LockTimeout(TimeoutError):
    """The lock was held by someone else for longer than the bounded wait."""


class SessionLock:
    def __init__(self, path: Path, timeout: float):
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(f"lock {self.path.name} held for over {self.timeout:g}s")
                time.sleep(delay)
                delay = min(delay * 2, 0.02)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "SessionLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
