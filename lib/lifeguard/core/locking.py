"""A per-session lock with a bounded wait.

The hot hooks take it on every tool call, so it is a direct `fcntl.flock` rather than
`filelock` (whose import alone, about 65 ms, costs more than several hooks). The tools take
the same locks through filelock (core/toollock.py): `filelock.UnixFileLock` is an exclusive
flock on the same file, so each excludes the other (tests/test_toollock.py).

The kernel drops the lock when its holder dies, so a kill -9 never leaves a stale lock
behind; a holder that is stopped (SIGSTOP) never lets go, so a waiter kills it when it is one
of lifeguard's own processes of the same `.claude/` (a hook or a helper worker: a kill -9 of
those is safe, and a worker's client then finishes its hook; `end_stopped_holder`). A lock
file may be removed, but only by its holder (`unlink`, when a session is archived): a waiter
that then gets the lock sees the file gone and locks the new one (`same_file`).
"""

from __future__ import annotations

import fcntl
import os
import time

from .fsutil import FILE_MODE

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
STOPPED_CHECK_SECONDS = 0.25  # how often a waiter looks whether the holder is a stopped lifeguard process


class LockTimeout(TimeoutError):
    """The lock was held by someone else for longer than the bounded wait."""


class SessionLock:
    def __init__(self, path: str | os.PathLike, timeout: float):
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        started = time.monotonic()
        deadline, look = started + self.timeout, started + STOPPED_CHECK_SECONDS
        delay = 0.001
        fd = self._open()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                now = time.monotonic()
                if now >= deadline:
                    os.close(fd)
                    raise LockTimeout(f"lock {os.path.basename(self.path)} held for over {self.timeout:g}s")
                if now >= look:
                    look = now + STOPPED_CHECK_SECONDS
                    end_stopped_holder(self.path)
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
                continue
            if same_file(self.path, fd):
                self._fd = fd
                return
            os.close(fd)  # removed by its holder while we waited (an archived session): lock the new file
            fd = self._open()

    def unlink(self) -> None:
        """Remove the lock file while holding it. Whoever waits on it then finds, once it has the
        lock, that the file is gone, and locks a new one: two holders never overlap."""
        os.unlink(self.path)

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | os.O_CLOEXEC, FILE_MODE)

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


def end_stopped_holder(path: str | os.PathLike) -> None:
    """Kill the holder of the lock at `path` if it is a stopped lifeguard process of the same
    `.claude/` (a hook or a helper worker): the kernel then drops its lock."""
    from . import proc

    holder = proc.flock_holder(path)
    if (holder and holder != os.getpid() and proc.stopped(holder)
            and proc.lifeguard_of(holder, os.path.dirname(os.path.dirname(path)))):
        try:
            os.kill(holder, 9)  # SIGKILL
        except OSError:
            pass


def same_file(path: str | os.PathLike, fd: int) -> bool:
    """The file locked through `fd` is still the one at `path` (one fstat and one lstat): not
    removed, renamed away or replaced by its holder while we waited."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)
