"""The loops feature through the real handler: what the model and the user are told, what is recorded."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from lifeguard.store import eventlog, reducer, state as state_mod
from lifeguard.hook import pipeline as handlers
from lifeguard.store import record as record_mod
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


def test_a_pair_is_warned_at_its_second_round_and_the_failing_call_refused_in_its_third(layout: Layout) -> None:
    outs = []
    for _ in range(4):
        outs.append(run_call(layout, "python app.py"))
        outs.append(run_call(layout, "cat app.py", error=None, output="print(x)"))
    ran = [post is not None for _, post in outs]
    # the failing call is refused from round 3 on; the bystander (same content each time) never is
    assert ran == [True] * 4 + [False, True, False, True]
    warned = context(outs[3][1])
    assert "going round `Bash: python app.py` -> `Bash: cat app.py`" in warned and "2 full rounds" in warned
    assert "in a row" not in warned and "keeps failing is `Bash: python app.py`" in warned
    reason = outs[4][0]["hookSpecificOutput"]["permissionDecisionReason"]
    assert "round 3 of `Bash: python app.py` -> `Bash: cat app.py`" in reason
    assert all(context(post) == "" for _, post in outs[5::2])  # re-reading is not blamed
    assert_replayable(layout)
    logged = [n for r in records(layout) for n in r.get("notices") or () if n["code"].startswith("TOOL_LOOP")]
    assert {n["rule"] for n in logged} == {"cycle"}  # the incident says which rule found it


def test_three_failing_commands_in_turn_are_refused_in_their_third_round(layout: Layout) -> None:
    outs = [run_call(layout, cmd) for _ in range(3) for cmd in ("make", "make test", "make lint")]
    assert [post is not None for _, post in outs] == [True] * 6 + [False] * 3
    assert "2 full rounds" in context(outs[5][1])


def test_commands_rerun_after_distinct_edits_are_not_a_loop(layout: Layout) -> None:
    for i in range(6):
        for cmd in ("pytest tests/a.py", "pytest tests/b.py"):
            pre, post = run_call(layout, cmd)
            assert not denied(pre) and context(post) == ""
            pre, post = run_call(layout, f"sed -i 's/x{i}/y/' {cmd[-4:]}", error=None)
            assert not denied(pre) and context(post) == ""


def test_allow_list_lets_a_poll_repeat(layout: Layout) -> None:
    configure(layout, loops={"allow": ["Bash(gh run watch*)"]})
    for _ in range(10):
        pre, post = run_call(layout, "gh run watch 42", error=None, output="in progress")
        assert not denied(pre) and context(post) == ""
    outs = [run_call(layout, "gh run view 42", error=None, output="in progress") for _ in range(6)]
    assert denied(outs[5][0])  # near miss: not on the list
    long_url = "https://ci.example.com/" + "x" * 200 + "/status"
    configure(layout, loops={"allow": ["WebFetch(*/status)"]})
    for _ in range(8):  # the whole argument is matched, not the label cut to 80 characters
        pre, post = run_call(layout, long_url, tool="WebFetch", error=None, output="queued")
        assert not denied(pre) and context(post) == ""


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
    assert "mcp__db looks unavailable" in context(post)
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
            return [{"code": "TEST_BLOCK", "kind": "block", "model": "keep going"}], {}
        return [], {}


def test_stop_never_blocks_when_stop_hook_active(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lifeguard.features.registry.FEATURES", FEATURES + [_Blocker])
    first = hook(layout, "Stop", stop_hook_active=False, last_assistant_message="x")
    assert first["decision"] == "block"
    again = hook(layout, "Stop", stop_hook_active=True, last_assistant_message="x")
    assert "decision" not in again and "keep going" in again["systemMessage"]
    sub = hook(layout, "SubagentStop", stop_hook_active=True, agent_id="a1", last_assistant_message="x")
    assert "decision" not in sub


# -- calls no hook sees, read from the transcript ---------------------------------------------


class Transcript:
    """A session transcript as Claude Code writes it: assistant tool_use lines, user tool_result lines."""

    def __init__(self, path: Path):
        self.path = path
        path.write_text("")

    def add(self, *records: dict) -> None:
        with open(self.path, "a") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")

    def use(self, tuid: str, tool: str, tool_input: dict) -> None:
        self.add({"type": "assistant", "timestamp": "2026-11-30T10:00:00.000Z", "message": {"role": "assistant",
                  "content": [{"type": "tool_use", "id": tuid, "name": tool, "input": tool_input}]}})

    def result(self, tuid: str, text: str, error: bool = False) -> None:
        self.add({"type": "user", "timestamp": "2026-11-30T10:00:01.000Z", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tuid, "content": text, **({"is_error": True} if error else {})}]}})

    def rejected(self, tool: str, tool_input: dict, error: str) -> None:
        """A call Claude Code's validation rejected: in the transcript only, no hook."""
        tuid = f"toolu_hidden_{next(_ids)}"
        self.use(tuid, tool, tool_input)
        self.result(tuid, f"<tool_use_error>{error}</tool_use_error>", error=True)


EDIT = {"file_path": "/ws/f.txt", "old_string": "helo world", "new_string": "hello world"}
NOT_FOUND = "String to replace not found in file.\nString: helo world"


def read_call(layout: Layout, tr: Transcript, content: str = "hello wrld\n") -> tuple[dict, dict | None]:
    tuid = f"toolu_{next(_ids)}"
    base = {"tool_name": "Read", "tool_input": {"file_path": "/ws/f.txt"}, "tool_use_id": tuid,
            "transcript_path": str(tr.path)}
    tr.use(tuid, "Read", base["tool_input"])
    pre = hook(layout, "PreToolUse", **base)
    if denied(pre):
        return pre, None
    post = hook(layout, "PostToolUse", tool_response={"type": "text", "file": {"content": content}}, **base)
    tr.result(tuid, content)
    return pre, post


def test_a_failing_edit_no_hook_sees_is_named_and_the_read_between_is_not_blamed(layout: Layout, tmp_path: Path) -> None:
    tr = Transcript(tmp_path / "session.jsonl")
    hook(layout, "SessionStart", source="startup", transcript_path=str(tr.path))
    said = []
    for _ in range(5):
        pre, post = read_call(layout, tr)
        assert not denied(pre)  # the Read is never refused
        said += [context(pre), context(post)]
        tr.rejected("Edit", EDIT, NOT_FOUND)
    told = [t for t in said if t]
    assert told, said
    first = told[0]
    assert "`Edit: /ws/f.txt`" in first and "String to replace not found" in first
    assert "copy old_string exactly from the file's current text" in first and "no hook saw it" in first
    assert "2 rounds of `Read: /ws/f.txt` -> `Edit: /ws/f.txt`" in first
    assert "`Read: /ws/f.txt` is not the problem" in first
    assert "in a row" not in first and "use the result you already have" not in " ".join(told)
    # named no later than the 4th failed edit: it was said at the Read after the 2nd
    assert said.index(first) <= 4
    state = assert_replayable(layout)
    window = state["execution"]["loops"]["agents"]["main"]["window"]
    assert [e["label"] for e in window[-3:]] == ["Read: /ws/f.txt", "Edit: /ws/f.txt", "Read: /ws/f.txt"]
    assert window[-2]["hidden"] and not window[-1].get("hidden")


def test_hidden_failures_in_a_row_are_reported_by_the_next_hook_even_a_stop(layout: Layout, tmp_path: Path) -> None:
    tr = Transcript(tmp_path / "session.jsonl")
    hook(layout, "SessionStart", source="startup", transcript_path=str(tr.path))
    read_call(layout, tr)
    for _ in range(4):
        tr.rejected("Edit", EDIT, NOT_FOUND)
    out = hook(layout, "Stop", stop_hook_active=False, last_assistant_message="I could not edit it.",
               transcript_path=str(tr.path))
    assert "kept trying `Edit: /ws/f.txt` (error: String to replace not found in file.) (4 times)" in \
        out.get("systemMessage", "")
    assert "hookSpecificOutput" not in out or not context(out)  # a Stop is not sent back to work
    assert_replayable(layout)


def test_a_call_a_hook_saw_is_never_counted_twice(layout: Layout, tmp_path: Path) -> None:
    """A tool_result with <tool_use_error> for a call that went through PreToolUse (hooks saw it)."""
    tr = Transcript(tmp_path / "session.jsonl")
    hook(layout, "SessionStart", source="startup", transcript_path=str(tr.path))
    for i in range(4):
        tuid = f"toolu_seen_{i}"
        base = {"tool_name": "Edit", "tool_input": EDIT, "tool_use_id": tuid, "transcript_path": str(tr.path)}
        tr.use(tuid, "Edit", EDIT)
        hook(layout, "PreToolUse", **base)
        hook(layout, "PostToolUseFailure", error=NOT_FOUND, is_interrupt=False, **base)
        tr.result(tuid, f"<tool_use_error>{NOT_FOUND}</tool_use_error>", error=True)
    hook(layout, "Stop", stop_hook_active=False, last_assistant_message="x", transcript_path=str(tr.path))
    window = assert_replayable(layout)["execution"]["loops"]["agents"]["main"]["window"]
    assert len(window) == 4 and not any(e.get("hidden") for e in window)


def test_a_missing_or_garbled_transcript_never_fails_a_hook(layout: Layout, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.jsonl")
    assert not denied(run_call(layout, "ls", error=None)[0])
    out = hook(layout, "PreToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id="t1",
               transcript_path=missing)
    assert not denied(out)
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_bytes(b'{"type":"assistant","message":{"content":[{"type":"tool_use"\n\xff\xfe<tool_use_error>\n[1,2]\n')
    out = hook(layout, "PreToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id="t2",
               transcript_path=str(garbled))
    assert not denied(out)
    assert_replayable(layout)


# -- breakers: outages, not mistakes ------------------------------------------------------------


def test_argument_errors_never_open_a_breaker(layout: Layout) -> None:
    for i in range(8):  # a wrong argument each time (from a real session): the agent's mistake
        pre, post = run_call(layout, f"text/part00{i}.html", tool="mcp__books__get_section",
                             error=f"text/part00{i}.html not found in TOC")
        assert not denied(pre) and "unavailable" not in context(post)
    assert "CIRCUIT_OPEN" not in codes(layout)
    assert not denied(run_call(layout, "toc", tool="mcp__books__list_toc", error=None)[0])
    assert not assert_replayable(layout)["execution"].get("breakers")


def test_an_outage_opens_the_tool_breaker_but_one_tool_is_not_the_whole_server(layout: Layout) -> None:
    notices = []
    for i in range(5):
        _, post = run_call(layout, f"q{i}", tool="mcp__db__query", error="connect ECONNREFUSED 127.0.0.1:5432")
        notices.append(context(post))
    assert "mcp__db__query looks unavailable" in notices[-1] and not any(notices[:-1])
    pre, _ = run_call(layout, "q9", tool="mcp__db__query")
    assert denied(pre) and "mcp__db__query is unavailable" in pre["hookSpecificOutput"]["permissionDecisionReason"]
    assert not denied(run_call(layout, "l", tool="mcp__db__list", error=None)[0])  # the server is not blamed
    # a mistake in between proves the service answers: it resets the count
    configure(layout, breakers={"failure_threshold": 2})
    run_call(layout, "a", tool="WebFetch", error="Request failed with status code 503")
    run_call(layout, "b", tool="WebFetch", error="Invalid URL")
    _, post = run_call(layout, "c", tool="WebFetch", error="Request failed with status code 503")
    assert "unavailable" not in context(post)
    assert_replayable(layout)


def test_one_failure_gives_one_notice_however_many_breakers_it_opens(layout: Layout) -> None:
    configure(layout, breakers={"failure_threshold": 2})
    run_call(layout, "a", tool="mcp__db__list", error="MCP error -32001: Request timed out")
    _, post = run_call(layout, "b", tool="mcp__db__list", error="MCP error -32001: Request timed out")
    assert context(post).count("looks unavailable") == 1  # the tool's own breaker
    _, post = run_call(layout, "c", tool="mcp__db__query", error="MCP error -32001: Request timed out")
    text = context(post)
    assert "mcp__db looks unavailable" in text and text.count("lifeguard:") == 1  # the server: 2 tools failing
    opened = [r for r in records(layout) for n in r.get("notices") or () if n["code"] == "CIRCUIT_OPEN"]
    assert len(opened) == 2


def test_an_interrupted_call_is_no_failure_of_the_service(layout: Layout) -> None:
    configure(layout, breakers={"failure_threshold": 1})
    _, post = run_call(layout, "x", tool="mcp__db__query", error="[Request interrupted by user for tool use]")
    assert "unavailable" not in context(post) and "CIRCUIT_OPEN" not in codes(layout)


def test_secrets_in_calls_no_hook_saw_never_reach_disk(layout: Layout, tmp_path: Path) -> None:
    tr = Transcript(tmp_path / "session.jsonl")
    hook(layout, "SessionStart", source="startup", transcript_path=str(tr.path))
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    for _ in range(3):
        tr.rejected("Bash", {"command": f"curl -H 'Authorization: token {token}' x"}, f"InputValidationError: {token}")
    tr.use("toolu_pending", "Bash", {"command": f"echo {token}"})
    read_call(layout, tr)
    for path in layout.state_dir.rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path
    window = assert_replayable(layout)["execution"]["loops"]["agents"]["main"]["window"]
    assert sum(1 for e in window if e.get("hidden")) == 3
