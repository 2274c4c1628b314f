"""The foundation end to end: lifeguard installed with install.sh into a workspace, a real
Claude Code session with three parallel tool calls, one failing call and a subagent. Every
lifecycle event is recorded exactly once in valid JSON, the state validates and equals a
replay of the log, and the model is never shown a hook error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .fakemodel import bash, text, tool_use
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lib"))

from lifeguard.features.registry import FEATURES
from lifeguard.store import eventlog, reducer, state as state_mod
from lifeguard.upkeep import schema  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402


def test_a_whole_session_is_recorded_once_and_never_shows_a_hook_error(workspace: Path, tmp_path: Path) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(workspace)], check=True, capture_output=True, timeout=180)
    settings = json.loads((workspace / ".claude" / "settings.json").read_text())
    assert all(h["timeout"] for groups in settings["hooks"].values() for g in groups for h in g["hooks"])

    parallel = [bash("ls /"), bash("cat /etc/hostname"), bash("pwd")]
    failing = bash("ls /no-such-folder-here")
    inner = bash("echo inside-the-subagent")
    agent = tool_use("Agent", {"description": "Run an echo", "prompt": "E2E-FOUNDATION-SUB: echo",
                               "subagent_type": "general-purpose", "run_in_background": False})
    res = run_claude(
        workspace, "E2E foundation session",
        [[text("three at once"), *parallel], [failing], [agent], [text("all done")]],
        allowed_tools=["Bash", "Agent"],
        subagent_turns=[[inner], [text("subagent report")]],
        timeout=150,
    )
    assert res.returncode == 0, res.describe()
    sid = res.session_id
    for call in parallel:
        assert res.tool_result_is_error(call["id"]) is False, res.describe()
    assert res.tool_result_is_error(failing["id"]) is True

    # the model was never shown a hook error, nor anything of lifeguard's (nothing went wrong)
    shown = res.shown_text()
    for needle in ("hook error", "blocking error", "Traceback", "lifeguard"):
        assert needle not in shown, needle

    layout = Layout(workspace / ".claude")
    report = eventlog.ReadReport()
    records = list(eventlog.iter_records(layout.event_log(sid), report))
    assert report.damaged_lines == [] and not report.torn_tail
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))

    by_event = Counter(r["event"] for r in records)
    assert by_event["SessionStart"] == 1 and by_event["UserPromptSubmit"] == 1
    assert by_event["SubagentStart"] == 1 and by_event["SubagentStop"] == 1
    assert by_event["SessionEnd"] == 1 and by_event["Stop"] >= 1
    assert by_event["PostToolUseFailure"] == 1
    calls = [*parallel, failing, agent, inner]
    pre = Counter(r.get("tuid") for r in records if r["event"] == "PreToolUse")
    post = Counter(r.get("tuid") for r in records if r["event"] in ("PostToolUse", "PostToolUseFailure"))
    for call in calls:  # every tool call: exactly one Pre and one Post event
        assert pre[call["id"]] == 1 and post[call["id"]] == 1, call
    assert [r["tuid"] for r in records if r["event"] == "PostToolUseFailure"] == [failing["id"]]
    assert {r.get("agent") for r in records if r.get("tuid") == inner["id"]} == {
        next(r["agent"] for r in records if r["event"] == "SubagentStart")}

    saved = state_mod.load(layout.session_file(sid))
    assert schema.validate_state(saved) == []
    assert saved == reducer.replay_log(layout.event_log(sid), sid, FEATURES)
    assert saved["session"]["lifecycle"]["status"] == "ended"
    assert not layout.faults_log.exists() or layout.faults_log.read_text() == ""
    # the first hook ran in its own process and started the resident helper for the rest; it
    # outlived the hook that started it without holding Claude Code up
    assert res.helper_was_running
