"""What the hooks run on: the uv binary, the one uv environment all hooks share (its Python
recorded in hooks/python.path), the library's bytecode compiled for it, and the user's
lifeguard.json checked with that Python (which has pydantic)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .common import REPO, say

UV_PATH_FILE = "hooks/uv.path"
PYTHON_PATH_FILE = "hooks/python.path"  # the Python of the hooks' shared uv environment
ENV_SCRIPT = "scripts/state_recovery.py"  # its dependencies are every hook's, plus the tools' own


def resolved_uv() -> str | None:
    """The uv binary itself: `uv run` (which install.sh uses) names it in $UV; else PATH."""
    for candidate in (os.environ.get("UV"), shutil.which("uv")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            with open(candidate, "rb") as f:
                if f.read(2) != b"#!":  # a wrapper script such as a pyenv shim is not the binary
                    return os.path.abspath(candidate)
    return None


def recorded_python(claude: Path) -> str | None:
    """The hooks' environment's Python that an earlier install recorded, if it is still there."""
    try:
        python = (claude / PYTHON_PATH_FILE).read_text().strip()
    except OSError:
        return None
    return python if python and os.access(python, os.X_OK) else None


def precompile(claude: Path, python: str) -> None:
    """Write the library's bytecode now, for `python`.

    Hooks then never compile it, which matters where PYTHONDONTWRITEBYTECODE is set (Claude Code
    passes the user's environment on): Python still reads .pyc files then, it only never writes
    them, so without this every hook would compile the whole library again (~100 ms).
    Up-to-date files are left alone, so installing twice changes nothing.
    """
    code = "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=2)"
    try:
        subprocess.run([python, "-c", code, str(claude / "lib")], capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        pass  # only an optimisation


def prepare_environment(claude: Path, uv: str | None) -> str | None:
    """Build the one uv environment all hooks (and the recovery tools) run in; record its Python.

    Every hook pins the same packages, so one environment serves them all: lifeguard-run points
    `uv run --active` at it (VIRTUAL_ENV), instead of uv building one per hook script. It is the
    script environment uv keeps for ENV_SCRIPT (in uv's cache; `uv cache clean` removes it and the
    next hook builds it again at the same place). Returns its Python, or None when uv could not
    build it (the hooks then each get their own environment on first use, as uv does by default).
    """
    if not uv:
        say("uv not found; skipped preparing the hooks' environment")
        return None
    script = str(claude / ENV_SCRIPT)
    say("preparing the hooks' environment (one for all hooks; uv's cache makes this quick)")
    proc = subprocess.run([uv, "sync", "-q", "--script", script], capture_output=True, text=True)
    if proc.returncode == 0:
        proc = subprocess.run([uv, "python", "find", "--script", script], capture_output=True, text=True)
    python = proc.stdout.strip() if proc.returncode == 0 else ""
    if not python or not os.access(python, os.X_OK):
        say(f"could not prepare the hooks' environment (uv: {proc.stderr.strip().splitlines()[-1:]}); "
            "each hook prepares its own on first use")
        return None
    return python


def check_config(claude: Path, python: str | None) -> None:
    """Report what is wrong in the user's existing lifeguard.json (kept as it is): each bad value
    with its key and the default used instead. Validation needs pydantic, which the hooks'
    environment has; without it the check is left to doctor, and this says so."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from lifeguard.config.load import validate_file; "
            "from lifeguard.core.paths import Layout; print('\\n'.join(validate_file(Layout(sys.argv[2])).problems))")
    try:
        proc = subprocess.run([python or sys.executable, "-c", code, str(REPO / "lib"), str(claude)],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is None or proc.returncode != 0:
        say("kept your .claude/lifeguard.json; could not check it here (check it with: .claude/lifeguard doctor)")
        return
    problems = [line for line in proc.stdout.splitlines() if line.strip()]
    if not problems:
        say("kept your .claude/lifeguard.json (checked: valid)")
        return
    say(f"kept your .claude/lifeguard.json, but {len(problems)} setting(s) in it are not usable; the hooks use the "
        "default for each until you fix it:")
    for problem in problems:
        say(f"  {problem}")
