"""handlers.handle: notices that features produce after the commit are incidents too."""

from __future__ import annotations

import types

from lifeguard.features.registry import FEATURES
from lifeguard.alerts import escalation as alerts
from lifeguard.store import eventlog, reducer, state as state_mod
from lifeguard.features import registry as features
from lifeguard.hook import pipeline as handlers
from lifeguard.core.paths import Layout


def _feature_that_warns_after_commit(code: str):
    def after_commit(txn, record, cfg, layout):
        if record.get("event") != "PostToolUse":
            return []
        return [{"code": code, "kind": "user", "user": f"lifeguard: {code} seen after the commit"}]

    return types.SimpleNamespace(after_commit=after_commit)


def _post(layout: Layout) -> dict:
    return handlers.handle("PostToolUse", {"session_id": "hc", "tool_name": "Bash", "tool_input": {"command": "ls"},
                                           "tool_use_id": "t1", "tool_response": {"stdout": "x"}}, layout)


def test_a_post_commit_notice_is_logged_and_escalated(tmp_path, monkeypatch):
    layout = Layout(tmp_path / ".claude")
    monkeypatch.setattr(features, "FEATURES", [*features.FEATURES, _feature_that_warns_after_commit("AGENT_CRASHED")])
    out = _post(layout)
    assert "AGENT_CRASHED seen after the commit" in out["systemMessage"]
    records = list(eventlog.iter_records(layout.event_log("hc")))
    follow = [r for r in records if r["event"] == "LifeguardNotices"]
    assert len(follow) == 1 and follow[0]["for_seq"] == follow[0]["seq"] - 1
    assert [n["code"] for n in follow[0]["notices"]] == ["AGENT_CRASHED"]
    assert [a["code"] for a in alerts.read_log(layout)] == ["AGENT_CRASHED"]  # escalated
    saved = state_mod.load(layout.session_file("hc"))
    assert any(i.get("code") == "AGENT_CRASHED" for i in saved["observability"]["incidents"])
    assert saved == reducer.replay_log(layout.event_log("hc"), "hc", FEATURES)


def test_no_follow_up_record_when_nothing_happened_after_the_commit(tmp_path):
    layout = Layout(tmp_path / ".claude")
    _post(layout)
    assert [r["event"] for r in eventlog.iter_records(layout.event_log("hc"))] == ["PostToolUse"]


def test_a_loop_is_still_refused_while_another_process_holds_the_lock(tmp_path):
    """A busy lock spools the event, but the decision is still made from the unlocked state."""
    import fcntl
    import json
    import os

    layout = Layout(tmp_path / ".claude")
    layout.claude_dir.mkdir(parents=True)
    (layout.claude_dir / "lifeguard.json").write_text(json.dumps({"locks": {"timeout_seconds": 0.2}}))
    call = {"session_id": "busy", "tool_name": "Bash", "tool_input": {"command": "make test"}}
    for i in range(4):
        handlers.handle("PreToolUse", {**call, "tool_use_id": f"t{i}"}, layout)
        handlers.handle("PostToolUseFailure", {**call, "tool_use_id": f"t{i}", "error": "Exit code 2\nboom"}, layout)
    fd = os.open(layout.lock_file("busy"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as if another hook process held the session
        out = handlers.handle("PreToolUse", {**call, "tool_use_id": "t4"}, layout)
    finally:
        os.close(fd)
    assert out["hookSpecificOutput"]["permissionDecision"] == "deny"
    [spooled] = list(layout.session_spool("busy").iterdir())
    codes = [n["code"] for n in json.loads(spooled.read_text())["notices"]]
    assert codes[-1] == "SESSION_LOCKED" and "TOOL_LOOP_BLOCKED" in codes
