"""Claude Code's hook protocol: tolerant parsing of stdin, outputs the CLI accepts."""

from __future__ import annotations

import json

import pytest

from lifeguard.hook import protocol
from lifeguard.hook.protocol import BadInput, build_output, parse

# What the CLI (2.1.332) sends, trimmed from docs/claude-code-hooks-notes.md.
REAL_INPUTS = {
    "SessionStart": {"session_id": "s", "transcript_path": "/t.jsonl", "cwd": "/ws", "hook_event_name": "SessionStart",
                     "source": "startup"},
    "PreToolUse": {"session_id": "s", "transcript_path": "/t", "cwd": "/ws", "prompt_id": "p",
                   "permission_mode": "default", "effort": {"level": "medium"}, "hook_event_name": "PreToolUse",
                   "tool_name": "Bash", "tool_input": {"command": "echo hi"}, "tool_use_id": "toolu_01"},
    "PostToolUse": {"session_id": "s", "hook_event_name": "PostToolUse", "tool_name": "Bash",
                    "tool_input": {"command": "x"}, "tool_use_id": "toolu_01", "duration_ms": 54,
                    "tool_response": {"stdout": "hi", "stderr": "", "interrupted": False}},
    "PostToolUseFailure": {"session_id": "s", "hook_event_name": "PostToolUseFailure", "tool_name": "Bash",
                           "tool_input": {"command": "exit 3"}, "error": "Exit code 3", "is_interrupt": False},
    "Stop": {"session_id": "s", "hook_event_name": "Stop", "stop_hook_active": False,
             "last_assistant_message": "done", "background_tasks": [], "session_crons": []},
    "SubagentStop": {"session_id": "s", "hook_event_name": "SubagentStop", "agent_id": "a1",
                     "agent_type": "general-purpose", "stop_hook_active": False, "agent_transcript_path": "/x"},
    "PreCompact": {"session_id": "s", "hook_event_name": "PreCompact", "trigger": "manual",
                   "custom_instructions": None},
    "SessionEnd": {"session_id": "s", "hook_event_name": "SessionEnd", "reason": "other"},
}

# Per docs/claude-code-hooks-notes.md section 2: the events whose hookSpecificOutput 2.1.332 accepts.
ACCEPTS_HSO = {"PreToolUse", "PostToolUse", "PostToolUseFailure", "PostToolBatch", "UserPromptSubmit",
               "SessionStart", "SubagentStart", "Stop", "SubagentStop"}
LIFEGUARD_EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop",
                    "SubagentStart", "SubagentStop", "PreCompact", "SessionEnd"]
TOP_LEVEL_KEYS = {"continue", "suppressOutput", "stopReason", "decision", "reason", "systemMessage",
                  "terminalSequence", "hookSpecificOutput"}


def raw(obj) -> bytes:
    return json.dumps(obj).encode()


# -- parse ---------------------------------------------------------------------------------


@pytest.mark.parametrize("event", sorted(REAL_INPUTS))
def test_parses_what_the_cli_sends(event):
    assert parse(raw(REAL_INPUTS[event])) == REAL_INPUTS[event]


def test_missing_optional_fields_are_fine():
    assert parse(b"{}") == {}
    assert parse(raw({"session_id": "s"})) == {"session_id": "s"}
    assert parse(raw({"hook_event_name": "PostToolUse"})) == {"hook_event_name": "PostToolUse"}


def test_unknown_extra_fields_are_kept():
    data = {**REAL_INPUTS["PreToolUse"], "brand_new": {"x": [1]}, "another": None}
    assert parse(raw(data)) == data


def test_future_events_parse():
    data = {"session_id": "s", "hook_event_name": "SomethingNew", "payload": [1, 2]}
    assert parse(raw(data)) == data


def test_null_optional_fields_are_fine():
    data = {"session_id": "s", "tool_input": None, "error": None, "custom_instructions": None}
    assert parse(raw(data)) == data


def test_error_may_be_an_object():
    assert parse(raw({"error": {"message": "x"}}))["error"] == {"message": "x"}


@pytest.mark.parametrize("field, value", [
    ("session_id", 5), ("session_id", ["s"]), ("hook_event_name", {}), ("tool_name", 1),
    ("tool_input", "echo hi"), ("tool_input", [1]), ("tool_use_id", 7), ("error", 3),
    ("is_interrupt", "yes"), ("stop_hook_active", 1), ("agent_id", True), ("cwd", 1.5), ("prompt", []),
])
def test_wrong_types_are_rejected(field, value):
    with pytest.raises(BadInput, match=field):
        parse(raw({"session_id": "s", field: value}))


@pytest.mark.parametrize("data, message", [
    (b"", "empty"), (b"  \n\t ", "empty"), (b"{not json", "not JSON"), (b"[1,2]", "list"),
    (b'"text"', "str"), (b"42", "int"), (b"null", "NoneType"), (b'{"a": 1} trailing', "not JSON"),
    (b'{"s": "\xff\xfe"}', "UTF-8"), (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_bad_input_says_why_in_one_line(data, message):
    with pytest.raises(BadInput, match=message) as err:
        parse(data)
    assert "\n" not in str(err.value)


def test_input_over_the_bound_is_rejected():
    data = raw({"session_id": "s", "prompt": "x" * protocol.MAX_INPUT_BYTES})
    with pytest.raises(BadInput, match="larger than"):
        parse(data)


# -- build_output --------------------------------------------------------------------------

ALL_KINDS = [
    {"code": "A", "kind": "context", "model": "ctx-note", "user": ""},
    {"code": "B", "kind": "deny", "model": "deny-why", "user": "denied!"},
    {"code": "C", "kind": "block", "model": "block-why"},
    {"code": "D", "kind": "user", "user": "for-user"},
]


@pytest.mark.parametrize("event", LIFEGUARD_EVENTS + ["PostToolBatch", "SomethingNew"])
@pytest.mark.parametrize("notices", [[], ALL_KINDS], ids=["none", "all-kinds"])
def test_hook_specific_output_only_where_accepted(event, notices):
    out = build_output(event, notices)
    assert set(out) <= TOP_LEVEL_KEYS
    json.dumps(out)
    if event in ACCEPTS_HSO:
        assert out["hookSpecificOutput"]["hookEventName"] == event
    else:
        assert "hookSpecificOutput" not in out


def test_hso_events_match_the_cli():
    assert protocol.HSO_EVENTS == ACCEPTS_HSO


def test_empty_notices_give_a_minimal_answer():
    assert build_output("SessionEnd", []) == {}
    assert build_output("PreCompact", []) == {}
    assert build_output("PreToolUse", []) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}


def test_deny_on_pre_tool_use():
    out = build_output("PreToolUse", [ALL_KINDS[1], ALL_KINDS[0]])
    hso = out["hookSpecificOutput"]
    assert hso["permissionDecision"] == "deny"
    assert hso["permissionDecisionReason"] == "deny-why"
    assert hso["additionalContext"] == "ctx-note"
    assert out["systemMessage"] == "denied!"


def test_deny_elsewhere_becomes_context_not_a_decision():
    out = build_output("PostToolUse", [ALL_KINDS[1]])
    assert out["hookSpecificOutput"] == {"hookEventName": "PostToolUse", "additionalContext": "deny-why"}
    assert "decision" not in out


@pytest.mark.parametrize("event", ["Stop", "SubagentStop"])
def test_block_on_stop(event):
    out = build_output(event, [ALL_KINDS[2]])
    assert out["decision"] == "block" and out["reason"] == "block-why"
    assert out["hookSpecificOutput"] == {"hookEventName": event}


@pytest.mark.parametrize("event", ["Stop", "SubagentStop"])
def test_plain_context_never_sent_on_stop(event):
    """additionalContext on Stop makes the session go on: a mere note must not do that."""
    out = build_output(event, [ALL_KINDS[0]])
    assert "additionalContext" not in out.get("hookSpecificOutput", {})
    assert "decision" not in out


def test_block_elsewhere_becomes_context():
    out = build_output("PostToolUse", [ALL_KINDS[2], ALL_KINDS[0]])
    assert out["hookSpecificOutput"]["additionalContext"] == "block-why\nctx-note"
    assert "decision" not in out


@pytest.mark.parametrize("event", ["PreCompact", "SessionEnd"])
def test_context_dropped_where_the_cli_has_no_place_for_it(event):
    out = build_output(event, [ALL_KINDS[0], ALL_KINDS[3]])
    assert out == {"systemMessage": "for-user"}


def test_user_messages_deduplicated_in_order():
    notices = [{"kind": "user", "user": "b"}, {"kind": "user", "user": "a"}, {"kind": "context", "user": "b"}]
    assert build_output("PostToolUse", notices)["systemMessage"] == "b\na"


def test_halt():
    out = build_output("PostToolUse", [{"kind": "halt", "user": "stop now"}])
    assert out["continue"] is False and out["stopReason"] == "stop now"


def test_notices_without_text_add_nothing():
    out = build_output("PostToolUse", [{"kind": "context", "model": ""}, {"kind": "deny"}])
    assert out == {"hookSpecificOutput": {"hookEventName": "PostToolUse"}}


def test_dumps_is_one_ascii_line():
    text = protocol.dumps({"systemMessage": "caf\u00e9\n\u2603"})
    assert "\n" not in text and text.isascii()
    assert json.loads(text) == {"systemMessage": "caf\u00e9\n\u2603"}
