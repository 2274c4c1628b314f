"""lifeguard's block in `.claude/.gitignore`: keeps what it writes while it runs out of git
status; the user's own lines are kept as they are."""

from __future__ import annotations

from pathlib import Path

from .common import write_public
from .environment import PYTHON_PATH_FILE, UV_PATH_FILE

GITIGNORE = ".gitignore"  # .claude/.gitignore: lifeguard's block keeps what it writes out of git status
IGNORE_BEGIN = "# lifeguard: what it writes while it runs (install.sh --uninstall removes this block)"
IGNORE_END = "# end of lifeguard's block"
IGNORED = ("/state/", "/recovery/", "/alerts.log*", "/urgent_alerts.txt*", "/" + UV_PATH_FILE,
           "/" + PYTHON_PATH_FILE, "/hooks/__pycache__/", "/lib/**/__pycache__/", "/scripts/__pycache__/")


def without_ignore_block(text: str) -> str:
    lines = text.splitlines(keepends=True)
    if IGNORE_BEGIN + "\n" not in lines:
        return text
    start = lines.index(IGNORE_BEGIN + "\n")
    end = next((i for i in range(start, len(lines)) if lines[i].rstrip("\n") == IGNORE_END), len(lines) - 1)
    return "".join(lines[:start] + lines[end + 1:])


def write_gitignore(claude: Path) -> bool:
    """lifeguard's block in .claude/.gitignore, the user's lines kept; True when it changed."""
    path = claude / GITIGNORE
    text = path.read_text() if path.exists() else ""
    kept = without_ignore_block(text)
    wanted = kept + ("" if not kept or kept.endswith("\n") else "\n") + "\n".join((IGNORE_BEGIN, *IGNORED, IGNORE_END)) + "\n"
    if wanted == text:
        return False
    write_public(path, wanted.encode())
    return True
