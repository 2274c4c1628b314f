"""/lifeguard, installed by install.sh: the model is sent lifeguard's status and recent incidents
(what the user asked to see), by the real Claude Code CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .fakemodel import bash, text
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
FAILING = "echo 'error: widget not found' >&2; exit 1"


def test_slash_lifeguard_shows_status_and_recent_incidents(workspace: Path) -> None:
    subprocess.run([str(REPO / "install.sh"), str(workspace)], check=True, capture_output=True, timeout=180)
    assert (workspace / ".claude" / "commands" / "lifeguard.md").is_file()
    # a session that gives lifeguard something to report: a command that keeps failing, refused
    calls = [bash(FAILING, description=f"attempt {i}") for i in range(6)]
    res = run_claude(workspace, "E2E slash: fix the widget", [[c] for c in calls] + [[text("stopped")]], timeout=150)
    assert res.returncode == 0, res.describe()
    assert any("lifeguard refused" in (res.tool_result_text(c["id"]) or "") for c in calls), res.describe()

    res = run_claude(workspace, "/lifeguard", [[text("lifeguard is on; it stopped a loop")]], allowed_tools=[],
                     timeout=120)
    assert res.returncode == 0, res.describe()
    (request,) = res.main_requests
    sent = json.dumps(request.messages)
    assert "lifeguard: status" in sent and f"Checking lifeguard in {workspace / '.claude'}" in sent, res.describe()
    assert "lifeguard is on" in sent  # doctor's on/off line
    incidents = sent.split("lifeguard: recent incidents", 1)[1]
    assert "TOOL_LOOP_BLOCKED" in incidents and "it is a repetition" in incidents, incidents[:2000]
    assert "Shell command failed" not in sent and "permission check failed" not in sent
