"""Run one command under a deadline, in a process group of its own, passing bytes through.

The command starts in a new session (so its own process group): at the deadline the whole
group gets SIGTERM, then SIGKILL after a short grace, so nothing it started lives on, short of
a process that left the group on purpose (setsid, a double fork). The guard makes itself the
"child subreaper" (Linux), so such a process, once orphaned, becomes the guard's child: it is
named in the answer (`Execution.survivors`), never claimed ended. Its stdout and stderr are
captured through pipes, so a straggler holding them can never keep Claude Code waiting: the
guard stops reading at the deadline and exits. Each stream keeps its first 16 MiB; the rest
is read and dropped, and `Execution.written` says how much there was.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

MAX_OUTPUT_BYTES = 16 * 1024 * 1024  # per stream; more is read and dropped
KILL_GRACE = 1.0

@dataclass
class Execution:
    exit_code: int | None = None  # None: never started, or ended by the guard at the deadline
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False
    duration: float = 0.0
    spawn_error: OSError | None = None
    pid: int | None = None
    written: tuple[int, int] = (0, 0)  # bytes the command wrote to stdout, stderr (kept: at most the cap)
    survivors: list[tuple[int, str]] = field(default_factory=list)  # (pid, name) alive after the group kill

    def cut(self) -> dict[str, int]:
        """The streams that went over the cap, with what the command wrote to each."""
        return {name: size for name, size in zip(("stdout", "stderr"), self.written) if size > MAX_OUTPUT_BYTES}


def run(argv: list[str], stdin_data: bytes, timeout: float, env: dict[str, str],
        grace: float = KILL_GRACE) -> Execution:
    started = time.monotonic()
    _become_subreaper()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True, close_fds=True)
    except OSError as exc:
        return Execution(spawn_error=exc, duration=time.monotonic() - started)
    try:
        deadline = started + timeout
        out, err, drained, written = _pump(proc, stdin_data, deadline)
        exit_code = None
        if drained:
            try:
                exit_code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        timed_out = exit_code is None
        survivors = []
        if timed_out:
            end_group(proc, grace)
            survivors = orphans(proc.pid)
        else:
            exit_code = exit_code if exit_code >= 0 else 128 - exit_code  # killed by a signal: as a shell says it
        return Execution(exit_code, out, err, timed_out, time.monotonic() - started, None, proc.pid, written, survivors)
    except BaseException:  # the guard's own deadline fired (or worse): leave nothing behind
        end_group(proc, 0.2)
        raise
    finally:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass


def _pump(proc: subprocess.Popen, data: bytes, deadline: float) -> tuple[bytes, bytes, bool, tuple[int, int]]:
    """Feed stdin, collect stdout/stderr until both close or the deadline;
    (out, err, both closed, bytes written to each)."""
    sel = selectors.DefaultSelector()
    buffers: dict[int, list[bytes]] = {}
    sizes: dict[int, int] = {}
    for stream in (proc.stdout, proc.stderr):
        fd = stream.fileno()
        buffers[fd], sizes[fd] = [], 0
        sel.register(fd, selectors.EVENT_READ)
    view = memoryview(data)
    stdin_fd = proc.stdin.fileno()
    if view:
        os.set_blocking(stdin_fd, False)
        sel.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        _close_quietly(proc.stdin)
    readers = 2
    try:
        while readers:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                fd = key.fd
                if fd == stdin_fd:
                    try:
                        view = view[os.write(fd, view[:65536]):]
                    except BlockingIOError:
                        continue
                    except OSError:  # the command closed its stdin early: fine
                        view = view[:0]
                    if not view:
                        sel.unregister(fd)
                        _close_quietly(proc.stdin)
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(fd)
                    readers -= 1
                else:
                    if sizes[fd] < MAX_OUTPUT_BYTES:
                        buffers[fd].append(chunk[: MAX_OUTPUT_BYTES - sizes[fd]])
                    sizes[fd] += len(chunk)
    finally:
        sel.close()
    out, err = proc.stdout.fileno(), proc.stderr.fileno()
    return b"".join(buffers[out]), b"".join(buffers[err]), readers == 0, (sizes[out], sizes[err])


def _close_quietly(stream) -> None:
    try:
        stream.close()
    except OSError:
        pass


def end_group(proc: subprocess.Popen, grace: float = KILL_GRACE) -> None:
    """SIGTERM the command's process group, SIGKILL whatever is left after `grace` seconds."""
    pgid = proc.pid  # start_new_session: the command leads its own group
    if not _signal_group(pgid, signal.SIGTERM):
        proc.poll()
        return
    until = time.monotonic() + grace
    while time.monotonic() < until:
        proc.poll()  # reap the leader, or its zombie keeps the group alive
        if not group_alive(pgid):
            return
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)
    try:
        proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        pass


_subreaper = False


def _become_subreaper() -> None:
    """Linux: orphans of the command (a setsid daemon whose parent died) become our children,
    so `orphans` can name what outlived the group kill. Elsewhere nothing can name them."""
    global _subreaper
    if _subreaper or not sys.platform.startswith("linux"):
        return
    _subreaper = True
    try:
        import ctypes  # only here: the one way to call prctl from the stdlib

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def orphans(leader: int) -> list[tuple[int, str]]:
    """(pid, name) of every process still alive under us other than `leader` (the command,
    ended and reaped): what left the group and, orphaned, came to us, plus its descendants."""
    table = _process_table()
    me, found = os.getpid(), []
    frontier = [pid for pid, (ppid, _, _, _) in table.items() if ppid == me and pid != leader]
    while frontier:
        pid = frontier.pop()
        ppid, _, state, name = table[pid]
        if state in ("Z", "X"):
            if ppid == me:
                _reap(pid)
            continue
        found.append((pid, name))
        frontier.extend(child for child, (parent, _, _, _) in table.items() if parent == pid)
    return sorted(found)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _process_table() -> dict[int, tuple[int, int, str, str]]:
    """pid -> (ppid, pgid, state, name) from /proc; empty where there is no /proc."""
    table = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.find(b"(") + 1: stat.rfind(b")")].decode("utf-8", "replace")
        fields = stat[stat.rfind(b")") + 2:].split()  # after "(comm)", which may hold spaces
        try:
            table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0].decode(), name)
        except (IndexError, ValueError):
            continue
    return table


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the group; False when the group has no process left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed its credentials; nothing more we may do
        return False


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped don't count)."""
    if not os.path.isdir("/proc/self"):
        return _signal_group(pgid, 0)
    return any(group == pgid and state not in ("Z", "X") for _, group, state, _ in _process_table().values())
