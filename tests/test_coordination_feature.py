"""The coordination feature through the real handler, with the hook inputs Claude Code 2.1.332
sends (captured from the CLI): subagents, task tools, SendMessage."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.hook import pipeline as handlers
from lifeguard.store import reducer, state as state_mod
from lifeguard.upkeep import schema
from lifeguard.features.coordination import feature as coordination, reports
from lifeguard.core import clock as clock_mod
from lifeguard.core.paths import Layout

SID = "3e4f5a6b-7c8d-4e9f-8a1b-2c3d4e5f6a7b"  # a Claude Code session id
_ids = itertools.count(1)
T0 = 1_700_000_000.0


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".claude")


@pytest.fixture
def clock(monkeypatch):
    """Controls the time stamped on records (all timeouts and back-offs are measured from it)."""
    now = [T0]

    def stamp() -> str:
        t = now[0]
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"

    monkeypatch.setattr(clock_mod, "now_iso", stamp)
    return now


def configure(layout: Layout, **coordination_cfg) -> None:
    layout.claude_dir.mkdir(parents=True, exist_ok=True)
    layout.config_file.write_text(json.dumps({"coordination": coordination_cfg}))


def hook(layout: Layout, event: str, **fields) -> dict:
    return handlers.handle(event, {"session_id": SID, "hook_event_name": event, **fields}, layout)


def denial(out: dict) -> str | None:
    spec = out.get("hookSpecificOutput") or {}
    return spec.get("permissionDecisionReason") if spec.get("permissionDecision") == "deny" else None


def context(out: dict) -> str:
    return (out.get("hookSpecificOutput") or {}).get("additionalContext", "")


def state(layout: Layout) -> dict:
    return state_mod.load(layout.session_file(SID))


def tool(layout: Layout, name: str, tool_input: dict, response=None, error: str | None = None,
         agent: str | None = None) -> tuple[dict, dict | None]:
    """One tool call as Claude Code reports it: PreToolUse, then (unless refused) its outcome."""
    base = {"tool_name": name, "tool_input": tool_input, "tool_use_id": f"toolu_{next(_ids)}"}
    if agent:
        base.update(agent_id=agent, agent_type="general-purpose")
    pre = hook(layout, "PreToolUse", **base)
    if denial(pre):
        return pre, None
    if error is not None:
        return pre, hook(layout, "PostToolUseFailure", error=error, is_interrupt=False, **base)
    return pre, hook(layout, "PostToolUse", tool_response=response if response is not None else {}, **base)


def create_task(layout: Layout, task_id: str, subject: str, **meta) -> None:
    tool(layout, "TaskCreate", {"subject": subject, "description": subject, **({"metadata": meta} if meta else {})},
         {"task": {"id": task_id, "subject": subject, "description": subject}})


def update_task(layout: Layout, task_id: str, **fields) -> tuple[dict, dict | None]:
    updated = [k for k in fields]
    return tool(layout, "TaskUpdate", {"taskId": task_id, **fields},
                {"success": True, "taskId": task_id, "updatedFields": updated})


def agent_input(name: str | None = None, background: bool = True, kind: str = "general-purpose") -> dict:
    out = {"description": f"job {next(_ids)}", "prompt": "do it", "subagent_type": kind, "run_in_background": background}
    if name:
        out["name"] = name
    return out


def spawn_background(layout: Layout, agent_id: str, name: str | None = None) -> dict:
    """A background Agent call: PreToolUse, launch, SubagentStart (the order the CLI uses)."""
    base = {"tool_name": "Agent", "tool_input": agent_input(name), "tool_use_id": f"toolu_{next(_ids)}"}
    pre = hook(layout, "PreToolUse", **base)
    if denial(pre):
        return pre
    hook(layout, "PostToolUse", tool_response={"isAsync": True, "status": "async_launched", "agentId": agent_id}, **base)
    hook(layout, "SubagentStart", agent_id=agent_id, agent_type="general-purpose")
    return pre


def assert_replays(layout: Layout) -> None:
    replayed = reducer.replay_log(layout.event_log(SID), SID, FEATURES)
    assert json.loads(state_mod.dump(replayed)) == json.loads(state_mod.dump(state(layout)))
    assert schema.validate_state(state(layout)) == []  # and the state keeps the session schema


# -- agents --------------------------------------------------------------------------------------


def test_foreground_subagent_is_tracked_from_spawn_to_completion(layout, clock):
    base = {"tool_name": "Agent", "tool_input": agent_input("fgworker", background=False), "tool_use_id": "toolu_fg"}
    hook(layout, "PreToolUse", **base)
    pending = state(layout)["execution"]["agents"]["pending"]
    assert pending["toolu_fg"]["name"] == "fgworker" and pending["toolu_fg"]["agent"] is None
    hook(layout, "SubagentStart", agent_id="a1", agent_type="general-purpose")
    active = state(layout)["execution"]["agents"]["active"]["a1"]
    assert active["status"] == "running" and active["name"] == "fgworker" and active["parent"] == "main"
    hook(layout, "SubagentStop", agent_id="a1", agent_type="general-purpose", last_assistant_message="ok")
    hook(layout, "PostToolUse", tool_response={"status": "completed", "agentId": "a1"}, **base)
    agents = state(layout)["execution"]["agents"]
    assert agents["active"] == {} and agents["pending"] == {}
    assert agents["pool"]["a1"]["status"] == "completed" and agents["pool"]["a1"]["name"] == "fgworker"
    assert_replays(layout)


def test_background_launch_reported_before_start_links_the_right_call(layout, clock):
    calls = [{"tool_name": "Agent", "tool_input": agent_input(f"w{i}"), "tool_use_id": f"toolu_p{i}"} for i in range(2)]
    for call in calls:
        hook(layout, "PreToolUse", **call)
    # the CLI starts w1's subagent first, then reports w0's launch, then w1's
    hook(layout, "SubagentStart", agent_id="b1", agent_type="general-purpose")
    hook(layout, "PostToolUse", tool_response={"status": "async_launched", "agentId": "b0"}, **calls[0])
    hook(layout, "PostToolUse", tool_response={"status": "async_launched", "agentId": "b1"}, **calls[1])
    hook(layout, "SubagentStart", agent_id="b0", agent_type="general-purpose")
    active = state(layout)["execution"]["agents"]["active"]
    assert {k: v["name"] for k, v in active.items()} == {"b0": "w0", "b1": "w1"}
    assert state(layout)["execution"]["agents"]["pending"] == {}


def test_agent_call_over_capacity_is_refused_until_one_finishes(layout, clock):
    configure(layout, max_concurrent_agents=2)
    spawn_background(layout, "a1", "one")
    spawn_background(layout, "a2", "two")
    pre = spawn_background(layout, "a3", "three")
    reason = denial(pre)
    assert reason and "AGENT_CAPACITY_EXCEEDED" in reason and "limit 2" in reason
    assert "one" in reason and "two" in reason and "main agent" in reason
    assert "a3" not in state(layout)["execution"]["agents"]["active"]
    hook(layout, "SubagentStop", agent_id="a1", agent_type="general-purpose")
    assert denial(spawn_background(layout, "a3", "three")) is None
    assert_replays(layout)


def test_parallel_agent_calls_count_before_their_subagents_start(layout, clock):
    configure(layout, max_concurrent_agents=2)
    outs = [hook(layout, "PreToolUse", tool_name="Agent", tool_input=agent_input(), tool_use_id=f"toolu_par{i}")
            for i in range(3)]
    assert [denial(o) is not None for o in outs] == [False, False, True]


def test_crashed_subagent_orphans_its_tasks_and_releases_its_locks(layout, clock):
    create_task(layout, "1", "write the parser")
    create_task(layout, "2", "unrelated")
    update_task(layout, "1", owner="worker", status="in_progress")
    base = {"tool_name": "Agent", "tool_input": agent_input("worker", background=False), "tool_use_id": "toolu_w"}
    hook(layout, "PreToolUse", **base)
    hook(layout, "SubagentStart", agent_id="aw", agent_type="general-purpose")
    # a lock held by the subagent (coordination locks are shared state other features may set)
    snap = state(layout)
    snap["communication"]["coordination"]["locks"]["src/parser.py"] = {"locked_by": "aw"}
    state_mod.save(layout.session_file(SID), snap)
    out = hook(layout, "PostToolUseFailure", error="Agent terminated early due to an API error: API Error: 400",
               is_interrupt=False, **base)
    text = context(out)
    assert "AGENT_CRASHED" in text and "worker" in text and "API Error: 400" in text
    assert "#1 \"write the parser\" (retry 1 of 3)" in text and "#2" not in text
    assert "Reassign" in text
    assert "worker" in out.get("systemMessage", "")
    st = state(layout)
    assert st["execution"]["agents"]["pool"]["aw"]["status"] == "failed"
    assert st["execution"]["tasks"]["1"]["orphaned"] is True and st["execution"]["tasks"]["1"]["retry_count"] == 1
    assert "src/parser.py" not in st["communication"]["coordination"]["locks"]
    # the failed agent cannot be given work or sent messages
    reason = denial(update_task(layout, "2", owner="worker")[0])
    assert reason and "TASK_ASSIGNMENT_FAILED" in reason
    assert_replays(layout)
    pre, _ = tool(layout, "SendMessage", {"to": "worker", "summary": "status?", "message": "how is it going"})
    assert "MESSAGE_DELIVERY_FAILED" in denial(pre) and "dead letter" in denial(pre)
    dead = state(layout)["communication"]["message_queues"]["dead_letter"]
    assert dead[-1]["to"] == "worker" and dead[-1]["from"] == "main" and dead[-1]["summary"] == "status?"
    # reassigning clears the orphan mark
    update_task(layout, "1", owner="main")
    assert state(layout)["execution"]["tasks"]["1"]["orphaned"] is False


def test_repeated_spawn_failures_back_off_instead_of_retrying(layout, clock):
    configure(layout, spawn_failure_limit=3, spawn_backoff_base_seconds=2, spawn_backoff_cap_seconds=300)
    texts = []
    for _ in range(3):
        _, post = tool(layout, "Agent", agent_input(kind="no-such-type", background=False),
                       error="Agent type 'no-such-type' not found.")
        texts.append(context(post))
    assert all("AGENT_SPAWN_FAILED" in t for t in texts)
    assert "Attempt 1 of 3" in texts[0] and "refused for 8s" in texts[2]
    pre, _ = tool(layout, "Agent", agent_input(), error="x")
    assert "AGENT_SPAWN_FAILED" in denial(pre) and "not found" in denial(pre)
    clock[0] += 9  # past the back-off
    pre = hook(layout, "PreToolUse", tool_name="Agent", tool_input=agent_input(), tool_use_id="toolu_after")
    assert denial(pre) is None
    hook(layout, "SubagentStart", agent_id="ok1", agent_type="general-purpose")
    assert "spawn_failures" not in state(layout)["execution"]["agents"]  # a start ends the streak
    assert_replays(layout)


def test_an_interrupted_agent_call_is_no_spawn_failure(layout, clock):
    """The user interrupted the Task: Claude Code says so in the error, not always in is_interrupt."""
    for name in ("Task", "Agent"):
        _, post = tool(layout, name, agent_input(background=False),
                       error="[Request interrupted by user for tool use]")
        assert "AGENT_SPAWN_FAILED" not in context(post) and "could not be started" not in context(post)
    assert "spawn_failures" not in state(layout)["execution"]["agents"]
    assert denial(tool(layout, "Agent", agent_input())[0]) is None
    # near miss: a real spawn failure still counts
    _, post = tool(layout, "Agent", agent_input(kind="no-such-type", background=False),
                   error="Agent type 'no-such-type' not found.")
    assert "Attempt 1 of" in context(post)
    assert_replays(layout)


def test_running_subagent_past_the_limit_is_reported_once_to_the_main_agent(layout, clock):
    configure(layout, agent_timeout_seconds=600)
    spawn_background(layout, "slow", "crawler")
    clock[0] += 100
    assert "AGENT_TIMEOUT" not in context(tool(layout, "Bash", {"command": "ls"}, {"stdout": ""})[1])
    clock[0] += 600
    # the subagent's own events do not carry the report (it is for the main agent)
    assert context(tool(layout, "Bash", {"command": "ls"}, {"stdout": ""}, agent="slow")[1]) == ""
    text = context(hook(layout, "UserPromptSubmit", prompt="next"))
    assert "AGENT_TIMEOUT" in text and "crawler" in text and "TaskStop" in text
    assert "AGENT_TIMEOUT" not in context(tool(layout, "Bash", {"command": "ls"}, {"stdout": ""})[1])
    assert_replays(layout)


def test_subagent_that_never_reports_back_is_failed_at_stop_and_reported_next_turn(layout, clock):
    configure(layout, lost_agent_grace_seconds=30)
    create_task(layout, "1", "index the docs")
    spawn_background(layout, "ghost", "indexer")
    update_task(layout, "1", owner="indexer")
    spawn_background(layout, "alive", "other")
    clock[0] += 60
    out = hook(layout, "Stop", stop_hook_active=False, last_assistant_message="done",
               background_tasks=[{"id": "alive", "type": "subagent", "status": "running"}])
    assert "AGENT_CRASHED" not in json.dumps(out)  # Stop cannot carry context: the report is queued
    st = state(layout)
    assert st["execution"]["agents"]["pool"]["ghost"]["status"] == "failed"
    assert "alive" in st["execution"]["agents"]["active"]
    assert st["execution"]["tasks"]["1"]["orphaned"] is True
    queued = st["communication"]["message_queues"]["lifeguard"]
    assert [m["code"] for m in queued] == ["AGENT_CRASHED"] and queued[0]["priority"] == "high"
    text = context(hook(layout, "UserPromptSubmit", prompt="continue"))
    assert "AGENT_CRASHED" in text and "indexer" in text and "without reporting back" in text and "#1" in text
    assert state(layout)["communication"]["message_queues"]["lifeguard"] == []
    assert "AGENT_CRASHED" not in context(hook(layout, "UserPromptSubmit", prompt="again"))
    assert_replays(layout)


# -- tasks ----------------------------------------------------------------------------------------


def test_cycle_closing_update_is_refused_and_the_acyclic_one_goes_through(layout, clock):
    for i in "123":
        create_task(layout, i, f"task {i}")
    pre, post = update_task(layout, "1", addBlocks=["2"])
    assert denial(pre) is None and post is not None
    pre, _ = update_task(layout, "2", addBlockedBy=["3"])
    assert denial(pre) is None
    pre, post = update_task(layout, "2", addBlocks=["1"])
    reason = denial(pre)
    assert post is None and reason and "CIRCULAR_DEPENDENCY" in reason
    assert "#2 -> #1 -> #2" in reason and "Leave out the new link #2 blocks #1" in reason
    graph = state(layout)["communication"]["coordination"]["dependencies"]["graph"]
    assert sorted((e["from"], e["to"]) for e in graph["edges"]) == [("1", "2"), ("3", "2")]
    tasks = state(layout)["execution"]["tasks"]
    assert tasks["2"]["blocked_by"] == ["1", "3"] and tasks["1"]["blocks"] == ["2"]
    assert_replays(layout)


def test_longer_cycle_and_self_dependency_are_refused(layout, clock):
    update_task(layout, "1", addBlocks=["2"])
    update_task(layout, "2", addBlocks=["3"])
    assert "#3 -> #1 -> #2 -> #3" in denial(update_task(layout, "3", addBlocks=["1"])[0])
    assert "cannot block itself" in denial(update_task(layout, "4", addBlockedBy=["4"])[0])


def test_parallel_updates_cannot_close_a_cycle_between_them(layout, clock):
    first = hook(layout, "PreToolUse", tool_name="TaskUpdate", tool_input={"taskId": "1", "addBlocks": ["2"]},
                 tool_use_id="toolu_u1")
    second = hook(layout, "PreToolUse", tool_name="TaskUpdate", tool_input={"taskId": "2", "addBlocks": ["1"]},
                  tool_use_id="toolu_u2")
    assert denial(first) is None and "CIRCULAR_DEPENDENCY" in denial(second)


def test_invalid_task_data_gets_a_clear_refusal(layout, clock):
    reason = denial(tool(layout, "TaskUpdate", {"taskId": "1", "addBlocks": "2"})[0])
    assert "TASK_DATA_INVALID" in reason and "addBlocks must be a list" in reason
    reason = denial(tool(layout, "TaskCreate", {"subject": "", "description": "x"})[0])
    assert "non-empty subject" in reason
    reason = denial(tool(layout, "TaskUpdate", {"taskId": "1", "status": "done"})[0])
    assert "'done' is not one of pending, in_progress, completed, deleted" in reason


def test_deadlock_from_the_task_list_is_reported_once_with_the_link_to_relax(layout, clock):
    listing = {"tasks": [
        {"id": "1", "subject": "a", "status": "pending", "blockedBy": ["2"]},
        {"id": "2", "subject": "b", "status": "pending", "blockedBy": ["1"]},
        {"id": "3", "subject": "c", "status": "completed", "blockedBy": []},
    ]}
    _, post = tool(layout, "TaskList", {}, listing)
    text = context(post)
    assert "DEPENDENCY_DEADLOCK" in text and "#1 waits for #2" in text and "#2 waits for #1" in text
    assert "cycle #1 -> #2 -> #1" in text and "Relax one dependency" in text
    assert "DEPENDENCY_DEADLOCK" not in context(tool(layout, "TaskList", {}, listing)[1])
    # completing one of them ends the deadlock
    update_task(layout, "2", status="completed")
    assert state(layout)["communication"]["coordination"]["dependencies"]["deadlock_reported"] is None
    assert_replays(layout)


def test_deleted_task_leaves_the_graph(layout, clock):
    create_task(layout, "1", "one")
    create_task(layout, "2", "two")
    update_task(layout, "1", addBlocks=["2"])
    assert state(layout)["execution"]["tasks"]["2"]["blocked_by"] == ["1"]
    update_task(layout, "1", status="deleted")
    st = state(layout)
    assert "1" not in st["execution"]["tasks"]
    assert st["communication"]["coordination"]["dependencies"]["graph"]["edges"] == []
    assert st["execution"]["tasks"]["2"]["blocked_by"] == []


def test_task_list_reveals_tasks_owned_by_a_failed_agent(layout, clock):
    tool(layout, "Agent", agent_input("ghost", background=False), error="Agent type 'x' not found.")
    base = {"tool_name": "Agent", "tool_input": agent_input("runner", background=False), "tool_use_id": "toolu_r"}
    hook(layout, "PreToolUse", **base)
    hook(layout, "SubagentStart", agent_id="ar", agent_type="general-purpose")
    hook(layout, "PostToolUseFailure", error="boom", is_interrupt=False, **base)
    listing = {"tasks": [{"id": "7", "subject": "late", "status": "pending", "owner": "runner", "blockedBy": []}]}
    text = context(tool(layout, "TaskList", {}, listing)[1])
    assert "TASK_ORPHANED" in text and "#7 \"late\" (owner runner, retry 1)" in text
    assert "TASK_ORPHANED" not in context(tool(layout, "TaskList", {}, listing)[1])


# -- messages -------------------------------------------------------------------------------------


def test_failed_deliveries_retry_with_backoff_then_go_to_the_dead_letter_queue(layout, clock):
    fail = {"success": False, "message": "No agent named 'bob' is reachable."}
    msg = {"to": "bob", "summary": "hi", "message": "hi"}
    _, post = tool(layout, "SendMessage", msg, fail)
    assert "attempt 1 of 3" in context(post) and "retry in 2s" in context(post)
    pre, _ = tool(layout, "SendMessage", msg, fail)  # too soon
    assert "wait another 2s" in denial(pre)
    clock[0] += 3
    assert "attempt 2 of 3" in context(tool(layout, "SendMessage", msg, fail)[1])
    clock[0] += 5
    _, post = tool(layout, "SendMessage", msg, fail)
    assert "failed 3 times" in context(post) and "dead letter" in context(post)
    queues = state(layout)["communication"]["message_queues"]
    assert queues["dead_letter"][-1]["to"] == "bob" and "bob" not in queues["retries"]
    assert_replays(layout)


def test_successful_delivery_resets_the_retry_count(layout, clock):
    tool(layout, "SendMessage", {"to": "ann", "message": "x"}, {"success": False, "message": "busy"})
    clock[0] += 5
    tool(layout, "SendMessage", {"to": "ann", "message": "x"}, {"success": True})
    assert "ann" not in state(layout)["communication"]["message_queues"]["retries"]


def test_queue_overflow_keeps_urgent_notices_and_archives_the_rest(layout, clock):
    hook(layout, "SessionStart", source="startup", cwd="/w")
    st = state(layout)
    queues = st["communication"]["message_queues"]
    queues["lifeguard"] = [{"id": i, "code": "AGENT_TIMEOUT", "priority": "normal", "text": f"n{i}"} for i in range(1, 11)]
    queues["lifeguard"].append({"id": 11, "code": "AGENT_CRASHED", "priority": "high", "text": "h"})
    queues["next_id"] = 12
    conf = {"queue_max": 10, "queue_keep_normal": 5}
    decided: dict = {}
    reports._enqueue(st, {"event": "Stop", "ts": "2023-11-14T22:13:20.000Z"},
                     [{"code": "AGENT_TIMEOUT", "text": "new"}], conf, decided)
    archived = decided["archived"]
    assert [m["id"] for m in archived] == [1, 2, 3, 4, 5, 6]
    record = {"event": "Stop", "ts": "2023-11-14T22:13:20.000Z", "decisions": {"coord": decided}}
    coordination.apply(st, {**record, "seq": 99})
    kept = st["communication"]["message_queues"]["lifeguard"]
    assert [m["id"] for m in kept] == [7, 8, 9, 10, 11, 12]

    class Txn:
        class store:
            session_id = SID

    coordination.after_commit(Txn, record, {}, layout)
    lines = (layout.archive_dir / f"notices-{SID}.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert all(json.loads(line)["reason"] == "queue_overflow" for line in lines)


def test_disabled_feature_does_nothing(layout, clock):
    configure(layout, enabled=False, max_concurrent_agents=1)
    spawn_background(layout, "a1")
    assert denial(spawn_background(layout, "a2")) is None
