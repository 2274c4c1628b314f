"""Starting the resident helper from a hook, and replacing one that does not answer: the
client's cold path (client.py imports this only once a hook has run in its own process, or after
a helper kept it waiting), kept apart so the client a hook loads on every tool call stays small.
"""

import os
import sys
import time

from . import wire
from .trust import trusted_state

LOCK = "helper.lock"  # held by the live helper of this .claude/ (one per workspace)
STARTED = "helper.started"  # touched when a hook starts a helper: at most one try per RETRY_SECONDS
RETRY_SECONDS = 30
SOCKET = wire.SOCKET


def replace_unanswering(claude_dir: str) -> bool:
    """After a helper did not answer a hook in time: when the holder of `helper.lock` really is
    this workspace's helper (/proc: its command line names this `.claude/`) and it, or spare
    workers of it, are stopped, kill those. A stopped helper goes with its socket (and the
    start marker), so the next hooks do not wait for it and this hook starts a fresh one, its
    lock now free; stopped spares are simply forked again by a live helper. A helper that is
    only busy is left alone. True if anything was killed."""
    import signal

    from ..core import proc

    state_dir = os.path.join(claude_dir, "state")
    holder = proc.flock_holder(os.path.join(state_dir, LOCK))
    if not holder or not proc.lifeguard_of(holder, claude_dir):
        return False
    stuck = [pid for pid in [holder, *proc.children(holder)] if proc.stopped(pid)]
    for pid in stuck:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if holder in stuck:
        for name in (SOCKET, STARTED):
            path = os.path.join(state_dir, name)
            try:
                if name != SOCKET or _is_socket(path):
                    os.unlink(path)
            except OSError:
                pass
    return bool(stuck)


def _is_socket(path) -> bool:
    import stat

    return stat.S_ISSOCK(os.lstat(path).st_mode)


def maybe_start(claude: str) -> None:
    """Start a helper in the background, unless settings say no or one was tried just now."""
    from ..config.load import load
    from ..config.switch import off_reason
    from ..core.paths import Layout

    layout = Layout(claude)
    if off_reason(claude) is not None or not load(layout).get("helper", {}).get("enabled", True):
        return
    if not trusted_state(layout.state):
        return  # a symlinked or shared state folder: no helper, and nothing created through it
    _move_aside_from_socket_path(layout)
    marker = os.path.join(layout.state, STARTED)
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


def _move_aside_from_socket_path(layout) -> None:
    """Anything but a socket at helper.sock (a file, FIFO, symlink, folder) would keep every
    helper from starting: it goes into quarantine (the entry itself, never opened or followed),
    and the hook says so on stderr."""
    from ..core import fsutil

    sock = os.path.join(layout.state, SOCKET)  # str paths: pathlib would cost this hook 3.6 ms
    try:
        if _is_socket(sock):
            return
    except FileNotFoundError:
        return
    kind = fsutil.planted_kind(sock) or "file"
    where = fsutil.quarantine_file(layout.quarantine, sock, f"a {kind} at {SOCKET}, where lifeguard's resident "
                                   "helper listens: moved aside so that a helper can start")
    if where is not None:
        sys.stderr.write(f"lifeguard: a {kind} (not lifeguard's socket) was at {sock}; moved it to {where} so that "
                         "the resident helper can start\n")


def start_helper(claude: str) -> None:
    """Fork a detached helper process: a new session, no inherited descriptors (Claude Code
    waits for the hook's stdout to close), output to /dev/null. Returns at once."""
    lib = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    argv = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
            "from lifeguard.hook.helper import main; sys.exit(main(sys.argv[2]))", lib, claude]
    from ..core.later import detached

    detached(lambda: os.execv(sys.executable, argv))
