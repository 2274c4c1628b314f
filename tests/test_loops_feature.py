"""The loops feature through the real handler: what the model and the user are told, what is recorded."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from lifeguard.store import eventlog, reducer, state as state_mod
from lifeguard.hook import pipeline as handlers, record as record_mod
from lifeguard.config.load import load as load_config
from lifeguard.store.session import SessionStore
from lifeguard.features.registry import FEATURES
from lifeguard.core.paths import Layout

SID = "loops-1"
_ids = itertools.count()


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".claude")


def configure(layout: Layout, **sections) -> None:
    layout.claude_dir.mkdir(parents=True, exist_ok=True)
    layout.config_file.write_text(json.dumps(sections))


def hook(layout: Layout, event: str, **fields) -> dict:
    return handlers.handle(event, {"session_id": SID, "hook_event_name": event, **fields}, layout)


def run_call(layout: Layout, command: str, error: str | None = "Exit code 1\nboom", agent: str | None = None,
             tool: str = "Bash", output: str = "out") -> tuple[dict, dict | None]:
    """One tool call: PreToolUse, then (unless refused) its outcome. Returns (pre output, post output)."""
    extra = {"agent_id": agent, "agent_type": "general-purpose"} if agent else {}
    base = {"tool_name": tool, "tool_input": {"command": command, "description": f"try {next(_ids)}"},
            "tool_use_id": f"toolu_{next(_ids)}", **extra}
    pre = hook(layout, "PreToolUse", **base)
    if denied(pre):
        return pre, None
    if error is None:
        post = hook(layout, "PostToolUse", tool_response={"stdout": output, "stderr": ""}, **base)
    else:
        post = hook(layout, "PostToolUseFailure", error=error, is_interrupt=False, **base)
    return pre, post


def denied(out: dict) -> bool:
    return out.get("hookSpecificOutput", {}).get("permissionDecision") == "deny"


def context(out: dict | None) -> str:
    return ((out or {}).get("hookSpecificOutput") or {}).get("additionalContext", "")


def records(layout: Layout) -> list[dict]:
    return list(eventlog.iter_records(layout.event_log(SID)))


def codes(layout: Layout) -> list[str]:
    return [n["code"] for r in records(layout) for n in r.get("notices") or ()]


def assert_replayable(layout: Layout) -> dict:
    saved = state_mod.load(layout.session_file(SID))
    assert saved == reducer.replay_log(layout.event_log(SID), SID, FEATURES)
    return saved


def test_repeated_failure_warns_then_refuses_with_one_user_message_per_incident(layout: Layout) -> None:
    outs = [run_call(layout, "make test") for _ in range(8)]
    ran = [post is not None for _, post in outs]
    assert ran == [True] * 4 + [False] * 4
    assert context(outs[1][1]) == ""
    warning = context(outs[2][1])
    assert "failed the same way 3 times" in warning and "make test" in warning and "boom" in warning
    assert "TOOL_LOOP_DETECTED" in codes(layout)
    reason = outs[4][0]["hookSpecificOutput"]["permissionDecisionReason"]
    assert "repetition" in reason and "Instead:" in reason and "make test" in reason
    users = [o.get("systemMessage") for pair in outs for o in pair if o and o.get("systemMessage")]
    assert len(users) == 2, users  # one for the warning, one for the refusal: not one per repetition
    assert codes(layout).count("TOOL_LOOP_BLOCKED") == 4  # every refusal is recorded
    assert_replayable(layout)


def test_description_changes_do_not_hide_a_repeat(layout: Layout) -> None:
    # run_call gives every call a different Bash description; they still count as one call
    outs = [run_call(layout, "cargo build") for _ in range(5)]
    assert denied(outs[4][0])


def test_edits_in_between_are_progress(layout: Layout) -> None:
    for i in range(7):
        pre, post = run_call(layout, "pytest -x")
        assert not denied(pre) and context(post) == ""
        hook(layout, "PostToolUse", tool_name="Edit", tool_use_id=f"e{i}",
             tool_input={"file_path": "a.py", "old_string": f"v{i}", "new_string": f"v{i + 1}"},
             tool_response={"filePath": "a.py"})
    assert not {"TOOL_LOOP_DETECTED", "TOOL_LOOP_BLOCKED"} & set(codes(layout))


def test_different_calls_are_different(layout: Layout) -> None:
    for i in range(10):
        pre, post = run_call(layout, f"ls /missing-{i}")
        assert not denied(pre) and context(post) == ""


def test_changed_error_is_not_the_same_failure(layout: Layout) -> None:
    for i in range(8):
        pre, _ = run_call(layout, "pytest", error=f"Exit code 1\n{i} tests failed")
        assert not denied(pre)


def test_a_new_user_prompt_restarts_counting_but_a_task_notification_does_not(layout: Layout) -> None:
    for _ in range(4):
        run_call(layout, "npm test")
    hook(layout, "UserPromptSubmit", prompt="try again please")
    for _ in range(4):
        pre, _ = run_call(layout, "npm test")
        assert not denied(pre)
    hook(layout, "UserPromptSubmit", prompt="<task-notification>\n<task-id>x</task-id>")
    pre, _ = run_call(layout, "npm test")
    assert denied(pre)


def test_changing_approach_restarts_counting(layout: Layout) -> None:
    for _ in range(4):
        run_call(layout, "make")
    pre, _ = run_call(layout, "cat Makefile", error=None)
    assert not denied(pre)
    for _ in range(4):
        pre, _ = run_call(layout, "make")
        assert not denied(pre)


def test_counts_are_per_agent(layout: Layout) -> None:
    for _ in range(4):
        assert not denied(run_call(layout, "go test ./...")[0])
        assert not denied(run_call(layout, "go test ./...", agent="agent-a")[0])
    assert denied(run_call(layout, "go test ./...", agent="agent-a")[0])
    assert denied(run_call(layout, "go test ./...")[0])
    hook(layout, "SubagentStop", agent_id="agent-a", agent_type="general-purpose",
         last_assistant_message="gave up")
    state = assert_replayable(layout)
    assert "agent-a" not in state["execution"]["loops"]["agents"]  # a finished agent's window is dropped


def test_same_successful_result_is_refused_at_the_sixth_run(layout: Layout) -> None:
    outs = [run_call(layout, "git status", error=None, output="nothing to commit") for _ in range(7)]
    assert [post is not None for _, post in outs] == [True] * 5 + [False] * 2
    assert "very same result 4 times" in context(outs[3][1])
    assert "repetition" in outs[5][0]["hookSpecificOutput"]["permissionDecisionReason"]


def test_polling_with_changing_output_is_fine(layout: Layout) -> None:
    for i in range(10):
        pre, post = run_call(layout, "curl localhost/health", error=None, output=f"{i} jobs left")
        assert not denied(pre) and context(post) == ""


def test_alternation_is_warned_then_refused(layout: Layout) -> None:
    outs = []
    for _ in range(5):
        outs.append(run_call(layout, "python app.py"))
        outs.append(run_call(layout, "cat app.py", error=None, output="print(x)"))
    ran = [post is not None for _, post in outs]
    assert ran == [True] * 8 + [False, False]
    assert "alternating" in context(outs[5][1])
    reason = outs[8][0]["hookSpecificOutput"]["permissionDecisionReason"]
    assert "alternated" in reason and "python app.py" in reason


def test_thresholds_come_from_the_config(layout: Layout) -> None:
    configure(layout, loops={"failure_warn_after": 2, "failure_block_after": 3})
    outs = [run_call(layout, "make") for _ in range(3)]
    assert "2 times" in context(outs[1][1]) and denied(outs[2][0])


def test_disabled_detection_never_refuses(layout: Layout) -> None:
    configure(layout, loops={"enabled": False})
    assert all(not denied(run_call(layout, "make")[0]) for _ in range(8))


def test_bad_thresholds_fall_back_to_safe_defaults(layout: Layout) -> None:
    configure(layout, loops={"failure_warn_after": 9, "failure_block_after": 4})
    out = hook(layout, "SessionStart", source="startup")
    assert "failure_block_after (4) must be greater than failure_warn_after (9)" in out["systemMessage"]
    outs = [run_call(layout, "make") for _ in range(5)]
    assert "3 times" in context(outs[2][1]) and denied(outs[4][0])


def test_mcp_server_breaker_opens_across_its_tools(layout: Layout) -> None:
    configure(layout, breakers={"failure_threshold": 3})
    for i, tool in enumerate(["mcp__db__query", "mcp__db__list", "mcp__db__query"]):
        pre, post = run_call(layout, f"q{i}", tool=tool, error="MCP error -32000: Connection closed")
        assert not denied(pre)
    assert "circuit breaker is open" in context(post)
    pre, _ = run_call(layout, "q9", tool="mcp__db__schema")
    assert denied(pre) and "mcp__db" in pre["hookSpecificOutput"]["permissionDecisionReason"]
    assert not denied(run_call(layout, "x", tool="mcp__other__ping", error=None)[0])
    assert "CIRCUIT_OPEN" in codes(layout)
    state = assert_replayable(layout)
    assert state["execution"]["breakers"]["mcp__db"]["state"] == "OPEN"


def test_a_spooled_failure_still_counts_for_the_breaker(layout: Layout) -> None:
    configure(layout, breakers={"failure_threshold": 2})
    inp = {"session_id": SID, "hook_event_name": "PostToolUseFailure", "tool_name": "mcp__db__query",
           "tool_input": {}, "tool_use_id": "spooled", "error": "Connection closed"}
    record = record_mod.build("PostToolUseFailure", inp)
    for feature in FEATURES:
        getattr(feature, "annotate", lambda *a: None)(inp, record, load_config(layout))
    SessionStore(layout, SID, reducers=FEATURES).spool(record)  # as when the session lock was busy: no check ran
    run_call(layout, "q", tool="mcp__db__query", error="Connection closed")  # drains the spool first
    state = assert_replayable(layout)
    assert state["execution"]["breakers"]["mcp__db__query"]["failures"] == 2
    assert state["execution"]["breakers"]["mcp__db__query"]["state"] == "OPEN"


def test_bash_has_no_breaker_by_default(layout: Layout) -> None:
    for i in range(12):
        assert not denied(run_call(layout, f"false {i}")[0])


# -- stops ---------------------------------------------------------------------------------


def test_stop_coming_back_with_the_same_message_is_noticed_then_halted(layout: Layout) -> None:
    outs = [hook(layout, "Stop", stop_hook_active=i > 0, last_assistant_message="All done.")
            for i in range(7)]
    assert "systemMessage" not in outs[1]
    assert "tried to stop 3 times" in outs[2]["systemMessage"]
    assert "systemMessage" not in outs[3]  # one message per incident
    assert outs[5].get("continue") is False and "Stop hooks" in outs[5]["stopReason"]
    assert "decision" not in json.dumps(outs)
    assert "STOP_LOOP_DETECTED" in codes(layout)


def test_stop_count_restarts_on_a_new_message_or_prompt(layout: Layout) -> None:
    for text in ["a", "a", "b", "b"]:
        assert "systemMessage" not in hook(layout, "Stop", last_assistant_message=text)
    hook(layout, "UserPromptSubmit", prompt="next")
    assert "systemMessage" not in hook(layout, "Stop", last_assistant_message="b")


class _Blocker:
    """A feature that always wants to send the agent back."""

    @staticmethod
    def check(state, record, cfg):
        if record["event"] in ("Stop", "SubagentStop"):
            return [{"code": "TEST_BLOCK", "kind": "block", "model": "keep going"}]
        return []


def test_stop_never_blocks_when_stop_hook_active(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lifeguard.features.registry.FEATURES", FEATURES + [_Blocker])
    monkeypatch.setattr(handlers, "FEATURES", FEATURES + [_Blocker])
    first = hook(layout, "Stop", stop_hook_active=False, last_assistant_message="x")
    assert first["decision"] == "block"
    again = hook(layout, "Stop", stop_hook_active=True, last_assistant_message="x")
    assert "decision" not in again and "keep going" in again["systemMessage"]
    sub = hook(layout, "SubagentStop", stop_hook_active=True, agent_id="a1", last_assistant_message="x")
    assert "decision" not in sub
