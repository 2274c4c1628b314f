"""Coordination's `annotate`: copies into `record["coord"]` (NAME) what the rules and the reducer need
(the spawn request, the agent id a call returned, task ids / edges / statuses, the recipient)."""

from __future__ import annotations

from . import agents as ag
from ...core import clock
from .common import LISTED_KEEP, MAIN, NAME, TASK_TOOLS, TOOL_EVENTS, WATCHED, _ids, _short


def annotate(inp: dict, record: dict, cfg: dict) -> None:
    event = record.get("event")
    tool = inp.get("tool_name")
    coord: dict = {}
    if event in TOOL_EVENTS and tool in WATCHED:
        tool_input = inp.get("tool_input") if isinstance(inp.get("tool_input"), dict) else {}
        response = inp.get("tool_response")
        coord["by"] = inp.get("agent_id") or MAIN
        if tool in ag.AGENT_TOOLS:
            _annotate_agent(event, inp, tool_input, response, coord, bool(record.get("interrupt")))
        elif tool in TASK_TOOLS:
            _annotate_task(event, tool, tool_input, response, coord)
        else:
            _annotate_message(event, tool_input, response, coord)
    elif event == "Stop" and not inp.get("agent_id") and isinstance(inp.get("background_tasks"), list):
        coord["background"] = [str(t.get("id")) for t in inp["background_tasks"][:100]
                               if isinstance(t, dict) and t.get("type", "subagent") == "subagent"
                               and t.get("status", "running") == "running"]
    if coord or event in ("SubagentStart", "SubagentStop", "UserPromptSubmit", "Stop") or event in TOOL_EVENTS:
        record.setdefault("ts", clock.now_iso())  # timeouts and back-off are measured from the record
    if coord:
        record[NAME] = coord


def _annotate_agent(event: str, inp: dict, tool_input: dict, response: object, coord: dict,
                    interrupted: bool) -> None:
    if event == "PreToolUse":
        coord["spawn"] = {"type": _short(tool_input.get("subagent_type"), 100) or ag.DEFAULT_TYPE,
                          "name": _short(tool_input.get("name"), 100) or None,
                          "description": _short(tool_input.get("description"), 100) or None,
                          "background": tool_input.get("run_in_background") is not False,
                          "parent": inp.get("agent_id") or MAIN}
    elif event == "PostToolUse":
        resp = response if isinstance(response, dict) else {}
        coord["spawned"] = {"agent": _short(resp.get("agentId"), 100) or None, "status": _short(resp.get("status"), 40)}
    else:
        coord["spawn_error"] = _short(inp.get("error"), 300) or "the Agent call failed"
        coord["interrupt"] = interrupted


def _annotate_task(event: str, tool: str, tool_input: dict, response: object, coord: dict) -> None:
    from . import taskgraph as tg, tasks as tv  # here: only a task tool's record needs them

    resp = response if isinstance(response, dict) else {}
    if tool == "TaskCreate":
        if event == "PreToolUse":
            problem = tv.validate_create(tool_input)
            if problem:
                coord["invalid"] = problem
        elif event == "PostToolUse" and isinstance(resp.get("task"), dict) and resp["task"].get("id") is not None:
            meta = tool_input.get("metadata") if isinstance(tool_input.get("metadata"), dict) else {}
            coord["created"] = {"id": str(resp["task"]["id"]), "subject": _short(resp["task"].get("subject"), 200),
                                "priority": meta.get("priority") if meta.get("priority") in tv.PRIORITIES else None}
    elif tool == "TaskUpdate":
        problem = tv.validate_update(tool_input) if event == "PreToolUse" else None
        if problem:
            coord["invalid"] = problem
            return
        task_id = str(tool_input.get("taskId", ""))
        meta = tool_input.get("metadata") if isinstance(tool_input.get("metadata"), dict) else {}
        update = {"id": task_id,
                  "edges": [list(e) for e in tg.edges_from_update(task_id, _ids(tool_input.get("addBlocks")),
                                                                  _ids(tool_input.get("addBlockedBy")))]}
        if isinstance(tool_input.get("status"), str):
            update["status"] = tool_input["status"]
        if isinstance(tool_input.get("owner"), str):
            update["owner"] = _short(tool_input["owner"], 100)
        if meta.get("priority") in tv.PRIORITIES:
            update["priority"] = meta["priority"]
        coord["update"] = update
        if event == "PostToolUse":
            coord["ok"] = resp.get("success") is not False
    elif tool == "TaskList" and event == "PostToolUse" and isinstance(resp.get("tasks"), list):
        listed = []
        for task in resp["tasks"][:LISTED_KEEP]:
            if isinstance(task, dict) and task.get("id") is not None:
                listed.append({"id": str(task["id"]), "status": _short(task.get("status"), 40),
                               "owner": _short(task.get("owner"), 100) or None,
                               "subject": _short(task.get("subject"), 200),
                               "blocked_by": _ids(task.get("blockedBy"))[:50]})
        coord["listed"] = listed
        coord["complete"] = len(resp["tasks"]) <= LISTED_KEEP


def _annotate_message(event: str, tool_input: dict, response: object, coord: dict) -> None:
    to = tool_input.get("to") or tool_input.get("recipient")
    coord["message"] = {"to": _short(to, 200), "summary": _short(tool_input.get("summary"), 200)}
    if event == "PostToolUse":
        resp = response if isinstance(response, dict) else {}
        coord["message"]["ok"] = resp.get("success") is not False
        if resp.get("success") is False:
            coord["message"]["error"] = _short(resp.get("message") or resp.get("display"), 300)
    elif event == "PostToolUseFailure":
        coord["message"]["ok"] = False
