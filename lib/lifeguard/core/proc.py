"""Other processes, as /proc tells (Linux; elsewhere every answer is "unknown"): whether one is
stopped, whether it is lifeguard's own (a hook or the resident helper of a given `.claude/`),
and who holds a flock. Used to take a lock or a helper away from a stopped holder: a stopped
process never lets go, while a busy one does."""

from __future__ import annotations

import os


def stopped(pid: int) -> bool:
    """Whether `pid` is stopped (SIGSTOP, SIGTSTP, or stopped by a tracer)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] in ([b"T"], [b"t"])
    except OSError:
        return False


def lifeguard_of(pid: int, claude_dir: str) -> bool:
    """Whether `pid` is one of lifeguard's processes for `claude_dir`: its resident helper (or a
    worker, a fork of it), or a hook run from `claude_dir/hooks/`. Same user only."""
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.getuid():
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    claude = os.fsencode(os.path.realpath(claude_dir))
    helper = any(b"lifeguard.hook.helper" in a for a in args) and claude in args
    hook = any(os.path.realpath(a).startswith(claude + b"/hooks/") for a in args[1:3] if a)
    return helper or hook


def flock_holder(path) -> int | None:
    """The pid holding an exclusive flock on the file at `path` (None if none, or unknown)."""
    try:
        st = os.stat(path)
        with open("/proc/locks", "rb") as f:
            table = f.read()
    except OSError:
        return None
    inode = b":%d" % st.st_ino
    for line in table.splitlines():
        parts = line.split()
        # "1: FLOCK ADVISORY WRITE 1234 08:01:5678 0 EOF"; lines with "->" are waiters
        if len(parts) >= 6 and parts[1] == b"FLOCK" and parts[3] == b"WRITE" and parts[5].endswith(inode):
            major_minor = parts[5][: -len(inode)].split(b":")
            try:
                if (int(major_minor[0], 16), int(major_minor[1], 16)) == (os.major(st.st_dev), os.minor(st.st_dev)):
                    return int(parts[4])
            except (ValueError, IndexError):
                continue
    return None


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    if int(f.read().rpartition(b")")[2].split()[1]) == pid:
                        found.append(int(name))
            except (OSError, ValueError, IndexError):
                continue
    return found
