"""Guarded hooks, end to end: the real Claude Code CLI, a user hook that hangs, wrapped by
`install.sh --guard-existing`; the session pays about the guard's timeout, not the hang."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .fakemodel import bash, text
from .harness import find_claude, run_claude, write_settings

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
HANG = "date +%s.%N >> hook-runs.log; sleep 60"  # notes when it started, then hangs


def install_sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "install.sh"), *args], capture_output=True, text=True, timeout=180)


def test_hung_user_hook_costs_only_the_guard_timeout(workspace: Path) -> None:
    user_settings = {"hooks": {"PreToolUse": [
        {"matcher": "Bash", "hooks": [{"type": "command", "command": HANG, "timeout": 90}]}]}}
    write_settings(workspace, user_settings)
    original_entry = json.loads((workspace / ".claude" / "settings.json").read_text())["hooks"]["PreToolUse"][0]
    res = install_sh("--no-warm", "--guard-existing", "--guard-timeout", "2", str(workspace))
    assert res.returncode == 0, res.stdout + res.stderr
    settings = json.loads((workspace / ".claude" / "settings.json").read_text())
    wrapped = settings["hooks"]["PreToolUse"][0]["hooks"][0]
    assert "/.claude/hooks/guard-run --timeout 2 " in wrapped["command"] and wrapped["timeout"] == 90

    call = bash("date +%s.%N")
    started = time.monotonic()
    result = run_claude(workspace, "E2E guarded hook", [[text("running"), call]], allowed_tools=["Bash"],
                        timeout=120, output_format="stream-json", extra_args=["--verbose"])
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.describe()
    [hook_started] = map(float, (workspace / "hook-runs.log").read_text().split())  # the user's hook ran once
    tool_ran = float(result.tool_result_text(call["id"]))  # ... and the tool still ran after it
    # The hang cost the session about the guard's 2 s (plus uv's start on a busy machine), not 60 s.
    assert 2 <= tool_ran - hook_started < 15, f"tool ran {tool_ran - hook_started:.1f}s after the hook started"
    assert elapsed < 60, f"the session took {elapsed:.1f}s"
    assert "HOOK_TIMEOUT" in result.stdout  # the user was told (systemMessage)

    session = next(json.loads(line)["session_id"] for line in result.stdout.splitlines()
                   if line.startswith("{") and "session_id" in line)
    log = workspace / ".claude" / "state" / f"events-{session}.jsonl"
    guarded = [json.loads(line) for line in log.read_text().splitlines() if '"GuardedHook"' in line]
    assert [(r["outcome"], r["code"], r["for_event"]) for r in guarded] == [("timeout", "HOOK_TIMEOUT", "PreToolUse")]
    assert guarded[0]["command"] == HANG

    res = install_sh("--uninstall", str(workspace))
    assert res.returncode == 0, res.stdout + res.stderr
    restored = json.loads((workspace / ".claude" / "settings.json").read_text())
    assert restored["hooks"]["PreToolUse"] == [original_entry]
