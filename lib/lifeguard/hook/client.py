"""What every hook entry point calls: hand the hook to the resident helper, else run it here.

A hook costs a fresh Python process, and most of that cost is importing (json, pathlib, re)
and compiling regexes, before any work. The resident helper (helper.py) is one process per
installed `.claude/` that has done all that once; for each hook a forked copy of it runs the
very same runner, with this process's stdin, stdout and stderr passed over a Unix
socket. So this module imports nothing beyond what Python has loaded at startup, plus _socket and
`timeout` (which imports only os).

Protocol (all on `.claude/state/helper.sock`, a socket in the private state folder):
  client -> helper  request (length-prefixed: event, hook file, cwd, LIFEGUARD_* and OTEL_* variables)
  helper -> client  b"A"   (a forked worker holds the request)
  client -> helper  b"G"   with fds 0, 1, 2 attached (SCM_RIGHTS); from here on the client
                           never runs the hook itself
  helper -> client  one byte, the exit code, once the hook is done
Nothing ran before "G", so when anything fails before it (no helper, a stale socket, a
wedged helper) the hook runs here instead, exactly once. After "G" the hook is the helper's:
if the worker dies without an exit code the client fails open, like a killed hook.

No helper running (the first hook of a session, or after `helper.idle_minutes`): the hook
runs here, then this process starts one in the background for the next hooks. Set
LIFEGUARD_HELPER=0 in the environment, or `helper.enabled: false` in lifeguard.json, to never
use one.
"""

from __future__ import annotations

import os
import stat
import sys

from .timeout import settings_timeout

SOCKET = "helper.sock"
STARTED = "helper.started"  # touched when a hook starts a helper: at most one try per RETRY_SECONDS
RETRY_SECONDS = 30
ACK_SECONDS = 2.0  # a worker normally answers within a few ms; past this the hook runs here
PASSED_ENV = ("CLAUDE_PROJECT_DIR",)  # plus every variable named with a PASSED_PREFIXES prefix
# OTEL_*: where the exporter a hook may start sends to (telemetry/trigger.py) is this hook's choice
PASSED_PREFIXES = ("LIFEGUARD_", "OTEL_")
MAGIC = b"LGH1"


def run_hook(event: str, hook_file: str) -> int:
    """Run one hook invocation, through the helper when one is up; returns the exit code."""
    from ..config.switch import env_disabled

    if env_disabled() and event != "SessionStart":  # SessionStart goes on to say lifeguard is off
        return 0
    claude = installed_claude_dir(hook_file)
    if claude is not None and os.environ.get("LIFEGUARD_HELPER", "1") != "0":
        code = _via_helper(claude, event, hook_file)
        if code is not None:
            return code
    from ..core import later
    from .runner import run

    code = run(event, hook_file)
    later.spawn()  # what the hook left for after its answer (SessionStart's sweep), detached
    if claude is not None and os.environ.get("LIFEGUARD_HELPER", "1") != "0":
        try:
            _maybe_start_helper(claude)
        except Exception:  # noqa: BLE001 - only an optimisation; the hook has answered
            pass
    return code


def installed_claude_dir(hook_file: str) -> str | None:
    """The `.claude` folder of an installed hook (as paths.find_claude_dir finds it), or None
    when the hook runs from a source checkout or LIFEGUARD_HOME points elsewhere: the helper
    is only for installed hooks."""
    if os.environ.get("LIFEGUARD_HOME"):
        return None  # a development setup: state elsewhere than beside the hooks
    claude = os.path.dirname(os.path.dirname(os.path.realpath(hook_file)))
    return claude if os.path.basename(claude) == ".claude" else None


def trusted_socket(state_dir: str) -> bool:
    """The state folder is ours, a real folder no one else can write, holding our socket: the
    request carries our stdin and stdout, so it must not go to a socket someone else planted."""
    uid = os.getuid()
    try:
        folder = os.lstat(state_dir)
        sock = os.lstat(os.path.join(state_dir, SOCKET))
    except OSError:
        return False
    return (stat.S_ISDIR(folder.st_mode) and folder.st_uid == uid and not folder.st_mode & 0o022
            and stat.S_ISSOCK(sock.st_mode) and sock.st_uid == uid)


def encode_request(event: str, hook_file: str, cwd: str, env: dict[str, str]) -> bytes:
    parts = [event, hook_file, cwd] + [f"{k}={v}" for k, v in env.items()]
    body = b"\0".join(os.fsencode(p) for p in parts)
    return MAGIC + len(body).to_bytes(4, "big") + body


def passed_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if passed(k)}


def passed(name: str) -> bool:
    """Whether the environment variable `name` goes with a hook to the helper's worker."""
    return name in PASSED_ENV or name.startswith(PASSED_PREFIXES)


def _connect(sock, path: str) -> None:
    """connect(), through a relative path when `path` is longer than a socket address allows."""
    if len(os.fsencode(path)) < 100:
        sock.connect(path)
        return
    here = os.open(".", os.O_RDONLY)
    try:
        os.chdir(os.path.dirname(path))
        sock.connect(os.path.basename(path))
    finally:
        os.fchdir(here)
        os.close(here)


def _via_helper(claude: str, event: str, hook_file: str) -> int | None:
    """The exit code the helper's worker gave, or None when the hook must run here."""
    state_dir = os.path.join(claude, "state")
    if not trusted_socket(state_dir):
        return None
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(ACK_SECONDS)
        try:
            _connect(sock, os.path.join(state_dir, SOCKET))
            sock.sendall(encode_request(event, os.path.abspath(hook_file), os.getcwd(), passed_env()))
            if sock.recv(1) != b"A":
                return None
            # stdio goes with "G" only: descriptors sent to a helper that never answers would keep
            # Claude Code waiting for this hook's stdout to close
            fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2))
            sock.sendmsg([b"G"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        except OSError:  # no helper, a stale socket, a helper that did not answer in time
            return None
        # the worker has the hook now, and its own deadline well under the settings timeout;
        # wait for it until just before lifeguard-run's `timeout` (settings timeout - 1 s)
        sock.settimeout(max(1.0, settings_timeout() - 1.5))
        try:
            code = sock.recv(1)
        except OSError:
            code = b""
        if code:
            return code[0]
        from .runner import HelperLost, fail_open

        fail_open(event, hook_file, HelperLost("lifeguard's resident helper stopped before finishing the hook"))
        return 0
    finally:
        sock.close()


def _maybe_start_helper(claude: str) -> None:
    """Start a helper in the background, unless settings say no or one was tried just now."""
    import time

    from ..config.load import load
    from ..core.paths import Layout

    from ..config.switch import off_reason

    layout = Layout(claude)
    if off_reason(claude) is not None or not load(layout).get("helper", {}).get("enabled", True):
        return
    marker = os.path.join(claude, "state", STARTED)
    try:
        if time.time() - os.lstat(marker).st_mtime < RETRY_SECONDS:
            return
    except FileNotFoundError:
        pass
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.utime(fd)
    finally:
        os.close(fd)
    start_helper(claude)


def start_helper(claude: str) -> None:
    """Fork a detached helper process: a new session, no inherited descriptors (Claude Code
    waits for the hook's stdout to close), output to /dev/null. Returns at once."""
    lib = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    argv = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
            "from lifeguard.hook.helper import main; sys.exit(main(sys.argv[2]))", lib, claude]
    from ..core.later import detached

    detached(lambda: os.execv(sys.executable, argv))
