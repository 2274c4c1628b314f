"""Where lifeguard keeps things. Every path built from input goes through `safe_name`."""

from __future__ import annotations

import os
import re
from pathlib import Path

# Claude Code's session ids are UUIDs: used as they are, so file names stay readable. A name of
# the hashed form maps to itself, so an id read back from a file name reaches the same files.
_KEPT = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|h-[0-9a-f]{16}")


def safe_name(raw: object) -> str:
    """A file-name component for an id that came from outside.

    A UUID (any case) or an `h-<16 hex>` name is kept as it is. Anything else (a plain word,
    `../`, slashes, odd bytes, empty, a secret pasted by mistake) maps to `h-` and 16 hex digits
    of its sha256, so it can never name a path outside its folder nor show on disk.
    """
    if isinstance(raw, str) and _KEPT.fullmatch(raw):
        return raw
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else repr(raw).encode()
    import hashlib  # only for ids that are not UUIDs: off the usual path

    return "h-" + hashlib.sha256(data).hexdigest()[:16]


def reachable(name: str) -> bool:
    """Whether a name read from a file name is one `safe_name` gives (and so reaches its files).
    Files of older versions named after a plain id (`session-s1.json`) are not: left as they are."""
    return safe_name(name) == name


class UnsafeName(ValueError):
    """A name given on a command line (or in input) that would lead outside its folder."""


def safe_child(folder: Path, name: str) -> Path:
    """`folder / name` for a name that came from outside (a backup name on a command line),
    refusing anything that is empty, absolute, holds a NUL, or resolves (through `..` or links)
    outside `folder`. Raises UnsafeName with a message fit for the user."""
    folder = Path(folder)
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise UnsafeName(f"refusing {name!r}: give the name of an entry inside {folder}")
    if "\0" in name or len(name.encode("utf-8", "surrogatepass")) > 1024:
        raise UnsafeName(f"refusing {name[:60]!r}: not a usable file name (NUL byte or too long)")
    if os.path.isabs(name):
        raise UnsafeName(f"refusing {name!r}: an absolute path; give a name inside {folder}")
    base = folder.resolve()
    target = (base / name).resolve()
    if target == base or base not in target.parents:
        raise UnsafeName(f"refusing {name!r}: it leads outside {folder} (via '..' or a link)")
    return target


def find_claude_dir(hook_file: str | None = None) -> Path:
    """The `.claude` folder lifeguard is installed in.

    An installed hook lives in `.claude/hooks/`, so that wins. From a source checkout
    (tests, benchmarks) `LIFEGUARD_HOME` or `CLAUDE_PROJECT_DIR` decide, then the cwd.
    """
    env_home = os.environ.get("LIFEGUARD_HOME")
    if env_home:
        return Path(env_home)
    if hook_file:
        parent = Path(hook_file).resolve().parent.parent
        if parent.name == ".claude":
            return parent
    project = os.environ.get("CLAUDE_PROJECT_DIR")
    return Path(project or os.getcwd()) / ".claude"


def tool_command(claude_dir: Path) -> str:
    """What to tell the user to type to run lifeguard's tools (a verb follows): the launcher
    install.sh put at `.claude/lifeguard`, else the one in this code's own checkout or plugin
    folder, pointed at the project."""
    import shlex  # only for messages: off the usual path

    launcher = Path(claude_dir) / "lifeguard"
    if launcher.is_file():
        return shlex.quote(str(launcher))
    root = next(p.parent for p in Path(__file__).resolve().parents if p.name == "lib")
    return f"{shlex.quote(str(root / 'scripts' / 'lifeguard'))} --workspace {shlex.quote(str(Path(claude_dir).parent))}"


class Layout:
    """The state folder's layout. Construction touches no disk."""

    def __init__(self, claude_dir: Path):
        self.claude_dir = Path(claude_dir)
        self.state_dir = self.claude_dir / "state"
        self.quarantine_dir = self.state_dir / "quarantine"
        self.spool_dir = self.state_dir / "spool"
        self.backup_dir = self.state_dir / "backups"
        self.archive_dir = self.state_dir / "archive"
        self.config_file = self.claude_dir / "lifeguard.json"
        self.faults_log = self.state_dir / "faults.jsonl"

    def session_file(self, session_id: str) -> Path:
        return self.state_dir / f"session-{safe_name(session_id)}.json"

    def event_log(self, session_id: str) -> Path:
        return self.state_dir / f"events-{safe_name(session_id)}.jsonl"

    def lock_file(self, session_id: str) -> Path:
        return self.state_dir / f"session-{safe_name(session_id)}.lock"

    def session_spool(self, session_id: str) -> Path:
        return self.spool_dir / safe_name(session_id)
