"""The corruption ladder end to end: the real Claude Code CLI, lifeguard installed with
install.sh. A session's state is truncated, a torn line is appended to its log and another
session file is garbage; on `claude -p --resume SESSION_ID` lifeguard repairs the state, keeps
every complete event and the replaced bytes under .claude/, and leaves the model alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .fakemodel import bash, text
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))

from lifeguard.features.registry import FEATURES
from lifeguard.store import eventlog, state as state_mod
from lifeguard.upkeep import repair, sweep  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402


def install(ws: Path) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(ws)], check=True, capture_output=True, timeout=120)


def test_resume_repairs_a_damaged_session(workspace: Path, tmp_path: Path) -> None:
    install(workspace)
    home = tmp_path / "home"
    first = run_claude(workspace, "E2E corruption: first run",
                       [[text("working"), bash("echo one")], [bash("echo two")], [text("done")]],
                       home=home, timeout=90)
    assert first.returncode == 0, first.describe()
    sid = first.session_id
    layout = Layout(workspace / ".claude")
    state_path, log_path = layout.session_file(sid), layout.event_log(sid)
    complete = [r["seq"] for r in eventlog.iter_records(log_path)]
    assert len(complete) >= 5, complete  # SessionStart, prompt, tool hooks, Stop, SessionEnd ...

    # the damage
    raw = state_path.read_bytes()
    truncated = raw[: len(raw) // 2]
    state_path.write_bytes(truncated)
    torn = eventlog.encode({"seq": complete[-1] + 1, "ts": "2026-01-01T00:00:00.000Z", "event": "PostToolUse"})[:40]
    with open(log_path, "ab") as f:
        f.write(torn)
    garbage = b"\x00\x13 this is not a session \xff"
    layout.session_file("garbage").write_bytes(garbage)  # another session's, named as this version names it

    resumed_at = time.time()
    second = run_claude(workspace, "E2E corruption: resumed", [[text("resumed fine")]],
                        extra_args=["--resume", sid], home=home, timeout=90)
    assert second.returncode == 0, second.describe()
    assert second.session_id == sid

    # the model was told nothing: lifeguard's own repairs do not change its next step
    main = [r for r in second.requests if r.kind == "main"]
    assert main, second.describe()
    seen = main[0].system_text + "\n" + main[0].user_text()
    assert "repaired" not in seen and "lifeguard" not in seen, seen[:2000]

    # the state is repaired: it loads, validates and equals a replay of its log, gap-free
    state = state_mod.load(state_path)
    from lifeguard.upkeep.schema import validate_state

    assert validate_state(state) == []
    view = repair.LogView(layout, sid, FEATURES)
    assert view.complete and view.replay == state, view.problems()
    kept = {r["seq"] for r in view.after} | set(range(1, view.base + 1))
    assert set(complete) <= kept  # every complete event is kept
    assert state["observability"]["health"]["system_status"] in ("healthy", "degraded")

    # the replaced bytes are kept under .claude/
    # the other session's garbage is the sweep's, which runs after SessionStart has answered
    deadline = time.monotonic() + 30
    while (sweep.last_report(layout) or {}).get("finished", 0) < resumed_at and time.monotonic() < deadline:
        time.sleep(0.05)
    kept_bytes = [p.read_bytes() for p in layout.quarantine_dir.iterdir() if p.name != "index.jsonl"]
    assert truncated in kept_bytes
    assert torn in kept_bytes
    assert garbage in kept_bytes
    index = [json.loads(line) for line in (layout.quarantine_dir / "index.jsonl").read_text().splitlines()]
    assert all(entry.get("reason") for entry in index)
