"""The code install.sh copies and its manifest, `.claude/lib/lifeguard/MANIFEST.json`: every file
installed, with its hash, so an upgrade replaces exactly lifeguard's files and uninstall removes
exactly them (a file changed since it was installed is kept)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ...core import fsutil
from .common import REPO, say, write_public

MANIFEST = Path("lib/lifeguard/MANIFEST.json")
SLASH_COMMAND = "commands/lifeguard.md"
LAUNCHER = "lifeguard"  # .claude/lifeguard: runs the recovery tools with whatever Python works


def write_code(path: Path, data: bytes, mode: int, folders: set[Path]) -> None:
    """Like write_public (fsynced temp file, mode set, then renamed over `path`), leaving the
    folder's fsync to the caller, who does it once for all the files it writes there."""
    tmp = fsutil.write_temp(path, data)
    try:
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    folders.add(path.parent)


def source_files() -> dict[str, Path]:
    """Destination (relative to .claude/) -> source file in this checkout."""
    files: dict[str, Path] = {}
    for src in sorted((REPO / "hooks").iterdir()):
        if src.is_file() and (src.suffix == ".py" or src.name in ("lifeguard-run", "guard-run")):
            files[f"hooks/{src.name}"] = src
    for src in sorted((REPO / "lib" / "lifeguard").rglob("*.py")):
        if "__pycache__" not in src.parts:
            files[str(Path("lib") / src.relative_to(REPO / "lib"))] = src
    scripts = REPO / "scripts"
    if scripts.is_dir():
        for src in sorted(scripts.iterdir()):
            if src.is_file() and src.suffix in (".py", ".sh"):
                files[f"scripts/{src.name}"] = src
    files[LAUNCHER] = scripts / "lifeguard"
    files[SLASH_COMMAND] = REPO / ".claude" / SLASH_COMMAND  # /lifeguard inside Claude Code
    return files


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(claude: Path) -> dict:
    try:
        data = json.loads((claude / MANIFEST).read_bytes())
        return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else {"files": {}}
    except (OSError, ValueError):
        return {"files": {}}


def generate(claude: Path, rel: str, line: str, written: dict[str, str]) -> None:
    """A one-line file install.sh writes (not copied from the checkout), listed in the manifest."""
    data = (line + "\n").encode()
    if not (claude / rel).exists() or (claude / rel).read_bytes() != data:
        write_public(claude / rel, data)
    written[rel] = digest(data)


def remove_if_unchanged(path: Path, sha: str) -> bool:
    try:
        if digest(path.read_bytes()) != sha:
            say(f"kept {path} (changed since it was installed)")
            return False
        path.unlink()
        return True
    except FileNotFoundError:
        return True
