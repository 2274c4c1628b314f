"""core.toollock: the tools' filelock and the hooks' SessionLock exclude each other, across processes.

Each holder and waiter is a process of its own, driven through pipes: no sleep stands in for
synchronisation. A holder says "held" once it has the lock, and on "go" writes a marker and then
lets go; a waiter that gets the lock says whether the marker was already there, so a waiter that
got the lock while the holder still had it says "overlap"."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lifeguard.core import toollock
from lifeguard.core.locking import LockTimeout, SessionLock
from lifeguard.core.toollock import ToolLock

LIB = str(Path(toollock.__file__).resolve().parents[2])

HOLDER = """
import os, sys
sys.path.insert(0, {lib!r})
from lifeguard.core.locking import SessionLock
from lifeguard.core.toollock import ToolLock
path, kind, then = sys.argv[1], sys.argv[2], sys.argv[3]
lock = (ToolLock if kind == "tool" else SessionLock)(__import__("pathlib").Path(path), 10)
lock.acquire()
print("held", flush=True)
sys.stdin.readline()  # "go"
if then == "unlink":
    lock.unlink()  # SessionLock's own: an archived session's lock file goes
elif then == "rename":
    os.rename(path, path + ".moved")  # a file the path no longer names, still linked
open(path + ".released", "w").close()
lock.release()
print("released", flush=True)
sys.stdin.readline()
"""

WAITER = """
import os, sys
sys.path.insert(0, {lib!r})
from lifeguard.core.locking import SessionLock
from lifeguard.core.toollock import ToolLock
path, kind = sys.argv[1], sys.argv[2]
lock = (ToolLock if kind == "tool" else SessionLock)(__import__("pathlib").Path(path), 20)
print("waiting", flush=True)
lock.acquire()
print("got" if os.path.exists(path + ".released") else "overlap", flush=True)
sys.stdin.readline()
lock.release()
"""


def start(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script.format(lib=LIB), *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def line(proc: subprocess.Popen, seconds: float = 30) -> str:
    """The process's next line; a hang fails the test instead of stalling the suite."""
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, f"no answer within {seconds}s"
    return proc.stdout.readline()  # one line at a time: each process waits for us after each


def say(proc: subprocess.Popen, text: str = "go") -> None:
    proc.stdin.write(text + "\n")
    proc.stdin.flush()


def finish(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def try_now(kind: str, path: Path) -> bool:
    """Whether a lock of `kind` can be had on `path` at once (taken and given back)."""
    lock = (ToolLock if kind == "tool" else SessionLock)(path, 0)
    try:
        lock.acquire()
    except LockTimeout:
        return False
    lock.release()
    return True


@pytest.mark.parametrize("holder_kind, waiter_kind",
                         [("tool", "session"), ("session", "tool"), ("tool", "tool")])
def test_each_excludes_the_other_across_processes(tmp_path: Path, holder_kind: str, waiter_kind: str) -> None:
    path = tmp_path / "session-x.lock"
    holder = start(HOLDER, path, holder_kind, "release")
    waiter = None
    try:
        assert line(holder) == "held\n"
        assert not try_now(waiter_kind, path)
        waiter = start(WAITER, path, waiter_kind)
        assert line(waiter) == "waiting\n"
        say(holder)
        assert line(holder) == "released\n"
        assert line(waiter) == "got\n"  # not "overlap": it had to wait for the release
        assert not try_now(holder_kind, path)  # and now the waiter's lock keeps the holder's kind out
        say(waiter)
        assert waiter.wait(10) == 0
        assert try_now(holder_kind, path) and try_now(waiter_kind, path)
    finally:
        finish(holder, *([waiter] if waiter else []))


def test_a_lock_file_removed_while_waiting_the_tool_locks_the_new_one(tmp_path: Path) -> None:
    """A hook holding the lock removes its file (an archived session) and lets go: the tool that
    waited must hold the file at the path now, or a hook would lock a new file while it holds the old."""
    path = tmp_path / "session-x.lock"
    holder = start(HOLDER, path, "session", "unlink")
    waiter = None
    try:
        assert line(holder) == "held\n"
        waiter = start(WAITER, path, "tool")
        assert line(waiter) == "waiting\n"
        say(holder)
        assert line(holder) == "released\n"
        assert line(waiter) == "got\n"
        assert path.exists()
        assert not try_now("session", path)  # the tool holds the file a hook would lock
        say(waiter)
        assert waiter.wait(10) == 0
    finally:
        finish(holder, *([waiter] if waiter else []))


@pytest.mark.parametrize("then", ["unlink", "rename"])
def test_a_lock_file_gone_between_open_and_flock_is_not_taken_for_the_lock(tmp_path: Path, monkeypatch,
                                                                          then: str) -> None:
    """filelock opens the file, then tries its flock: a holder that removes the file, or renames it
    away, and lets go in between leaves us a lock on a file the path no longer names. filelock
    notices a removed file (its link count), the wrapper also one renamed away (still linked).
    The window is made here by doing it at filelock's flock call (a private name of the pinned version)."""
    from filelock._native import _unix

    path = tmp_path / "session-x.lock"
    path.touch(mode=0o600)
    real, done = _unix.lock_fd_nonblocking, []

    def flock_after_the_holder_moved_it(fd: int) -> bool:
        if not done:
            done.append(fd)
            os.unlink(path) if then == "unlink" else os.rename(path, str(path) + ".moved")
        return real(fd)

    monkeypatch.setattr(_unix, "lock_fd_nonblocking", flock_after_the_holder_moved_it)
    with ToolLock(path, 5):
        assert done and path.exists()
        assert not try_now("session", path)  # the file at the path is the one held
        if then == "rename":
            assert try_now("session", Path(str(path) + ".moved"))  # not the one moved away


def test_a_link_at_the_path_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    path = tmp_path / "session-x.lock"
    path.symlink_to(target)
    with pytest.raises(OSError):
        ToolLock(path, 1).acquire()
    assert target.read_text() == "keep me" and path.is_symlink()


def test_no_folder_is_made_for_a_lock(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "session-x.lock"
    with pytest.raises(FileNotFoundError):
        ToolLock(path, 1).acquire()
    assert not path.parent.exists()


def test_a_new_lock_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "session-x.lock"
    with ToolLock(path, 1):
        assert path.stat().st_mode & 0o777 == 0o600


def test_a_stopped_lifeguard_hook_holding_the_lock_is_ended(tmp_path: Path) -> None:
    """As a hook does (SessionLock): a stopped lifeguard process of this .claude/ never lets go."""
    hooks = tmp_path / ".claude" / "hooks"
    state = tmp_path / ".claude" / "state"
    hooks.mkdir(parents=True)
    state.mkdir(mode=0o700)
    script = hooks / "holder_test.py"  # a hook script of this .claude/, as proc.lifeguard_of knows them
    script.write_text(HOLDER.format(lib=LIB))
    path = state / "session-x.lock"
    holder = subprocess.Popen([sys.executable, str(script), str(path), "session", "release"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert line(holder) == "held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        with ToolLock(path, 10):
            assert holder.wait(10) == -signal.SIGKILL
    finally:
        finish(holder)


def test_a_busy_lock_times_out_with_the_hooks_error(tmp_path: Path) -> None:
    path = tmp_path / "session-x.lock"
    with SessionLock(path, 1):
        with pytest.raises(LockTimeout, match="session-x.lock held for over 0.3s"):
            ToolLock(path, 0.3).acquire()


def test_without_filelock_it_is_the_hooks_lock(tmp_path: Path, monkeypatch) -> None:
    """The tools under a plain python3 have no filelock: the same protocol, through SessionLock."""
    monkeypatch.setattr(toollock, "installed_filelock", lambda: None)
    path = tmp_path / "session-x.lock"
    holder = start(HOLDER, path, "session", "release")
    try:
        assert line(holder) == "held\n"
        with pytest.raises(LockTimeout):
            ToolLock(path, 0).acquire()
        say(holder)
        assert line(holder) == "released\n"
        with ToolLock(path, 5) as lock:
            assert isinstance(lock._held, SessionLock)
            assert not try_now("session", path)
    finally:
        finish(holder)


def test_filelock_is_installed_where_the_tests_run() -> None:
    """The suite runs in the hooks' environment (pyproject pins filelock): the tests above are filelock's."""
    assert toollock.installed_filelock() is not None
