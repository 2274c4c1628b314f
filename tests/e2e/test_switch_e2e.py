"""The off switches, end to end: the real Claude Code CLI, lifeguard installed with install.sh.

With LIFEGUARD_DISABLE=1 in Claude Code's environment, or after `state_recovery.py off`, a
session that goes round in circles is left alone (every repetition runs, nothing refused),
nothing is written under .claude/state, the model is told nothing, and the user is told once,
at session start, that lifeguard is off. `on` brings it back: the same loop is refused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .fakemodel import bash, text
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
FAILING = "echo run >> runs.log; echo 'error: widget not found' >&2; exit 1"
CALLS = 6  # lifeguard, when on, refuses the 5th identical failing run


def install(ws: Path) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(ws)], check=True, capture_output=True, timeout=120)


def tool(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ws / ".claude" / "scripts" / "state_recovery.py"), *args],
                          capture_output=True, text=True, timeout=60)


def state_files(ws: Path) -> list[str]:
    state = ws / ".claude" / "state"
    return sorted(str(p.relative_to(state)) for p in state.rglob("*")) if state.exists() else []


def runs(ws: Path) -> int:
    path = ws / "runs.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def looping_session(ws: Path, prompt: str, env: dict | None = None):
    calls = [bash(FAILING, description=f"attempt {i}") for i in range(CALLS)]
    res = run_claude(ws, prompt, [[text("trying"), c] for c in calls] + [[text("gave up")]], env=env,
                     timeout=150, output_format="stream-json", extra_args=["--verbose"])
    assert res.returncode == 0, res.describe()
    return res, calls


def assert_left_alone(ws: Path, res, calls: list[dict], before: list[str], reason: str) -> None:
    assert runs(ws) == CALLS, res.describe()  # every repetition ran: nothing refused
    assert not any("lifeguard" in (res.tool_result_text(c["id"]) or "") for c in calls)
    seen = "\n".join(r.system_text + "\n" + r.user_text() for r in res.main_requests)
    assert "lifeguard" not in seen  # the model was told nothing
    assert state_files(ws) == before  # nothing written
    assert "lifeguard is off in this project" in res.stdout and reason in res.stdout  # the user was told


def test_env_switch_and_workspace_switch(workspace: Path) -> None:
    install(workspace)
    before = state_files(workspace)

    res, calls = looping_session(workspace, "E2E switch: env", env={"LIFEGUARD_DISABLE": "1"})
    assert_left_alone(workspace, res, calls, before, "LIFEGUARD_DISABLE=1")

    (workspace / "runs.log").unlink()
    off = tool(workspace, "off")
    assert off.returncode == 0 and "now off" in off.stdout, off.stderr
    res, calls = looping_session(workspace, "E2E switch: workspace off")
    assert_left_alone(workspace, res, calls, before, ".claude/lifeguard.json")

    (workspace / "runs.log").unlink()
    on = tool(workspace, "on")
    assert on.returncode == 0 and "now on" in on.stdout, on.stderr
    res, calls = looping_session(workspace, "E2E switch: on again")
    assert runs(workspace) < CALLS  # the control: lifeguard on refuses the repetitions
    assert any("lifeguard refused" in (res.tool_result_text(c["id"]) or "") for c in calls)
    assert "lifeguard is off" not in res.stdout and state_files(workspace) != before
