"""A lifeguard workspace with planted sessions, for the recovery-tool tests.

    healthy   two real hook events, just now
    stale     two events from 2020 (no activity for far more than 24 h)
    corrupt   one real event, then its state file overwritten with broken JSON

`many_sessions` plants hundreds of ordinary sessions at once (the sweep's tests, bench/hooks.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lifeguard.features.registry import FEATURES
from lifeguard.commands.install import command as installer  # noqa: E402
from lifeguard.hook.pipeline import handle  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402
from lifeguard.store.session import SessionStore  # noqa: E402
from lifeguard.store import eventlog, reducer, snapshot as logsnapshot  # noqa: E402
from lifeguard.store import state as state_mod  # noqa: E402
from lifeguard.upkeep import backup  # noqa: E402

BROKEN = b'{"schema_version": 1, "session": {'


def install(project: Path) -> Layout:
    """A real install (no uv warm-up) into `project`."""
    project.mkdir(parents=True, exist_ok=True)
    installer.install(project, warm=False)
    return Layout(project / ".claude")


def event(layout: Layout, session: str, name: str, **fields) -> dict:
    return handle(name, {"session_id": session, "hook_event_name": name, **fields}, layout)


# Claude Code's session ids (UUIDs: used as they are in file names)
HEALTHY, STALE, CORRUPT = ("4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d", "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
                           "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f")


def plant(layout: Layout) -> None:
    event(layout, HEALTHY, "SessionStart", source="startup", cwd=str(layout.claude_dir.parent))
    event(layout, HEALTHY, "PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    with SessionStore(layout, STALE, reducers=FEATURES).transaction() as txn:
        txn.commit({"event": "SessionStart", "source": "startup", "ts": "2020-01-01T00:00:00.000Z"})
        txn.commit({"event": "Stop", "ts": "2020-01-01T00:05:00.000Z"})
    event(layout, CORRUPT, "SessionStart", source="startup")
    layout.session_file(CORRUPT).write_bytes(BROKEN)


SESSION_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop")


def many_sessions(layout: Layout, count: int, idle_hours: float, prefix: str = "old",
                  extras_every: int = 10) -> list[str]:
    """`count` finished sessions whose last event was `idle_hours` ago; returns their ids.

    Each is what hooks leave: a log of real records (built by the handlers' own `prepare`),
    the state replayed from it, and its lock file. Every `extras_every`-th one also has what a
    longer life leaves: a compacted log (snapshot + the rest), a record waiting in its spool and
    a checkpoint. Written without fsync (fast), then dated back: every file's mtime is the
    last event's time."""
    from lifeguard.hook.pipeline import prepare

    layout.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    last = time.time() - idle_hours * 3600
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"  # noqa: E731
    cwd = str(layout.claude_dir.parent)
    ids = []
    for n in range(count):
        sid = f"{prefix}-{n:05d}"
        ids.append(sid)
        records = []
        for seq, name in enumerate(SESSION_EVENTS, 1):
            inp = {"session_id": sid, "hook_event_name": name, "cwd": cwd, "transcript_path": f"/t/{sid}.jsonl",
                   "source": "startup", "prompt": f"task {n}", "tool_name": "Bash", "tool_use_id": f"toolu_{n}",
                   "tool_input": {"command": f"ls src/module_{n}"}, "tool_response": {"stdout": "a.py", "stderr": ""}}
            records.append({**prepare(name, inp, layout)[1], "seq": seq, "ts": stamp(last - len(SESSION_EVENTS) + seq)})
        log = layout.event_log(sid)
        state = reducer.replay(records, sid, FEATURES)
        extras = extras_every and n % extras_every == 0
        if extras:  # compacted after event 3: the snapshot holds 1-3, the log 4-5
            logsnapshot.write(log, reducer.replay(records[:3], sid, FEATURES), 3, sid)
            records = records[3:]
        log.write_bytes(b"".join(eventlog.encode(r) for r in records))
        layout.session_file(sid).write_bytes(state_mod.dump(state))
        layout.lock_file(sid).touch(mode=0o600)
        touched = [log, layout.session_file(sid), layout.lock_file(sid)]
        if extras:
            checkpoint = backup.checkpoint_session(layout, sid, keep=5, seq=len(SESSION_EVENTS), reason="Stop")
            spooled = Path(SessionStore(layout, sid, reducers=FEATURES).spool({"event": "SessionEnd", "reason": "other", "ts": stamp(last)}))
            touched += [logsnapshot.path_for(log), spooled, spooled.parent, checkpoint]
        for path in touched:
            os.utime(path, (last, last), follow_symlinks=False)
    return ids


def session_paths(layout: Layout, sid: str) -> list[Path]:
    """Every file and folder one session owns in the state folder (those that exist)."""
    log = layout.event_log(sid)
    paths = [layout.session_file(sid), log, logsnapshot.path_for(log), layout.lock_file(sid),
             layout.session_spool(sid), backup.checkpoint_dir(layout, sid)]
    return [p for p in paths if os.path.lexists(p)]


def wait_until(predicate, seconds: float = 30.0) -> bool:
    """Poll `predicate` until it holds or `seconds` pass (for work done by another process)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


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
