"""The resident helper: one warm process per installed `.claude/`, a forked worker per hook.

A hook started cold spends most of its time importing and compiling before any work (see
client.py). The helper does that once, listens on `state/helper.sock`, and keeps two spare
workers forked ahead, each waiting to accept one request. A worker is a copy of a process
that has handled nothing, so every hook still starts from clean module state, runs the
ordinary runner on the client's input (worker.py), and may crash or be killed without
touching the helper or other hooks (the client then finishes the hook, client.py). Parallel
tool calls get parallel workers; the store's locks order them as before.

The helper goes away by itself:
- after `helper.idle_minutes` without a request;
- when its code changes (an upgrade, an edit in place) or is removed (uninstall): the
  request in hand is turned away unrun, so the client runs it with the new code;
- when its socket is removed or replaced, `helper.enabled` is set false, or its Python goes
  (`uv cache clean`);
- on SIGTERM (`stop()` sends it: install.sh on upgrade and uninstall, the test harness).
Only one helper runs per `.claude/`: it holds `state/helper.lock` while it lives.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import socket
import sys
import time

from . import client, wire
from .launch import LOCK, STARTED
from .trust import trusted_state
from ..core.paths import Layout

PID = "helper.pid"
TICK_SECONDS = 2.0  # how often an idle helper looks at its code, socket and settings
MAX_WORKERS = 32  # more hooks at once than this wait in the socket's queue (or run in their own process)
SPARES = 2  # workers forked ahead, waiting for a hook
REHEARSE_AFTER_SECONDS = 0.25  # a spare forked while hooks ran rehearses once none has come for it this long
WARM_MODULES = (
    "lifeguard.hook.pipeline", "lifeguard.features.registry", "lifeguard.features.core",
    "lifeguard.features.loops.feature", "lifeguard.features.coordination.feature",
    "lifeguard.features.coordination.gates", "lifeguard.features.coordination.reports",
    "lifeguard.features.coordination.tasks", "lifeguard.features.loops.messages", "lifeguard.redact.user_patterns",
    "lifeguard.alerts.step",
    "lifeguard.features.health", "lifeguard.features.guarded_hooks", "lifeguard.store.session",
    "lifeguard.store.eventlog", "lifeguard.store.snapshot", "lifeguard.store.state",
    "lifeguard.store.reducer", "lifeguard.redact.redactor",
    "lifeguard.features.loops.signature", "lifeguard.config.load", "lifeguard.hook.protocol",
    "lifeguard.store.record", "lifeguard.core.fsutil", "lifeguard.store.inflight", "lifeguard.alerts.escalation",
    "lifeguard.upkeep.checks", "lifeguard.telemetry.samples", "lifeguard.telemetry.trigger",
    "lifeguard.features.metrics", "lifeguard.hook.worker", "lifeguard.hook.runner", "lifeguard.hook.rehearsal", "io",
    "shutil", "json", "zlib", "hashlib", "typing",
)


class Stop(Exception):
    pass


def code_fingerprint(lib_dir: str) -> tuple:
    """What changes when lifeguard's code does: every .py (and MANIFEST.json) under lib/lifeguard."""
    seen = []
    for folder, dirs, files in os.walk(os.path.join(lib_dir, "lifeguard")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or name == "MANIFEST.json":
                try:
                    st = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                seen.append((folder, name, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(seen)


def warm() -> None:
    """Import what hooks import and compile what they compile, so workers start warm. Only
    code and config-independent regexes: anything read from the workspace is read per hook."""
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a worker imports it again and reports properly
            pass
    try:
        from ..core import lazyregex
        from ..redact import patterns

        patterns.compiled()
        lazyregex.compile_all()  # the token formats (made by compiled()), the rules' and the loops' regexes
    except Exception:  # noqa: BLE001
        pass
    import gc

    gc.collect()
    gc.freeze()  # workers then touch (and copy) fewer of the helper's pages


def main(claude_dir: str) -> int:
    """Run the helper for `claude_dir` until it has reason to stop; 0 when it stopped normally."""
    layout = Layout(claude_dir)
    state_dir = str(layout.state_dir)
    lib_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.umask(0o077)
    if not trusted_state(state_dir):
        return 0  # a symlinked or shared state folder: nothing is created through it
    try:
        lock_fd = os.open(os.path.join(state_dir, LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another helper has this folder (or the folder is not ours to use)
    _write_pid(state_dir)  # at once: stop() trusts the pid file while this lock is held
    if not _enabled(layout):
        _cleanup(state_dir, "", None)
        return 0
    fingerprint = code_fingerprint(lib_dir)
    manifest = _manifest(lib_dir, fingerprint)
    warm()
    try:
        listener = _listen(state_dir)
    except OSError:
        _cleanup(state_dir, "", None)  # no pid file left naming a helper that never served
        return 1
    sock_path = os.path.join(state_dir, wire.SOCKET)
    sock_id = _identity(sock_path)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    inherited = client.passed_env()  # the hook variables a worker starts with (worker.serve)
    idle = 60.0 * float(_setting(layout, "idle_minutes", 10))
    # Spare workers wait in accept() themselves, so a hook meets a process that is already
    # forked. Each tells the helper on `notify` when it takes a request (the helper forks the
    # next spare) and dies with the helper while idle: `life` reads EOF once the helper is gone.
    notify_r, notify_w = os.pipe()
    life_r, life_w = os.pipe()
    for fd in (notify_r, notify_w, life_r, life_w):
        os.set_inheritable(fd, False)
    spares: set[int] = set()
    busy: dict[int, int | None] = {}  # pid -> a pidfd, readable once that worker has exited
    last_request = last_tick = time.monotonic()
    try:
        while True:
            _reap(spares, busy)
            # A spare taken is replaced as soon as no hook runs, and rehearses at once (_spare):
            # in the gap before the next hook, whose own process takes ~10 ms to start before it
            # asks, not while one runs (forking copies the helper's page tables, and rehearsing
            # takes milliseconds of CPU a hook on a small machine would wait for). Only when no
            # spare is left (parallel tool calls) is the next one forked at once, hooks running;
            # and where a worker's end cannot be waited for (no pidfd), as soon as it is taken.
            calm = not busy
            waitable = any(fd is not None for fd in busy.values())
            while len(spares) < SPARES and len(spares) + len(busy) < MAX_WORKERS and not (spares and waitable):
                pid = os.fork()
                if pid == 0:
                    os.close(notify_r)
                    os.close(life_w)
                    _spare(listener, lock_fd, notify_w, life_r, lib_dir, manifest, inherited, calm)  # never returns
                spares.add(pid)
            now = time.monotonic()
            if now - last_tick >= TICK_SECONDS:
                last_tick = now
                if (now - last_request >= idle or _identity(sock_path) != sock_id
                        or code_fingerprint(lib_dir) != fingerprint or not _enabled(layout)
                        or not os.path.exists(sys.executable)):  # uv's cache was cleaned under it
                    return 0
            waiting = [fd for fd in busy.values() if fd is not None]
            ready, _, _ = select.select([notify_r, *waiting], [], [], TICK_SECONDS)
            if notify_r not in ready:
                continue  # a tick, or a worker exited: reaped (and replaced) above
            data = os.read(notify_r, 4096)
            for i in range(0, len(data) - len(data) % 5, 5):
                pid, kind = int.from_bytes(data[i:i + 4], "big"), data[i + 4:i + 5]
                spares.discard(pid)
                if kind == b"s":
                    return 0  # a spare met new code: it turned its request away, unrun
                busy[pid] = _pidfd(pid)
                last_request = time.monotonic()
    except Stop:
        return 0
    finally:
        for pid in spares:  # idle ones only: a busy worker finishes its hook
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        _cleanup(state_dir, sock_path, sock_id)
        listener.close()


def _enabled(layout: Layout) -> bool:
    return bool(_setting(layout, "enabled", True))


def _setting(layout: Layout, name: str, default):
    try:
        from ..config.load import load

        return load(layout).get("helper", {}).get(name, default)
    except Exception:  # noqa: BLE001 - settings unreadable: the defaults
        return default


def _listen(state_dir: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir(state_dir)  # a relative address: a deep project path can exceed a socket's ~107 bytes
        try:
            st = os.lstat(wire.SOCKET)
            if (st.st_mode & 0o170000) == 0o140000:  # a stale socket of a helper that died
                os.unlink(wire.SOCKET)
        except FileNotFoundError:
            pass
        listener.bind(wire.SOCKET)
        os.chmod(wire.SOCKET, 0o600)
    finally:
        os.fchdir(here)
        os.close(here)
    listener.listen(64)
    listener.setblocking(False)  # several spares wait on it; the one that loses a race waits again
    return listener


def _identity(path: str) -> tuple | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _manifest(lib_dir: str, fingerprint: tuple | None = None) -> tuple | None:
    """MANIFEST.json's (size, mtime, inode), which every install or upgrade changes, as in
    `fingerprint` (code_fingerprint's) or else as it is now; None when there is none. Taken
    from the fingerprint once, so that the per-request check compares one stat, not the lot."""
    folder = os.path.join(lib_dir, "lifeguard")
    if fingerprint is not None:
        return next((entry[2:] for entry in fingerprint if entry[0] == folder and entry[1] == "MANIFEST.json"), None)
    try:
        st = os.stat(os.path.join(folder, "MANIFEST.json"))
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _same_user(conn: socket.socket) -> bool:
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is None:  # not Linux: the private state folder is the guard
        return True
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, so_peercred, 12)
    except OSError:
        return False
    return int.from_bytes(creds[4:8], sys.byteorder) == os.getuid()


def _write_pid(state_dir: str) -> None:
    from pathlib import Path

    from ..core.fsutil import atomic_write

    try:
        atomic_write(Path(state_dir) / PID, f"{os.getpid()}\n".encode())
    except OSError:
        pass


def _cleanup(state_dir: str, sock_path: str, sock_id: tuple | None) -> None:
    """Remove the socket and pid file, only while they are still this helper's."""
    if sock_id is not None and _identity(sock_path) == sock_id:
        try:
            os.unlink(sock_path)
        except OSError:
            pass
    pid_path = os.path.join(state_dir, PID)
    try:
        with open(pid_path, "rb") as f:
            if f.read().strip() == str(os.getpid()).encode():
                os.unlink(pid_path)
    except OSError:
        pass


def _on_term(signum, frame):  # noqa: ARG001
    raise Stop()


def _reap(spares: set[int], busy: dict[int, int | None]) -> None:
    """Collect the children that exited."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return
        spares.discard(pid)
        fd = busy.pop(pid, None)
        if fd is not None:
            os.close(fd)


def _pidfd(pid: int) -> int | None:
    """A descriptor that turns readable when the worker `pid` exits; None where the kernel or
    Python has none (then its replacement is forked at once, as the helper cannot wait on it)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _spare(listener: socket.socket, lock_fd: int, notify: int, life: int, lib_dir: str, manifest: tuple | None,
           inherited: dict[str, str], calm: bool) -> None:
    """A forked spare: wait for one request, say so, then serve it as a worker (`manifest` is the
    code's, _manifest; `inherited` the hook variables of the helper's environment, worker.serve;
    `calm`: forked while no hook ran)."""
    try:
        import gc

        gc.disable()  # a worker lives for one hook: collecting would only copy shared pages
        os.close(lock_fd)  # the helper's lock stays the helper's alone
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # idle: the helper may end it
        # the pages a hook writes are copied in a rehearsal (rehearsal.py), never while a hook
        # waits for this spare: at once when forked while no hook ran (the helper's loop), else
        # once no hook has come for REHEARSE_AFTER_SECONDS, not to take running hooks' CPU
        first_wait = 0.0 if calm else REHEARSE_AFTER_SECONDS
        rehearsed = False
        while True:
            ready, _, _ = select.select([listener, life], [], [], None if rehearsed else first_wait)
            if not ready:
                from . import rehearsal

                rehearsal.rehearse()
                rehearsed = True
                continue
            if life in ready:
                return  # the helper is gone
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another spare took it
            break
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # busy: the hook in hand is finished first
        me = os.getpid().to_bytes(4, "big")
        os.write(notify, me + b"a")
        if not _same_user(conn):
            return
        if _manifest(lib_dir) != manifest:
            os.write(notify, me + b"s")
            return  # closed unanswered: the client runs the hook itself, with the new code
        os.close(life)
        os.close(notify)
        listener.close()
        from . import worker

        worker.serve(conn, inherited)
    except BaseException:  # noqa: BLE001
        pass
    finally:
        os._exit(0)


def stop(claude_dir: str, wait: float = 3.0) -> bool:
    """Ask the helper of `claude_dir`, if one runs, to stop; True if none is left running.
    The pid file is trusted only while the helper's lock is held (a stale file names nobody)."""
    state_dir = os.path.join(claude_dir, "state")
    deadline = time.monotonic() + wait
    while not _lock_held(state_dir):  # none running; unless a hook has just started one
        try:
            starting = time.time() - os.lstat(os.path.join(state_dir, STARTED)).st_mtime < 5
        except OSError:
            starting = False
        if not starting or time.monotonic() >= deadline:
            return True
        time.sleep(0.05)
    pid = 0
    while pid <= 0:
        try:
            with open(os.path.join(state_dir, PID), "rb") as f:
                pid = int(f.read().strip() or b"0")
        except (OSError, ValueError):
            pid = 0
        if pid <= 0:
            if not _lock_held(state_dir):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
    if _is_helper(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except OSError as exc:
            if exc.errno != errno.EPERM:
                raise
    deadline = max(deadline, time.monotonic() + wait)
    while time.monotonic() < deadline:
        if not _lock_held(state_dir):
            return True
        time.sleep(0.02)
    return False


def _is_helper(pid: int) -> bool:
    """Where /proc tells, only a process running lifeguard's helper is signalled."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"lifeguard.hook.helper" in f.read()
    except FileNotFoundError:
        return os.path.isdir("/proc/self") is False  # no /proc here (macOS): trust the lock-guarded file
    except OSError:
        return False


def _lock_held(state_dir: str) -> bool:
    try:
        fd = os.open(os.path.join(state_dir, LOCK), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def running(claude_dir: str) -> bool:
    return _lock_held(os.path.join(claude_dir, "state"))
