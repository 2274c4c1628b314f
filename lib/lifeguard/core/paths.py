"""Where lifeguard keeps things. Every path built from input goes through `safe_name`.

Paths here are str, joined with os.path: the hot hooks only join, open and stat them, and
pathlib costs a hook 3.6 ms to import (with urllib.parse and ipaddress, for Path.as_uri), a
tenth of its whole run. `Layout` gives each folder and file both ways: as str (`layout.state`,
`layout.log_path(id)`), what the hot path uses, and as a `pathlib.Path` (`layout.state_dir`,
`layout.event_log(id)`), for the tools and the tests, which import pathlib on first use.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # pathlib is imported where a Path is asked for, not here (see above)
if TYPE_CHECKING:
    from pathlib import Path

_HEX = frozenset("0123456789abcdefABCDEF")
_LOWER_HEX = frozenset("0123456789abcdef")


def safe_name(raw: object) -> str:
    """A file-name component for an id that came from outside.

    A UUID (any case) or an `h-<16 hex>` name is kept as it is. Anything else (a plain word,
    `../`, slashes, odd bytes, empty, a secret pasted by mistake) maps to `h-` and 16 hex digits
    of its sha256, so it can never name a path outside its folder nor show on disk.
    """
    if isinstance(raw, str) and _kept(raw):
        return raw
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else repr(raw).encode()
    import hashlib  # only for ids that are not UUIDs: off the usual path

    return "h-" + hashlib.sha256(data).hexdigest()[:16]


def _kept(name: str) -> bool:
    """A UUID (any case: Claude Code's session ids, used as they are, so file names stay
    readable) or an `h-<16 lowercase hex>` name (which maps to itself, so an id read back from a
    file name reaches the same files). Checked without a regex: compiling one cost every hook
    0.25 ms."""
    if len(name) == 36:
        return (name[8] == name[13] == name[18] == name[23] == "-" and name.count("-") == 4
                and _HEX.issuperset(name.replace("-", "")))
    return len(name) == 18 and name.startswith("h-") and _LOWER_HEX.issuperset(name[2:])


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
    from pathlib import Path

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


def find_claude_dir(hook_file: str | None = None) -> str:
    """The `.claude` folder lifeguard is installed in.

    An installed hook lives in `.claude/hooks/`, so that wins. From a source checkout
    (tests, benchmarks) `LIFEGUARD_HOME` or `CLAUDE_PROJECT_DIR` decide, then the cwd.
    """
    env_home = os.environ.get("LIFEGUARD_HOME")
    if env_home:
        return clean(env_home)
    if hook_file:
        parent = os.path.dirname(os.path.dirname(os.path.realpath(hook_file)))
        if os.path.basename(parent) == ".claude":
            return parent
    project = os.environ.get("CLAUDE_PROJECT_DIR")
    return os.path.join(clean(project or os.getcwd()), ".claude")


def clean(path: str | os.PathLike) -> str:
    """`path` as str(pathlib.Path(path)) writes it: no empty or `.` parts, no trailing slash
    (`..` kept: it may cross a link). What a Path given in its place would have printed."""
    path = os.fspath(path)
    if not path:
        return "."
    lead = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    return lead + "/".join(part for part in path.split("/") if part and part != ".") or "."


def tool_command(claude_dir: Path) -> str:
    """What to tell the user to type to run lifeguard's tools (a verb follows): the launcher
    install.sh put at `.claude/lifeguard`, else the one in this code's own checkout or plugin
    folder, pointed at the project."""
    import shlex  # only for messages: off the usual path
    from pathlib import Path

    launcher = Path(claude_dir) / "lifeguard"
    if launcher.is_file():
        return shlex.quote(str(launcher))
    root = next(p.parent for p in Path(__file__).resolve().parents if p.name == "lib")
    return f"{shlex.quote(str(root / 'scripts' / 'lifeguard'))} --workspace {shlex.quote(str(Path(claude_dir).parent))}"


class _AsPath:
    """A Layout attribute's pathlib.Path twin: of a str attribute (`state` -> `state_dir`), or of
    a method's str (`log_path(id)` -> `event_log(id)`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, layout, owner=None):
        if layout is None:
            return self
        value = getattr(layout, self.name)
        if callable(value):
            return lambda session_id: _path(value(session_id))
        return _path(value)


class Layout:
    """The state folder's layout. Construction touches no disk.

    Each folder and file as str (what hooks use): `claude`, `state`, `quarantine`, `spool`,
    `backups`, `archive`, `config_path`, `faults_path`, and per session `session_path(id)`,
    `log_path(id)`, `lock_path(id)`, `spool_path(id)`; and the same as a pathlib.Path (what the
    tools use): `claude_dir`, `state_dir`, `quarantine_dir`, `spool_dir`, `backup_dir`,
    `archive_dir`, `config_file`, `faults_log`, `session_file(id)`, `event_log(id)`,
    `lock_file(id)`, `session_spool(id)`."""

    def __init__(self, claude_dir: str | os.PathLike):
        self.claude = clean(claude_dir)
        self.state = os.path.join(self.claude, "state")
        self.quarantine = os.path.join(self.state, "quarantine")
        self.spool = os.path.join(self.state, "spool")
        self.backups = os.path.join(self.state, "backups")
        self.archive = os.path.join(self.state, "archive")
        self.config_path = os.path.join(self.claude, "lifeguard.json")
        self.faults_path = os.path.join(self.state, "faults.jsonl")

    def session_path(self, session_id: str) -> str:
        return os.path.join(self.state, f"session-{safe_name(session_id)}.json")

    def log_path(self, session_id: str) -> str:
        return os.path.join(self.state, f"events-{safe_name(session_id)}.jsonl")

    def lock_path(self, session_id: str) -> str:
        return os.path.join(self.state, f"session-{safe_name(session_id)}.lock")

    def spool_path(self, session_id: str) -> str:
        return os.path.join(self.spool, safe_name(session_id))

    # -- the same, as pathlib.Path -------------------------------------------------------

    claude_dir = _AsPath("claude")
    state_dir = _AsPath("state")
    quarantine_dir = _AsPath("quarantine")
    spool_dir = _AsPath("spool")
    backup_dir = _AsPath("backups")
    archive_dir = _AsPath("archive")
    config_file = _AsPath("config_path")
    faults_log = _AsPath("faults_path")
    session_file = _AsPath("session_path")
    event_log = _AsPath("log_path")
    lock_file = _AsPath("lock_path")
    session_spool = _AsPath("spool_path")


def _path(path: str) -> Path:
    from pathlib import Path  # the first call imports it (a tool, a test, a cold path)

    return Path(path)
