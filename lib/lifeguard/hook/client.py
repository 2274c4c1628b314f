"""What every hook entry point calls: hand the hook to the resident helper, else run it here.

A hook costs a fresh Python process, and most of that cost is importing (json, pathlib, re)
and compiling regexes, before any work. The resident helper (helper.py) is one process per
installed `.claude/` that has done all that once; for each hook a forked worker of it runs the
very same runner on this hook's input (the exchange is in wire.py). So on its way to the helper
this module imports nothing beyond what Python has loaded at startup, plus _socket, select and
four small modules beside it (wire, timeout, environ, trust): not even os, which costs 1 ms
under `python -I -S` (environ.py), nor `__future__` (0.15 ms), nor the `core` package. Each
module a hook loads costs it about 0.1 ms here, so what only some hooks need lives apart:
starting or replacing a helper in launch.py. It runs under `python -I -S` (lifeguard-run's fast
path, `fast()`), loading site-packages only when the hook runs here; the paths that do more
(running the hook here, starting a helper) import os.

Exactly once, whatever dies when:
- Nothing runs before the client sends "G", so when anything fails before it (no helper, a
  stale socket, a helper that does not answer within ACK_SECONDS) the hook runs here instead.
- After "G" the client keeps the input. The worker says "C" once the event record is durable
  and "R" with the hook's output at the end. A worker that dies, or does not say "C" by its own
  deadline (stopped, wedged), is killed, and once it is gone (its end of the socket closed)
  the client runs the hook here, unless the log or spool already holds a record carrying this
  invocation's id (it wrote, then died before saying so). Only then is anything acknowledged.
- A worker that dies after "C" loses only its answer: the client fails open, event kept.

No helper running (the first hook of a session, or after `helper.idle_minutes`): the hook
runs here (on lifeguard-run's fast path too, without uv, when the hooks' environment holds the
pinned packages), then this process starts one in the background for the next hooks. A helper that
does not answer is checked (really this workspace's helper, and stopped?) and replaced. Set
LIFEGUARD_HELPER=0 in the environment, or `helper.enabled: false` in lifeguard.json, to never
use one.
"""

import posix
import sys
from _stat import S_ISLNK, S_ISSOCK

from . import environ, wire
from .trust import trusted_state
from .timeout import deadline_for, settings_timeout

SOCKET = wire.SOCKET
ACK_SECONDS = 2.0  # a worker normally answers within a few ms; past this the hook runs here
PASSED_ENV = ("CLAUDE_PROJECT_DIR",)  # plus every variable named with a PASSED_PREFIXES prefix
# OTEL_*: where the exporter a hook may start sends to (telemetry/trigger.py) is this hook's choice
PASSED_PREFIXES = ("LIFEGUARD_", "OTEL_")
NOT_TAKEN = 3  # fast(): the helper did not take the hook and stdin is untouched: run it the usual way
UNANSWERED = 4  # fast(): the same, after waiting ACK_SECONDS for the helper: do not ask it again
END_SECONDS = 2.0  # how long a killed worker may take to let go of its socket (and its locks)
POLL_SECONDS = 0.25  # how often a client whose worker is slow looks whether it is stopped

_unanswered_last = False  # via_helper's last None came after waiting ACK_SECONDS for no answer


def run_hook(event: str, hook_file: str) -> int:
    """Run one hook invocation, through the helper when one is up; returns the exit code."""
    from ..config.switch import env_disabled

    if env_disabled() and event != "SessionStart":  # SessionStart goes on to say lifeguard is off
        return 0
    claude = installed_claude_dir(hook_file)
    use_helper = claude is not None and environ.get("LIFEGUARD_HELPER") != "0"
    if use_helper:
        code = via_helper(claude, event, hook_file)
        if code is not None:
            return code
    return _run_here(event, hook_file, claude if use_helper else None)


def fast(script: str, hook_file: str) -> int:
    """lifeguard-run's fast path (`python -I -S`, no uv): an installed hook through the helper,
    else here, in this process, when the environment holds exactly the packages the hook pins; else
    NOT_TAKEN (UNANSWERED after a wait for no answer) with stdin untouched, so that
    lifeguard-run runs the hook through uv, which mends the environment. (LIFEGUARD_DISABLE
    is lifeguard-run's to honour, before this starts.)"""
    event = "".join(part.capitalize() for part in script.split("_"))  # pre_tool_use -> PreToolUse
    claude = installed_claude_dir(hook_file)  # None for a plugin's hook: no helper, run here
    use_helper = claude is not None and environ.get("LIFEGUARD_HELPER") != "0"
    if use_helper:
        code = via_helper(claude, event, hook_file)
        if code is not None:
            return code
    _full_library()  # site.main(): where this environment's site-packages are (a venv's, not its base's)
    if not can_run_here(event, hook_file):
        return UNANSWERED if use_helper and _unanswered_last else NOT_TAKEN
    return _run_here(event, hook_file, claude if use_helper else None)


def _run_here(event: str, hook_file: str, claude: str | None) -> int:
    """The hook in this process; then, with `claude`, a helper started for the next hooks."""
    from ..core import later
    from .runner import run

    code = run(event, hook_file)
    later.spawn()  # what the hook left for after its answer (SessionStart's sweep), detached
    if claude is not None:
        try:
            from .launch import maybe_start

            maybe_start(claude)
        except Exception:  # noqa: BLE001 - only an optimisation; the hook has answered
            pass
    return code


def can_run_here(event: str, hook_file: str) -> bool:
    """Whether `hook_file` is lifeguard's entry point for `event` (it calls run_hook for it; any
    other script in hooks/ is uv's to run) and this Python's site-packages hold every package
    its PEP 723 header pins, at the pinned version: what `uv run --script` would otherwise check
    and mend. Read without `re` or `tomllib`; a header that is not a plain list of
    `name==version` pins is not judged here (False: uv reads it)."""
    import os
    import site

    try:
        with open(hook_file, "rb") as f:
            text = f.read(8192).decode()
    except (OSError, UnicodeDecodeError):
        return False
    if f'run_hook("{event}", __file__)' not in text:
        return False
    for line in text.splitlines():
        if line.startswith("# dependencies = [") and line.endswith("]"):
            pins = [p.strip().strip('"') for p in line[len("# dependencies = ["):-1].split(",") if p.strip()]
            break
    else:
        return False
    folders = site.getsitepackages()
    for pin in pins:
        name, sep, version = pin.partition("==")
        if not (sep and name and version and (name + version).replace(".", "").replace("-", "").replace("_", "").isalnum()):
            return False
        dist = f"{name.lower().replace('-', '_').replace('.', '_')}-{version}.dist-info"
        if not any(os.path.isdir(os.path.join(folder, dist)) for folder in folders):
            return False
    return True


def fast_exit(script: str, hook_file: str) -> None:
    """`fast`, then exit with its code at once: everything this process wrote is out (the client
    writes with os.write; a hook it ran itself flushed its answer), and finalizing the interpreter
    would only add a millisecond to every hook."""
    code = fast(script, hook_file)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    posix._exit(code)


def installed_claude_dir(hook_file: str) -> str | None:
    """The `.claude` folder of an installed hook (as paths.find_claude_dir finds it), or None
    when the hook runs from a source checkout or LIFEGUARD_HOME points elsewhere: the helper
    is only for installed hooks."""
    if environ.get("LIFEGUARD_HOME"):
        return None  # a development setup: state elsewhere than beside the hooks
    if _normal(hook_file) and not _has_link(hook_file):
        real = hook_file  # what os.path.realpath returns for it, without importing os
    else:
        import os

        real = os.path.realpath(hook_file)
    claude = real.rsplit("/", 2)[0]
    return claude if claude.endswith("/.claude") else None


def _normal(path: str) -> bool:
    """Whether os.path.abspath returns `path` as it is: absolute, with no empty, `.` or `..` part."""
    return (path.startswith("/") and not path.endswith(("/", "/.", "/.."))
            and "//" not in path and "/./" not in path and "/../" not in path)


def _has_link(path: str) -> bool:
    """Whether any part of the absolute `path` is a symlink (or cannot be looked at): one lstat
    per part, as os.path.realpath would do."""
    end = 0
    while end >= 0:
        end = path.find("/", end + 1)
        try:
            if S_ISLNK(posix.lstat(path[:end] if end > 0 else path).st_mode):
                return True
        except OSError:
            return True
    return False


def trusted_socket(state_dir: str) -> bool:
    """A trusted state folder holding our socket: the request carries the hook's input, so it
    must not go to a socket someone else planted."""
    try:
        sock = posix.lstat(f"{state_dir}/{SOCKET}")
    except OSError:
        return False
    return trusted_state(state_dir) and S_ISSOCK(sock.st_mode) and sock.st_uid == posix.getuid()


def passed_env() -> dict[str, str]:
    return {k: v for k, v in environ.items() if passed(k)}


def passed(name: str) -> bool:
    """Whether the environment variable `name` goes with a hook to the helper's worker."""
    return name in PASSED_ENV or name.startswith(PASSED_PREFIXES)


def _connect(sock, path: str) -> None:
    """connect(), through a relative path when `path` is longer than a socket address allows."""
    if len(environ.fsencode(path)) < 100:
        sock.connect(path)
        return
    folder, _, name = path.rpartition("/")
    here = posix.open(".", posix.O_RDONLY)
    try:
        posix.chdir(folder)
        sock.connect(name)
    finally:
        posix.fchdir(here)
        posix.close(here)



def via_helper(claude: str, event: str, hook_file: str) -> int | None:
    """The hook's exit code once the helper took it (and saw it through, or the client did),
    or None when the helper did not take it: then nothing ran and stdin is untouched."""
    state_dir = f"{claude}/state"
    if not trusted_socket(state_dir):
        return None
    import _socket
    import time

    started = time.monotonic()
    invocation = posix.urandom(8).hex()
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(ACK_SECONDS)
        try:
            _connect(sock, f"{state_dir}/{SOCKET}")
            sock.sendall(wire.request(event, _absolute(hook_file), posix.getcwd(), invocation, passed_env()))
            import select  # noqa: F401 - loaded (0.2 ms) while the worker takes the request: _read_input's
            ack = wire.recv_exact(sock, 5)
        except TimeoutError:  # a helper that does not answer: checked, and replaced if stopped
            global _unanswered_last
            _unanswered_last = True
            _unanswered(claude)
            return None
        except OSError:  # no helper, a stale socket
            return None
        if len(ack) != 5 or ack[:1] != wire.ACCEPT:
            return None  # turned away unrun (the helper's code changed)
        return _see_through(sock, int.from_bytes(ack[1:], "big"), event, hook_file, invocation, started)
    finally:
        sock.close()


def _absolute(path: str) -> str:
    """os.path.abspath(path), without importing os when `path` is one already."""
    if _normal(path):
        return path
    import os

    return os.path.abspath(path)


def _see_through(sock, pid: int, event: str, hook_file: str, invocation: str, started: float) -> int:
    """From "A" on the hook is this client's to finish: it ends exactly once, here or there."""
    import time

    try:  # a handle on the worker that cannot name another process once the pid is reused
        pidfd = posix.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    timeout = settings_timeout()
    deadline = started + deadline_for(timeout)
    data = _read_input(deadline)
    if data is None:  # stdin never closed: nothing to record, as when the hook runs alone
        sock.close()  # the worker, still waiting for "G", ends unrun
        _close(pidfd)
        _full_library()
        from .runner import DeadlineExceeded, fail_open

        fail_open(event, hook_file, DeadlineExceeded(), started)
        _write(1, b"{}")
        return 0
    # the worker's own deadline spools an unwritten record at `deadline`: "C" comes by then
    written_by, answer_by = deadline + 0.5, started + timeout - 1.3
    written = False
    try:
        sock.sendall(wire.go(data))
        while True:
            left = (answer_by if written else written_by) - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(min(left, POLL_SECONDS))
            try:
                kind = sock.recv(1)
            except TimeoutError:  # slow: fine while it runs, not when it is stopped
                from ..core.proc import stopped

                if stopped(pid):
                    break
                continue
            if kind == wire.WRITTEN:
                written = True
                continue
            if kind == wire.RESULT:
                got = wire.read_result(sock, wire.MAX_INPUT_BYTES)
                if got is not None:
                    _close(pidfd)
                    _write(2, got[2])
                    _write(1, got[1])
                    return got[0]
            break  # closed: the worker died
    except OSError:  # the connection broke: the worker died
        pass
    gone, written = _end_worker(sock, pid, pidfd, written)
    return _resume(event, hook_file, data, invocation, started, gone, written)


def _read_input(deadline: float) -> bytes | None:
    """The hook's stdin, up to wire.MAX_INPUT_BYTES + 1 bytes; None if it is still open at `deadline`."""
    import select
    import time

    chunks, have = [], 0
    while have <= wire.MAX_INPUT_BYTES:
        # past the deadline, what is there is still read (a late answer from the helper must not
        # cost an input that was there all along); only waiting for more stops
        if not select.select([0], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return None
        try:
            chunk = posix.read(0, min(1 << 20, wire.MAX_INPUT_BYTES + 1 - have))
        except OSError:  # no stdin at all: an empty input, which the runner refuses
            break
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def _end_worker(sock, pid: int, pidfd: int | None, written: bool) -> tuple[bool, bool]:
    """Kill the worker and wait until its end of the socket closes, which happens only when it
    has exited (the socket is its alone) and so holds no lock and can write nothing more.
    Returns (gone, written): whether it is surely gone, and whether it had said "C"."""
    import signal
    import time

    try:
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            posix.kill(pid, signal.SIGKILL)
    except OSError:  # already gone
        pass
    _close(pidfd)
    until, first = time.monotonic() + END_SECONDS, not written
    try:
        while True:
            sock.settimeout(max(0.01, until - time.monotonic()))
            chunk = sock.recv(1 << 16)
            if not chunk:
                return True, written
            written = written or (first and chunk[:1] == wire.WRITTEN)  # a late "C"
            first = False
    except ConnectionResetError:  # closed with our input unread: gone all the same
        return True, written
    except OSError:  # still not gone (stuck in the kernel)
        return False, written


def _resume(event: str, hook_file: str, data: bytes, invocation: str, started: float, gone: bool,
            written: bool) -> int:
    """The worker is gone without answering: the hook ends here, its event written exactly once."""
    _full_library()
    from .runner import HelperLost, fail_open, run

    if written:
        reason = "lifeguard's resident helper stopped after recording the event, before answering"
    elif not gone:
        reason = "lifeguard's resident helper could not be ended; the hook's event may not be recorded"
    else:
        from ..core.paths import Layout, find_claude_dir
        from ..store import inflight
        from . import protocol

        try:
            session_id = protocol.parse(data).get("session_id") or "unknown"
        except protocol.BadInput:
            session_id = None  # no event to record: the runner says why
        layout = Layout(find_claude_dir(hook_file))
        if session_id is None or not inflight.written(layout, session_id, invocation):
            import time

            # what is left before lifeguard-run's `timeout` (settings timeout - 1 s), less the
            # fault path's own budget; at least enough to spool the event
            budget = max(0.3, started + settings_timeout() - 1.6 - time.monotonic())
            code = run(event, hook_file, raw=data, invocation=invocation, started=started, budget=budget)
            from ..core import later

            later.spawn()  # what the hook left for after its answer, as in run_hook
            return code
        reason = "lifeguard's resident helper stopped after recording the event, before answering"
    fail_open(event, hook_file, HelperLost(reason), started)
    _write(1, b"{}")
    return 0


def _full_library() -> None:
    """Under `python -S` (the fast path), site-packages only when the whole library is needed."""
    if sys.flags.no_site and "site" not in sys.modules:
        import site

        site.main()


def _write(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[posix.write(fd, data):]
    except OSError:
        pass  # Claude Code went away; nothing to tell


def _close(fd: int | None) -> None:
    if fd is not None:
        posix.close(fd)


def _unanswered(claude: str) -> None:
    try:
        from .launch import replace_unanswering

        replace_unanswering(claude)
    except Exception:  # noqa: BLE001 - the hook runs here all the same
        pass
