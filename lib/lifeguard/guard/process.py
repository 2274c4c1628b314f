"""Run one command under a deadline, in a process group of its own, passing bytes through.

The command starts in a new session (so its own process group): at the deadline the whole
group gets SIGTERM, then SIGKILL after a short grace, so nothing it started lives on (short of
a process that left the group on purpose with setsid). Its stdout and stderr are captured
through pipes, so a straggler holding them can never keep Claude Code waiting: the guard
stops reading at the deadline and exits.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass

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


def run(argv: list[str], stdin_data: bytes, timeout: float, env: dict[str, str],
        grace: float = KILL_GRACE) -> Execution:
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True, close_fds=True)
    except OSError as exc:
        return Execution(spawn_error=exc, duration=time.monotonic() - started)
    try:
        deadline = started + timeout
        out, err, drained = _pump(proc, stdin_data, deadline)
        exit_code = None
        if drained:
            try:
                exit_code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        timed_out = exit_code is None
        if timed_out:
            end_group(proc, grace)
        else:
            exit_code = exit_code if exit_code >= 0 else 128 - exit_code  # killed by a signal: as a shell says it
        return Execution(exit_code, out, err, timed_out, time.monotonic() - started, None, proc.pid)
    except BaseException:  # the guard's own deadline fired (or worse): leave nothing behind
        end_group(proc, 0.2)
        raise
    finally:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass


def _pump(proc: subprocess.Popen, data: bytes, deadline: float) -> tuple[bytes, bytes, bool]:
    """Feed stdin, collect stdout/stderr until both close or the deadline; (out, err, both closed)."""
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
                elif sizes[fd] < MAX_OUTPUT_BYTES:
                    buffers[fd].append(chunk[: MAX_OUTPUT_BYTES - sizes[fd]])
                    sizes[fd] += len(chunk)
    finally:
        sel.close()
    return b"".join(buffers[proc.stdout.fileno()]), b"".join(buffers[proc.stderr.fileno()]), readers == 0


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
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _pgid_and_state(entry)
            if found and found[0] == pgid and found[1] not in ("Z", "X"):
                return True
    return False


def _pgid_and_state(pid: str) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()  # after "(comm)", which may hold spaces
    try:
        return int(fields[2]), fields[0].decode()
    except (IndexError, ValueError):
        return None
