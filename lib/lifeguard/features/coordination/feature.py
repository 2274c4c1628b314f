"""Agent and task coordination: subagents, the task dependency graph, message delivery.

Claude Code's own entities are the spec's agents, tasks and messages (shapes verified on
2.1.332, see agents.py): subagents started with the Agent tool, tasks made with TaskCreate /
TaskUpdate / TaskList (deferred tools, present when CLAUDE_CODE_ENABLE_TODO_TOOLS=1 or the
model is one that uses them), and SendMessage.

- `annotate` copies into `record["coord"]` what the rules and the reducer need: the spawn
  request, the agent id a call returned, the task ids / edges / statuses, the recipient.
- `check` applies the rules: refuses an Agent call over the concurrency limit or inside a
  spawn back-off (PreToolUse), refuses a TaskUpdate that would close a dependency cycle or
  assign a task to a failed agent, refuses a SendMessage to a failed agent (dead letter);
  reports crashed subagents with the tasks they leave orphaned, timeouts, deadlocks and
  failed deliveries. Its decisions (what was reported, queued, delivered, dead-lettered)
  are written into `record["coord"]` so the reducer replays them exactly.
- `apply` folds the record into `execution.agents`, `execution.tasks`,
  `communication.coordination` and `communication.message_queues` (all bounded).
- `after_commit` archives queue overflow under state/archive/.
"""

from __future__ import annotations

import copy
import json
import time

from . import agents as ag
from . import queue as nq
from . import taskgraph as tg
from . import tasks as tv
from .. import core
from ...core import clock

MAIN = "main"
TOOL_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure")
TASK_TOOLS = frozenset({"TaskCreate", "TaskUpdate", "TaskList", "TaskGet"})
MESSAGE_TOOLS = frozenset({"SendMessage"})
WATCHED = ag.AGENT_TOOLS | TASK_TOOLS | MESSAGE_TOOLS
# Events whose additionalContext reaches the main agent (when not from a subagent).
MAIN_CONTEXT_EVENTS = ("PostToolUse", "PostToolUseFailure", "UserPromptSubmit")
TASKS_KEEP = 200
EDGES_KEEP = 400
PENDING_EDGES_KEEP = 20
TASK_RETRY_LIMIT = 3
DELIVER_AT_ONCE = 10
LISTED_KEEP = 200

DEAD_LETTER_KEEP = 50  # a reducer bound, so a constant (not config)


def _cfg(cfg: dict) -> dict:
    from ...config.load import DEFAULTS  # stdlib-only module; DEFAULTS is the one source of defaults

    section = cfg.get("coordination") if isinstance(cfg, dict) else None
    base = DEFAULTS["coordination"]
    return {**base, **section} if isinstance(section, dict) else dict(base)


_node = core.section  # the dict at a path, created on the way


def _peek(state: dict, *keys: str) -> dict:
    """Read-only lookup: an empty dict where the state has nothing."""
    node = state
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return {}
    return node


def _short(text: object, limit: int = 200) -> str:
    text = str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ids(values: object) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


# == annotate ===================================================================================


def annotate(inp: dict, record: dict, cfg: dict) -> None:
    event = record.get("event")
    tool = inp.get("tool_name")
    coord: dict = {}
    if event in TOOL_EVENTS and tool in WATCHED:
        tool_input = inp.get("tool_input") if isinstance(inp.get("tool_input"), dict) else {}
        response = inp.get("tool_response")
        coord["by"] = inp.get("agent_id") or MAIN
        if tool in ag.AGENT_TOOLS:
            _annotate_agent(event, inp, tool_input, response, coord)
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
        record["coord"] = coord


def _annotate_agent(event: str, inp: dict, tool_input: dict, response: object, coord: dict) -> None:
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
        coord["interrupt"] = bool(inp.get("is_interrupt"))


def _annotate_task(event: str, tool: str, tool_input: dict, response: object, coord: dict) -> None:
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


# == check ======================================================================================


def check(state: dict, record: dict, cfg: dict) -> list[dict]:
    conf = _cfg(cfg)
    if not conf.get("enabled", True):
        return []
    event, tool = record.get("event"), record.get("tool")
    coord = record.get("coord") or {}
    now = ag.parse_ts(record.get("ts")) or time.time()
    agents = _peek(state, "execution", "agents")
    from_main = not record.get("agent")
    notices: list[dict] = []
    if event == "PreToolUse" and coord:
        notices += _before_call(state, agents, record, coord, conf, now)
    elif event == "PostToolUse" and coord:
        notices += _after_call(state, agents, record, coord, conf)
    elif event == "PostToolUseFailure" and tool in ag.AGENT_TOOLS and coord:
        notices += _agent_call_failed(state, agents, record, coord, conf)
    elif event == "PostToolUseFailure" and tool in MESSAGE_TOOLS and coord:
        notices += _delivery_failed(state, record, coord, conf, now)
    elif event == "Stop" and from_main and "background" in coord:
        _lost_agents(state, agents, record, coord, conf, now)
    if from_main and event in MAIN_CONTEXT_EVENTS:
        notices += _timeouts(agents, record, conf, now)
        notices += _deliver_queue(state, record)
    return notices


def _put(record: dict, key: str, value) -> None:
    record.setdefault("coord", {})[key] = value


def _deny(code: str, text: str) -> dict:
    return {"code": code, "kind": "deny", "model": f"lifeguard {code}: {text}"}


def _context(code: str, text: str, user: str | None = None) -> dict:
    notice = {"code": code, "kind": "context", "model": f"lifeguard {code}: {text}"}
    if user:
        notice["user"] = f"lifeguard: {user}"
    return notice


# -- PreToolUse gates ---------------------------------------------------------------------------


def _before_call(state: dict, agents: dict, record: dict, coord: dict, conf: dict, now: float) -> list[dict]:
    tool = record.get("tool")
    if coord.get("invalid"):
        return [_deny("TASK_DATA_INVALID", f"{tool} was not run: {coord['invalid']}. Fix the input and call it again.")]
    if tool in ag.AGENT_TOOLS:
        return _spawn_gate(agents, conf, now) or _capacity_gate(agents, conf)
    if tool == "TaskUpdate" and isinstance(coord.get("update"), dict):
        return _assign_gate(agents, coord["update"]) or _cycle_gate(state, coord["update"])
    if tool in MESSAGE_TOOLS and isinstance(coord.get("message"), dict):
        return _recipient_gate(state, agents, record, coord, conf, now)
    return []


def _spawn_gate(agents: dict, conf: dict, now: float) -> list[dict]:
    wait = ag.spawn_wait(agents, now, conf["spawn_failure_limit"], conf["spawn_backoff_base_seconds"],
                         conf["spawn_backoff_cap_seconds"])
    if wait is None:
        return []
    failures = agents.get("spawn_failures") or {}
    return [_deny("AGENT_SPAWN_FAILED",
                  f"the last {failures.get('count')} Agent calls failed before their subagent started (last error: "
                  f"{failures.get('last_error') or 'unknown'}). Not retrying for another {wait:.0f}s (exponential "
                  "back-off). Fix the cause first (agent type, prompt, settings) or do this work in the main agent.")]


def _capacity_gate(agents: dict, conf: dict) -> list[dict]:
    limit = conf["max_concurrent_agents"]
    if not ag.over_capacity(agents, limit):
        return []
    busy = [ag.describe(k, v) for k, v in ag.running(agents).items()]
    starting = len(ag.unstarted_spawns(agents))
    listing = "; ".join(busy[:8]) or "none started yet"
    extra = f" plus {starting} starting" if starting else ""
    return [_deny("AGENT_CAPACITY_EXCEEDED",
                  f"{ag.in_flight(agents)} subagents are already running (limit {limit}): {listing}{extra}. "
                  "This Agent call was not started. Wait for one of them to finish (you will be notified), "
                  "or do this work in the main agent.")]


def _assign_gate(agents: dict, update: dict) -> list[dict]:
    owner = update.get("owner")
    if not owner or owner not in ag.gone_names(agents):
        return []
    return [_deny("TASK_ASSIGNMENT_FAILED",
                  f"task #{update['id']} cannot be assigned to {owner}: that agent failed and is gone. "
                  "Assign it to a running agent, spawn a new one, or do it in the main agent.")]


def _edge_order(graph: dict) -> dict[tuple[str, str], int]:
    out = {}
    for edge in graph.get("edges") or ():
        if isinstance(edge, dict):
            out[(str(edge.get("from")), str(edge.get("to")))] = edge.get("seq") or 0
    return out


def _graph_edges(graph: dict, with_pending: bool = False) -> list[tuple[str, str]]:
    edges = list(_edge_order(graph))
    if with_pending:
        for pending in (graph.get("pending") or {}).values():
            edges += [tuple(map(str, e)) for e in pending if isinstance(e, list) and len(e) == 2]
    return edges


def _cycle_gate(state: dict, update: dict) -> list[dict]:
    new = [tuple(e) for e in update.get("edges") or ()]
    if not new:
        return []
    graph = _peek(state, "communication", "coordination", "dependencies", "graph")
    found = tg.cycle_closed_by(_graph_edges(graph, with_pending=True), new)
    if found is None:
        return []
    edge, cycle = found
    tasks = _peek(state, "execution", "tasks")
    priorities = {t: (tasks.get(t) or {}).get("priority") for t in cycle}
    order = _edge_order(graph)
    weakest = tg.weakest_link(cycle, priorities, order)
    advice = f"Leave out the new link {tg.format_link(edge)} (the most recent one) and run the update without it."
    if weakest != edge and weakest in order:
        advice += (f" If the mistake is the older link {tg.format_link(weakest)} (it joins the lowest-priority tasks "
                   f"of the cycle), TaskUpdate cannot remove it: mark #{weakest[0]} completed or deleted instead.")
    if edge[0] == edge[1]:
        text = f"task #{edge[0]} cannot block itself ({tg.format_cycle(cycle)}). {advice}"
    else:
        text = (f"this TaskUpdate would close the dependency cycle {tg.format_cycle(cycle)}, so none of those tasks "
                f"could ever start. It was not run. {advice}")
    return [_deny("CIRCULAR_DEPENDENCY", text)]


def _recipient_gate(state: dict, agents: dict, record: dict, coord: dict, conf: dict, now: float) -> list[dict]:
    msg = coord["message"]
    to = msg.get("to")
    if to and to in ag.gone_names(agents):
        letter = _letter(record, msg, "recipient failed")
        _put(record, "dead_letter", letter)
        return [_deny("MESSAGE_DELIVERY_FAILED",
                      f"{to} is a subagent that failed and is gone, so the message was not sent; lifeguard kept it "
                      "in its dead letter queue. Reassign that agent's work (spawn a new agent or do it yourself) "
                      "instead of messaging it.")]
    retry = _peek(state, "communication", "message_queues", "retries").get(to or "")
    if isinstance(retry, dict) and retry.get("attempts"):
        wait = (ag.parse_ts(retry.get("last_at")) or 0) + nq.backoff_seconds(
            retry["attempts"], cap=conf["message_backoff_cap_seconds"]) - now
        if wait > 0:
            return [_deny("MESSAGE_DELIVERY_FAILED",
                          f"the last message to {to} failed {retry['attempts']} time(s); wait another {wait:.0f}s "
                          "before retrying (exponential back-off). Meanwhile continue with other work, or check "
                          "with ListAgents that the recipient exists.")]
    return []


def _letter(record: dict, msg: dict, reason: str) -> dict:
    coord = record.get("coord") or {}
    return {"to": msg.get("to"), "from": coord.get("by", MAIN), "summary": msg.get("summary"),
            "reason": reason, "at": record.get("ts")}


# -- PostToolUse ---------------------------------------------------------------------------------


def _after_call(state: dict, agents: dict, record: dict, coord: dict, conf: dict) -> list[dict]:
    tool = record.get("tool")
    if tool in MESSAGE_TOOLS and isinstance(coord.get("message"), dict) and coord["message"].get("ok") is False:
        return _delivery_failed(state, record, coord, conf, ag.parse_ts(record.get("ts")) or time.time())
    if tool in ("TaskUpdate", "TaskList", "TaskCreate"):
        if tool == "TaskUpdate" and not coord.get("ok", True):
            return []
        return _task_graph_report(state, agents, record)
    return []


def _delivery_failed(state: dict, record: dict, coord: dict, conf: dict, now: float) -> list[dict]:
    msg = coord.get("message") or {}
    to = msg.get("to") or "?"
    retry = _peek(state, "communication", "message_queues", "retries").get(to) or {}
    attempts = int(retry.get("attempts") or 0) + 1
    decision = nq.retry_decision(attempts, "normal", cap=conf["message_backoff_cap_seconds"])
    reason = msg.get("error") or "delivery failed"
    if decision["retry"]:
        return [_context("MESSAGE_DELIVERY_FAILED",
                         f"the message to {to} was not delivered ({reason}); attempt {attempts} of {decision['limit']}. "
                         f"If {to} should exist, retry in {decision['delay']:.0f}s (check ListAgents for the exact "
                         "name); if it is gone, give its work to another agent.")]
    _put(record, "dead_letter", _letter(record, msg, f"gave up after {attempts} attempts: {reason}"))
    return [_context("MESSAGE_DELIVERY_FAILED",
                     f"the message to {to} failed {attempts} times ({reason}); lifeguard moved it to its dead letter "
                     f"queue. Do not resend it: {to} is not reachable. Hand its work to another agent or do it yourself.",
                     f"a message to {to} could not be delivered after {attempts} attempts (kept as a dead letter)")]


def _tasks_after(state: dict, record: dict) -> tuple[dict, dict]:
    """The task table and graph as they will be once this record is applied."""
    scratch = {"execution": {"tasks": copy.deepcopy(_peek(state, "execution", "tasks"))},
               "communication": {"coordination": {"dependencies": {
                   "graph": copy.deepcopy(_peek(state, "communication", "coordination", "dependencies", "graph"))}}}}
    from ...store.state import sequence

    _apply_tasks(scratch, record, record.get("coord") or {}, sequence(state) + 1)  # the seq it will get
    return _node(scratch, "execution", "tasks"), _node(scratch, "communication", "coordination", "dependencies", "graph")


def _task_graph_report(state: dict, agents: dict, record: dict) -> list[dict]:
    tasks, graph = _tasks_after(state, record)
    notices = []
    deadlock = tg.find_deadlock(tasks, _graph_edges(graph), _edge_order(graph))
    key = None
    if deadlock is not None:
        key = ",".join(deadlock["stuck"]) + "|" + ",".join(deadlock["relax"] or ())
        if key != _peek(state, "communication", "coordination", "dependencies").get("deadlock_reported"):
            notices.append(_deadlock_notice(deadlock))
    _put(record, "deadlock", key)
    gone = ag.gone_names(agents)
    fresh = [t for t in tg.orphans(tasks, gone) if not tasks[t].get("orphaned")]
    if fresh:
        _put(record, "orphans_reported", fresh)
        listing = "; ".join(f"#{t} \"{tasks[t].get('subject') or ''}\" (owner {tasks[t].get('owner')}, "
                            f"retry {int(tasks[t].get('retry_count') or 0) + 1})" for t in fresh[:10])
        notices.append(_context("TASK_ORPHANED",
                                f"these tasks are owned by an agent that failed and is gone: {listing}. Reassign each "
                                "(TaskUpdate with a new owner) or do it in the main agent."))
    return notices


def _deadlock_notice(deadlock: dict) -> dict:
    waits = "; ".join(f"#{t} waits for {', '.join('#' + w for w in ws)}" for t, ws in deadlock["waits"].items() if ws)
    cycles = ", ".join(tg.format_cycle(c) for c in deadlock["cycles"])
    text = f"no unfinished task can proceed: {waits}"
    if cycles:
        text += f" (cycle {cycles})"
    if deadlock["relax"]:
        blocker, task = deadlock["relax"]
        text += (f". Relax one dependency: let #{task} (the highest-priority task in the cycle) go ahead without "
                 f"#{blocker} (its lowest-priority / most recent blocker). TaskUpdate cannot remove a link: do #{task} "
                 f"now and mark #{blocker} completed when it is done, or delete #{blocker} if it is not needed.")
        if deadlock.get("also"):
            text += f" #{task} also waits for {', '.join('#' + a for a, _ in deadlock['also'])}: relax those too."
    return _context("DEPENDENCY_DEADLOCK", text, "the task list is deadlocked: " + (cycles or waits))


# -- agents that fail ---------------------------------------------------------------------------


def _owned(tasks: dict, names: set[str]) -> list[str]:
    return [t for t in tg.unfinished(tasks) if tasks[t].get("owner") in names]


def _orphan_listing(tasks: dict, ids: list[str]) -> str:
    parts = []
    for t in ids[:10]:
        retry = int(tasks[t].get("retry_count") or 0) + 1
        note = f" - it failed {retry} times, consider doing it yourself or splitting it" if retry >= TASK_RETRY_LIMIT else ""
        parts.append(f"#{t} \"{tasks[t].get('subject') or ''}\" (retry {retry} of {TASK_RETRY_LIMIT}{note})")
    return "; ".join(parts)


def _crash_text(agent_id: str, entry: dict, why: str, tasks: dict, orphaned: list[str]) -> str:
    text = f"subagent {ag.describe(agent_id, entry)} {why}. lifeguard marked it failed and released what it held."
    if orphaned:
        text += (f" Its tasks are now orphaned: {_orphan_listing(tasks, orphaned)}. Reassign them (TaskUpdate with "
                 "a new owner, or spawn a replacement agent) or do them in the main agent.")
    else:
        text += " It owned no tasks. Re-run its work if it is still needed (a new Agent call or in the main agent)."
    return text


def _agent_call_failed(state: dict, agents: dict, record: dict, coord: dict, conf: dict) -> list[dict]:
    tuid = record.get("tuid")
    agent_id = ag.linked_agent(agents, tuid)
    tasks = _peek(state, "execution", "tasks")
    error = coord.get("spawn_error") or "the Agent call failed"
    if agent_id:
        entry = (agents.get("active") or {}).get(agent_id) or (agents.get("pool") or {}).get(agent_id) or {}
        orphaned = _owned(tasks, ag.identities(agent_id, entry))
        _put(record, "orphans_reported", orphaned)
        why = "was interrupted" if coord.get("interrupt") else f"crashed: {error}"
        return [_context("AGENT_CRASHED", _crash_text(agent_id, entry, why, tasks, orphaned),
                         f"subagent {entry.get('name') or agent_id} failed"
                         + (f"; {len(orphaned)} task(s) need a new owner" if orphaned else ""))]
    if coord.get("interrupt"):
        return []
    spawn = (agents.get("pending") or {}).get(tuid or "") or {}
    count = int((agents.get("spawn_failures") or {}).get("count") or 0) + 1
    limit = conf["spawn_failure_limit"]
    delay = ag.spawn_backoff(count, conf["spawn_backoff_base_seconds"], conf["spawn_backoff_cap_seconds"])
    orphaned = _owned(tasks, {spawn["name"]}) if spawn.get("name") else []
    _put(record, "orphans_reported", orphaned)
    if count >= limit:
        advice = (f"That is {count} failed spawns in a row: further Agent calls are refused for {delay:.0f}s. Do not keep "
                  "retrying: fix the cause (agent type, prompt, settings) or do the work in the main agent.")
    else:
        advice = (f"Attempt {count} of {limit}. Fix the cause before retrying (e.g. use an agent type that exists); if it "
                  f"looks transient, wait {delay:.0f}s before the next Agent call.")
    text = f"the subagent could not be started: {error}. {advice}"
    if orphaned:
        text += f" Tasks meant for {spawn['name']} have no agent: {_orphan_listing(tasks, orphaned)}."
    return [_context("AGENT_SPAWN_FAILED", text)]


def _lost_agents(state: dict, agents: dict, record: dict, coord: dict, conf: dict, now: float) -> None:
    """At the main agent's Stop: running subagents Claude Code no longer lists never
    reported back. They are marked failed and the report waits in the queue for the
    main agent's next turn (Stop cannot carry context)."""
    listed = set(coord.get("background") or ())
    tasks = _peek(state, "execution", "tasks")
    lost, messages = [], []
    for agent_id, entry in ag.running(agents).items():
        last = ag.parse_ts(entry.get("last_seen") or entry.get("started_at") or entry.get("spawned_at"))
        if agent_id in listed or (last is not None and now - last < conf["lost_agent_grace_seconds"]):
            continue
        if entry.get("spawn") and entry["spawn"] in (agents.get("pending") or {}):
            continue  # its Agent call is still running (foreground): not lost
        lost.append(agent_id)
        orphaned = _owned(tasks, ag.identities(agent_id, entry))
        messages.append({"code": "AGENT_CRASHED",
                         "text": _crash_text(agent_id, entry, "ended without reporting back", tasks, orphaned)})
    if lost:
        _put(record, "lost", lost)
        _enqueue(state, record, messages, conf)


def _timeouts(agents: dict, record: dict, conf: dict, now: float) -> list[dict]:
    late = ag.timed_out(agents, now, conf["agent_timeout_seconds"])
    if not late:
        return []
    _put(record, "timeouts_reported", late)
    notices = []
    for agent_id in late[:5]:
        entry = agents["active"][agent_id]
        minutes = (now - (ag.parse_ts(entry.get("spawned_at")) or now)) / 60
        notices.append(_context(
            "AGENT_TIMEOUT",
            f"subagent {ag.describe(agent_id, entry)} has been running for {minutes:.0f} min (limit "
            f"{conf['agent_timeout_seconds'] / 60:.0f} min). Check on it (SendMessage to {entry.get('name') or agent_id} "
            "asking for its status), stop it with TaskStop if it is stuck, and reassign its tasks if you stop it.",
            f"subagent {entry.get('name') or agent_id} is running past the time limit"))
    return notices


# -- the queue of lifeguard's own notices ----------------------------------------------------------


def _queue_section(state: dict) -> dict:
    return _peek(state, "communication", "message_queues")


def _enqueue(state: dict, record: dict, messages: list[dict], conf: dict) -> None:
    queues = _queue_section(state)
    queue = queues.get("lifeguard") if isinstance(queues.get("lifeguard"), list) else []
    next_id = int(queues.get("next_id") or 1)
    new = []
    for i, msg in enumerate(messages):
        new.append({"id": next_id + i, "code": msg["code"], "priority": nq.priority_for(msg["code"]),
                    "text": msg["text"], "at": record.get("ts")})
    kept, archived = nq.enqueue(queue, new, conf["queue_max"], conf["queue_keep_normal"])
    _put(record, "enqueue", new)
    if archived:
        _put(record, "archived", archived)


def _deliver_queue(state: dict, record: dict) -> list[dict]:
    queue = _queue_section(state).get("lifeguard")
    if not isinstance(queue, list) or not queue:
        return []
    out = nq.by_priority(queue)[:DELIVER_AT_ONCE]
    _put(record, "delivered", [m.get("id") for m in out])
    return [_context(m.get("code") or "INTERNAL_ERROR", m.get("text") or "") for m in out]


# == apply =======================================================================================


def apply(state: dict, record: dict) -> None:
    event = record.get("event")
    ts = record.get("ts") or ""
    agents = ag.section(_node(state, "execution", "agents"))
    agent = record.get("agent")
    if agent and event == "SubagentStart":
        ag.subagent_started(agents, agent, record.get("agent_type"), ts)
    elif agent and event == "SubagentStop":
        ag.subagent_stopped(agents, agent, record.get("agent_type"), ts)
    elif agent and agent in agents["active"]:
        agents["active"][agent]["last_seen"] = ts
    if event == "Stop" and not agent:
        _forget_pending(state, agents)
    coord = record.get("coord")
    if not isinstance(coord, dict):
        return
    denied = any(isinstance(n, dict) and n.get("kind") == "deny" for n in record.get("notices") or ())
    tool, tuid = record.get("tool"), record.get("tuid") or ""
    if tool in ag.AGENT_TOOLS:
        _apply_agent_call(state, agents, record, coord, denied, ts)
    if tool in TASK_TOOLS:
        _apply_tasks(state, record, coord, record.get("seq") or 0, denied)
    if tool in MESSAGE_TOOLS:
        _apply_message(state, record, coord, ts)
    for agent_id in coord.get("lost") or ():
        entry = agents["active"].get(agent_id) or {}
        names = ag.identities(agent_id, entry)
        ag.mark_failed(agents, agent_id, "ended without reporting back", ts)
        _release(state, names)
        _orphan(state, names, ts)
    for agent_id in coord.get("timeouts_reported") or ():
        if agent_id in agents["active"]:
            agents["active"][agent_id]["timeout_reported"] = True
    tasks = _node(state, "execution", "tasks")
    for task_id in coord.get("orphans_reported") or ():
        if task_id in tasks and not tasks[task_id].get("orphaned"):
            tasks[task_id]["orphaned"] = True
            tasks[task_id]["retry_count"] = int(tasks[task_id].get("retry_count") or 0) + 1
    if "deadlock" in coord:
        _node(state, "communication", "coordination", "dependencies")["deadlock_reported"] = coord["deadlock"]
    _apply_queue(state, coord)


def _forget_pending(state: dict, agents: dict) -> None:
    """The main agent stopped: none of its tool calls is in flight any more, so admitted
    Agent calls and task links that never reported back must not count any longer."""
    for tuid in [k for k, v in agents["pending"].items() if v.get("parent", MAIN) == MAIN]:
        del agents["pending"][tuid]
    graph = _peek(state, "communication", "coordination", "dependencies", "graph")
    if isinstance(graph.get("pending"), dict):
        graph["pending"].clear()


def _apply_agent_call(state: dict, agents: dict, record: dict, coord: dict, denied: bool, ts: str) -> None:
    event, tuid = record.get("event"), record.get("tuid") or ""
    if event == "PreToolUse" and isinstance(coord.get("spawn"), dict) and not denied and tuid:
        ag.spawn_requested(agents, tuid, coord["spawn"], ts)
    elif event == "PostToolUse" and isinstance(coord.get("spawned"), dict):
        ag.spawn_finished(agents, tuid, coord["spawned"].get("agent"), coord["spawned"].get("status"), ts)
    elif event == "PostToolUseFailure":
        spawn = agents["pending"].get(tuid) or {}
        if coord.get("interrupt") and not spawn.get("agent"):
            agents["pending"].pop(tuid, None)
            return
        crashed = ag.spawn_failed(agents, tuid, coord.get("spawn_error") or "", ts)
        if crashed:
            _release(state, ag.identities(crashed, agents["pool"].get(crashed) or {}))


def _release(state: dict, names: set[str]) -> None:
    """Free the coordination locks a failed agent held."""
    locks = _node(state, "communication", "coordination", "locks")
    for resource in [r for r, info in locks.items() if isinstance(info, dict) and info.get("locked_by") in names]:
        del locks[resource]


def _orphan(state: dict, names: set[str], ts: str) -> None:
    tasks = _node(state, "execution", "tasks")
    for task_id in _owned(tasks, names):
        if not tasks[task_id].get("orphaned"):
            tasks[task_id]["orphaned"] = True
            tasks[task_id]["retry_count"] = int(tasks[task_id].get("retry_count") or 0) + 1


def _task_entry(tasks: dict, task_id: str, seq: int) -> dict:
    entry = tasks.get(task_id)
    if not isinstance(entry, dict):
        entry = {"id": task_id, "subject": "", "status": "pending", "owner": None, "priority": None,
                 "blocks": [], "blocked_by": [], "retry_count": 0, "orphaned": False, "seq": seq}
        tasks[task_id] = entry
    return entry


def _apply_tasks(state: dict, record: dict, coord: dict, seq: int, denied: bool = False) -> None:
    event = record.get("event")
    tasks = _node(state, "execution", "tasks")
    graph = _node(state, "communication", "coordination", "dependencies", "graph")
    pending = graph.get("pending") if isinstance(graph.get("pending"), dict) else {}
    graph["pending"] = pending
    tuid = record.get("tuid") or ""
    created, update = coord.get("created"), coord.get("update")
    if event == "PreToolUse":
        if isinstance(update, dict) and update.get("edges") and not denied and tuid:
            pending[tuid] = update["edges"]
            while len(pending) > PENDING_EDGES_KEEP:
                pending.pop(next(iter(pending)))
        return
    pending.pop(tuid, None)
    if event != "PostToolUse":
        return
    if isinstance(created, dict):
        entry = _task_entry(tasks, created["id"], seq)
        entry.update(subject=created.get("subject") or "", created_by=coord.get("by"))
        if created.get("priority"):
            entry["priority"] = created["priority"]
    if isinstance(update, dict) and coord.get("ok", True) and update.get("id"):
        _apply_update(tasks, graph, update, seq, coord.get("by"))
    if isinstance(coord.get("listed"), list):
        _apply_listing(tasks, graph, coord["listed"], bool(coord.get("complete")), seq)
    _sync(tasks, graph)


def _apply_update(tasks: dict, graph: dict, update: dict, seq: int, by: str | None) -> None:
    task_id = update["id"]
    if update.get("status") == "deleted":
        tasks.pop(task_id, None)
        graph["edges"] = [e for e in graph.get("edges") or () if task_id not in (e.get("from"), e.get("to"))]
        return
    entry = _task_entry(tasks, task_id, seq)
    if update.get("status"):
        entry["status"] = update["status"]
        if update["status"] == "in_progress" and by and by != MAIN and not entry.get("owner"):
            entry["claimed_by"] = by
    if "owner" in update and update["owner"] != entry.get("owner"):
        entry["owner"] = update["owner"]
        entry["orphaned"] = False  # reassigned
    if update.get("priority"):
        entry["priority"] = update["priority"]
    _add_edges(graph, [tuple(e) for e in update.get("edges") or ()], seq)


def _add_edges(graph: dict, edges: list[tuple[str, str]], seq: int) -> None:
    current = [e for e in graph.get("edges") or () if isinstance(e, dict)]
    have = {(e.get("from"), e.get("to")) for e in current}
    for a, b in edges:
        if (a, b) not in have:
            current.append({"from": a, "to": b, "seq": seq})
            have.add((a, b))
    graph["edges"] = current[-EDGES_KEEP:]


def _apply_listing(tasks: dict, graph: dict, listed: list[dict], complete: bool, seq: int) -> None:
    """TaskList is Claude Code's own view: take statuses, owners and blockers from it."""
    seen = set()
    for item in listed:
        task_id = item["id"]
        seen.add(task_id)
        entry = _task_entry(tasks, task_id, seq)
        entry["status"] = item.get("status") or entry["status"]
        if item.get("subject"):
            entry["subject"] = item["subject"]
        if item.get("owner") != entry.get("owner"):
            entry["owner"] = item.get("owner")
            entry["orphaned"] = False
        want = {(b, task_id) for b in item.get("blocked_by") or ()}
        kept = [e for e in graph.get("edges") or () if e.get("to") != task_id or (e.get("from"), task_id) in want]
        graph["edges"] = kept
        _add_edges(graph, sorted(want), seq)
    if complete:
        for task_id in [t for t in tasks if t not in seen]:
            tasks.pop(task_id)
        graph["edges"] = [e for e in graph.get("edges") or () if e.get("from") in tasks and e.get("to") in tasks]


def _sync(tasks: dict, graph: dict) -> None:
    """Mirror the edges into each task's blocks / blocked_by, the nodes, and bound the table."""
    finished = [t for t, v in tasks.items() if v.get("status") in tg.FINISHED]
    for task_id in finished[: max(0, len(tasks) - TASKS_KEEP)]:
        tasks.pop(task_id)
    for entry in tasks.values():
        entry["blocks"], entry["blocked_by"] = [], []
    for edge in graph.get("edges") or ():
        a, b = edge.get("from"), edge.get("to")
        if a in tasks and b not in tasks[a]["blocks"]:
            tasks[a]["blocks"].append(b)
        if b in tasks and a not in tasks[b]["blocked_by"]:
            tasks[b]["blocked_by"].append(a)
    graph["nodes"] = {t: v.get("status") for t, v in tasks.items()}


def _apply_message(state: dict, record: dict, coord: dict, ts: str) -> None:
    queues = _node(state, "communication", "message_queues")
    retries = _node(queues, "retries")
    msg = coord.get("message") if isinstance(coord.get("message"), dict) else {}
    to = msg.get("to") or "?"
    if record.get("event") in ("PostToolUse", "PostToolUseFailure") and "ok" in msg:
        if msg["ok"]:
            retries.pop(to, None)
        elif isinstance(coord.get("dead_letter"), dict):
            retries.pop(to, None)  # given up: the next message to it starts afresh
        else:
            entry = retries.get(to) if isinstance(retries.get(to), dict) else {}
            retries[to] = {"attempts": int(entry.get("attempts") or 0) + 1, "last_at": ts}
            while len(retries) > 50:
                retries.pop(next(iter(retries)))
    if isinstance(coord.get("dead_letter"), dict):
        dead = queues.get("dead_letter") if isinstance(queues.get("dead_letter"), list) else []
        queues["dead_letter"] = nq.dead_letter(dead, coord["dead_letter"], DEAD_LETTER_KEEP)


def _apply_queue(state: dict, coord: dict) -> None:
    new, archived, delivered = coord.get("enqueue"), coord.get("archived"), coord.get("delivered")
    if not (new or archived or delivered):
        return
    queues = _node(state, "communication", "message_queues")
    queue = queues.get("lifeguard") if isinstance(queues.get("lifeguard"), list) else []
    if new:
        queue = queue + list(new)
        queues["next_id"] = max(int(queues.get("next_id") or 1), max(m["id"] for m in new) + 1)
    gone = {m.get("id") for m in archived or ()} | set(delivered or ())
    queues["lifeguard"] = [m for m in queue if m.get("id") not in gone]


# == after_commit ================================================================================


def after_commit(txn, record: dict, cfg: dict, layout) -> list[dict]:
    archived = (record.get("coord") or {}).get("archived")
    if not archived:
        return []
    from ...core import fsutil
    from ...core.paths import safe_name

    fsutil.ensure_private_dir(layout.archive_dir)
    path = layout.archive_dir / f"notices-{safe_name(txn.store.session_id)}.jsonl"
    lines = "".join(json.dumps({"reason": "queue_overflow", **m}, ensure_ascii=True) + "\n" for m in archived)
    fsutil.append_durable(path, lines.encode())
    return []
