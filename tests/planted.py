"""A lifeguard workspace with planted sessions, for the recovery-tool tests.

    healthy   two real hook events, just now
    stale     two events from 2020 (no activity for far more than 24 h)
    corrupt   one real event, then its state file overwritten with broken JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lifeguard.features.registry import FEATURES
from lifeguard.commands import install as installer  # noqa: E402
from lifeguard.hook.pipeline import handle  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402
from lifeguard.store.session import SessionStore  # noqa: E402

BROKEN = b'{"schema_version": 1, "session": {'


def install(project: Path) -> Layout:
    """A real install (no uv warm-up) into `project`."""
    project.mkdir(parents=True, exist_ok=True)
    installer.install(project, warm=False)
    return Layout(project / ".claude")


def event(layout: Layout, session: str, name: str, **fields) -> dict:
    return handle(name, {"session_id": session, "hook_event_name": name, **fields}, layout)


def plant(layout: Layout) -> None:
    event(layout, "healthy", "SessionStart", source="startup", cwd=str(layout.claude_dir.parent))
    event(layout, "healthy", "PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    with SessionStore(layout, "stale", reducers=FEATURES).transaction() as txn:
        txn.commit({"event": "SessionStart", "source": "startup", "ts": "2020-01-01T00:00:00.000Z"})
        txn.commit({"event": "Stop", "ts": "2020-01-01T00:05:00.000Z"})
    event(layout, "corrupt", "SessionStart", source="startup")
    layout.session_file("corrupt").write_bytes(BROKEN)


def tree(folder: Path) -> dict[str, bytes]:
    """relative path -> bytes of every regular file under `folder`."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(folder))] = path.read_bytes()
    return out


def run_tool(layout: Layout, *args: str, stdin=subprocess.DEVNULL, timeout: float = 120,
             env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """The installed state_recovery.py under this interpreter (plain output: no rich here)."""
    script = layout.claude_dir / "scripts" / "state_recovery.py"
    env = {k: v for k, v in os.environ.items() if k not in ("LIFEGUARD_HOME", "CLAUDE_PROJECT_DIR")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          stdin=stdin, env=env, timeout=timeout)


def run_json(layout: Layout, *args: str) -> tuple[int, object]:
    proc = run_tool(layout, *args, "--json")
    return proc.returncode, json.loads(proc.stdout)
