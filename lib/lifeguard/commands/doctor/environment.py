"""What the hooks run on: the resident helper (and nothing else at its socket's path), uv (found,
on PATH, its cache not locked), Python recent enough."""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from ...core.paths import Layout
from ..install.environment import UV_PATH_FILE
from ..install.manifest import MANIFEST
from .findings import Finding, fail, ok, warn
from .settings import enabled_plugin

MIN_PYTHON = (3, 11)


def check_helper(layout: Layout) -> list[Finding]:
    from ...hook import client, helper

    claude = str(layout.claude_dir)
    sock = layout.state_dir / client.SOCKET
    try:
        st = os.lstat(sock)
    except OSError:
        st = None
    if st is not None and not stat.S_ISSOCK(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "a symlink" if stat.S_ISLNK(st.st_mode) else "a file"
        return [fail(f"{sock} is {what}, not the helper's socket: no hook can use the resident helper, so each "
                     "starts cold (several times slower)", f"move it aside: mv {shlex.quote(str(sock))} "
                     f"{shlex.quote(str(sock))}.old (the next hook starts a helper)")]
    if helper.running(claude):
        pid = (layout.state_dir / helper.PID)
        who = pid.read_text().strip() if pid.is_file() else "?"
        return [ok(f"the resident helper is running (pid {who}); it exits by itself when idle")]
    from ...config.load import load

    if not load(layout).get("helper", {}).get("enabled", True):
        return [ok("the resident helper is turned off (helper.enabled in lifeguard.json): each hook runs in its own process")]
    if not (layout.claude_dir / MANIFEST).exists() and enabled_plugin(layout):
        return [ok("the plugin's hooks run without the resident helper: each in its own process")]
    return [ok("no resident helper running now; the next hook starts one")]


def find_uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    for candidate in (Path.home() / ".local/bin/uv", Path.home() / ".cargo/bin/uv", Path("/usr/local/bin/uv")):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def recorded_uv(layout: Layout) -> str | None:
    """The uv install.sh recorded for the hooks (hooks/uv.path), if it is there and runs."""
    try:
        line = (layout.claude_dir / UV_PATH_FILE).read_text().strip()
    except OSError:
        return None
    return line if line and os.access(line, os.X_OK) and not os.path.isdir(line) else None


def check_uv(layout: Layout) -> list[Finding]:
    recorded, on_path = recorded_uv(layout), shutil.which("uv")
    uv = recorded or find_uv()
    if uv is None:
        return [fail("uv was not found, so the hooks cannot run", "install it: python3 -m pip install --user uv")]
    findings: list[Finding] = []
    if recorded and not on_path:
        folder = shlex.quote(os.path.dirname(recorded))
        findings.append(warn(f"uv is at {recorded} (recorded in .claude/{UV_PATH_FILE}) but not on your PATH: "
                             "the hooks find it, the `uv run` commands in the README do not (uv: command not found)",
                             f'add it to PATH in your shell profile: export PATH={folder}:"$PATH"'))
    try:
        version = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        cache = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [fail(f"uv at {uv} does not answer ({exc})", "reinstall uv: python3 -m pip install --user --force-reinstall uv")]
    findings.append(ok(f"uv: {version} at {uv}"))
    if cache and uv_cache_locked(Path(cache)):
        findings.append(fail(f"uv's cache {cache} is locked by another process (uv cache clean / prune running?)",
                             "wait for it to finish, or find it with: ps aux | grep 'uv cache'"))
    return findings


def uv_cache_locked(cache: Path) -> bool:
    """True when another process holds uv's cache lock exclusively (a clean or prune)."""
    try:
        fd = os.open(cache / ".lock", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def check_python() -> list[Finding]:
    here = sys.version_info[:3]
    findings = []
    if here[:2] < MIN_PYTHON:
        findings.append(fail(f"Python {'.'.join(map(str, here))} runs this tool; lifeguard needs {'.'.join(map(str, MIN_PYTHON))}+",
                             "let uv pick one: uv python install 3.11"))
    else:
        findings.append(ok(f"Python {'.'.join(map(str, here))} ({sys.executable})"))
    return findings
