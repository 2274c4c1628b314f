"""Agent and task coordination, end to end: the real Claude Code CLI with lifeguard installed,
a scripted model that spawns subagents and builds a task graph.

Task tools (TaskCreate / TaskUpdate / TaskList) are deferred tools in 2.1.332 that exist only
with CLAUDE_CODE_ENABLE_TODO_TOOLS=1 (or for older models); a scripted call works without
loading them through ToolSearch first.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .fakemodel import FakeModel, text, tool_use
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
TASK_ENV = {"CLAUDE_CODE_ENABLE_TODO_TOOLS": "1"}
TASK_TOOLS = ["TaskCreate", "TaskUpdate", "TaskList"]


def install(ws: Path, coordination: dict | None = None) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(ws)], check=True, capture_output=True, timeout=120)
    if coordination:
        path = ws / ".claude" / "lifeguard.json"
        current = json.loads(path.read_text())
        current.setdefault("coordination", {}).update(coordination)
        path.write_text(json.dumps(current, indent=2))


def notices(ws: Path, session_id: str | None) -> list[dict]:
    log = ws / ".claude" / "state" / f"events-{session_id}.jsonl"
    assert log.exists(), f"no event log at {log}: did the hooks run?"
    return [n for line in log.read_text().splitlines() if line.strip() for n in json.loads(line).get("notices") or ()]


def session_state(ws: Path, session_id: str | None) -> dict:
    return json.loads((ws / ".claude" / "state" / f"session-{session_id}.json").read_text())


def create(subject: str) -> dict:
    return tool_use("TaskCreate", {"subject": subject, "description": f"{subject} (details)"})


def test_update_that_closes_a_cycle_is_refused_and_the_acyclic_one_runs(workspace: Path) -> None:
    install(workspace)
    first, second = create("design the schema"), create("write the migration")
    ok_link = tool_use("TaskUpdate", {"taskId": "1", "addBlocks": ["2"]})
    cycle_link = tool_use("TaskUpdate", {"taskId": "2", "addBlocks": ["1"]})
    listing = tool_use("TaskList", {})
    res = run_claude(workspace, "E2E coordination: plan the tasks",
                     [[first], [second], [ok_link], [cycle_link], [listing]],
                     allowed_tools=TASK_TOOLS, env=TASK_ENV, timeout=90)
    assert res.returncode == 0, res.describe()
    assert res.tool_result_text(first["id"]) == "Task #1 created successfully: design the schema", res.describe()
    # the acyclic link went through
    ok = res.tool_result(ok_link["id"])
    assert ok is not None and not ok.get("is_error") and "Updated task #1 blocks" in (res.tool_result_text(ok_link["id"]) or "")
    # the cycle-closing one was refused before it ran, naming the cycle and the link to drop
    refused = res.tool_result(cycle_link["id"])
    shown = res.tool_result_text(cycle_link["id"]) or ""
    assert refused is not None and refused.get("is_error") is True, res.describe()
    assert "CIRCULAR_DEPENDENCY" in shown and "#2 -> #1 -> #2" in shown, shown
    assert "Leave out the new link #2 blocks #1" in shown, shown
    # Claude Code's own task list has no cycle: #1 is not blocked by #2
    tasks = res.tool_result_text(listing["id"]) or ""
    assert "#2 [pending] write the migration [blocked by #1]" in tasks, tasks
    assert "#1 [pending] design the schema [blocked" not in tasks, tasks
    codes = [n["code"] for n in notices(workspace, res.session_id)]
    assert codes.count("CIRCULAR_DEPENDENCY") == 1
    graph = session_state(workspace, res.session_id)["communication"]["coordination"]["dependencies"]["graph"]
    assert [(e["from"], e["to"]) for e in graph["edges"]] == [("1", "2")]


def test_agent_call_over_the_concurrency_limit_is_refused(workspace: Path) -> None:
    install(workspace, {"max_concurrent_agents": 1})
    calls = [tool_use("Agent", {"description": f"survey part {i}", "prompt": f"E2E-CAP-{i}: survey",
                                "subagent_type": "general-purpose", "run_in_background": False}) for i in range(2)]
    res = run_claude(workspace, "E2E coordination: survey in parallel", [calls],
                     allowed_tools=["Agent"], subagent_turns=[[text("survey report")]], timeout=90)
    assert res.returncode == 0, res.describe()
    results = [res.tool_result(c["id"]) for c in calls]
    texts = [res.tool_result_text(c["id"]) or "" for c in calls]
    refused = [t for r, t in zip(results, texts) if r and r.get("is_error")]
    ran = [t for r, t in zip(results, texts) if r and not r.get("is_error")]
    assert len(refused) == 1 and len(ran) == 1, res.describe()
    assert "survey report" in ran[0]
    reason = refused[0]
    assert "AGENT_CAPACITY_EXCEEDED" in reason and "limit 1" in reason, reason
    assert "Wait for one of them to finish" in reason and "main agent" in reason, reason
    assert len({r.agent_id for r in res.subagent_requests}) == 1  # only one subagent ever started
    agents = session_state(workspace, res.session_id)["execution"]["agents"]
    assert [a["status"] for a in agents["pool"].values()] == ["completed"] and agents["active"] == {}


def test_failed_subagent_leaves_its_task_orphaned_and_the_model_is_told(workspace: Path) -> None:
    install(workspace)
    task = create("write the parser")
    assign = tool_use("TaskUpdate", {"taskId": "1", "owner": "parser-worker", "status": "in_progress"})
    spawn = tool_use("Agent", {"description": "write the parser", "prompt": "E2E-ORPHAN: write the parser",
                               "subagent_type": "general-purpose", "run_in_background": False,
                               "name": "parser-worker"})
    reassign_to_dead = tool_use("TaskUpdate", {"taskId": "1", "owner": "parser-worker"})
    prompt = "E2E coordination: delegate the parser"
    # every subagent request fails with HTTP 400 (not retried): the subagent dies mid-run
    model = FakeModel([[task], [assign], [spawn], [reassign_to_dead]], subagent_turns=[[text("never")]],
                      main_prompt=prompt, fail_kinds={"subagent": 400})
    model.start()
    try:
        res = run_claude(workspace, prompt, model=model, allowed_tools=["Agent", *TASK_TOOLS], env=TASK_ENV,
                         timeout=90)
    finally:
        model.stop()
    assert res.returncode == 0, res.describe()
    failed = res.tool_result(spawn["id"])
    assert failed is not None and failed.get("is_error") is True, res.describe()
    # what the model saw right after the failed Agent call
    after = res.request_after(spawn["id"])
    assert after is not None, res.describe()
    seen = after.user_text()
    assert "AGENT_CRASHED" in seen and "parser-worker" in seen, seen
    assert "#1 \"write the parser\" (retry 1 of 3)" in seen and "Reassign" in seen, seen
    # giving the task back to the failed agent is refused
    refused = res.tool_result_text(reassign_to_dead["id"]) or ""
    assert "TASK_ASSIGNMENT_FAILED" in refused and "parser-worker" in refused, refused
    st = session_state(workspace, res.session_id)
    agents = st["execution"]["agents"]
    assert [(a["name"], a["status"]) for a in agents["pool"].values()] == [("parser-worker", "failed")]
    assert st["execution"]["tasks"]["1"]["orphaned"] is True and st["execution"]["tasks"]["1"]["retry_count"] == 1
