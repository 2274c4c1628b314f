"""What coordination reports after a call: crashed subagents and the tasks they orphan,
deadlocks, failed deliveries, and what goes into the queue of lifeguard's own notices (the
timeouts and the queue's delivery, checked on every event the main agent sees, are in
feature.py). What the state must remember of them goes into `decided` (the check's
decisions), so the reducer replays them."""

from __future__ import annotations

import time

from . import agents as ag
from ...core import clock
from . import queue as nq
from . import taskgraph as tg
from ...store.state import peek, section
from .common import MESSAGE_TOOLS, NAME, TASK_RETRY_LIMIT, _context, _edge_order, _graph_edges, _letter, _owned, _queue_section
from .reduce import _apply_tasks
from ...alerts import codes


# -- PostToolUse ---------------------------------------------------------------------------------


def _after_call(state: dict, agents: dict, record: dict, coord: dict, decided: dict, conf: dict) -> list[dict]:
    tool = record.get("tool")
    if tool in MESSAGE_TOOLS and isinstance(coord.get("message"), dict) and coord["message"].get("ok") is False:
        return _delivery_failed(state, record, coord, decided, conf, clock.parse_ts(record.get("ts")) or time.time())
    if tool in ("TaskUpdate", "TaskList", "TaskCreate"):
        if tool == "TaskUpdate" and not coord.get("ok", True):
            return []
        return _task_graph_report(state, agents, record, decided)
    return []


def _delivery_failed(state: dict, record: dict, coord: dict, decided: dict, conf: dict, now: float) -> list[dict]:
    msg = coord.get("message") or {}
    to = msg.get("to") or "?"
    retry = peek(state, "communication", "message_queues", "retries").get(to) or {}
    attempts = int(retry.get("attempts") or 0) + 1
    decision = nq.retry_decision(attempts, "normal", cap=conf["message_backoff_cap_seconds"])
    reason = msg.get("error") or "delivery failed"
    if decision["retry"]:
        return [_context(codes.MESSAGE_DELIVERY_FAILED,
                         f"the message to {to} was not delivered ({reason}); attempt {attempts} of {decision['limit']}. "
                         f"If {to} should exist, retry in {decision['delay']:.0f}s (check ListAgents for the exact "
                         "name); if it is gone, give its work to another agent.")]
    decided["dead_letter"] = _letter(record, msg, f"gave up after {attempts} attempts: {reason}")
    return [_context(codes.MESSAGE_DELIVERY_FAILED,
                     f"the message to {to} failed {attempts} times ({reason}); lifeguard moved it to its dead letter "
                     f"queue. Do not resend it: {to} is not reachable. Hand its work to another agent or do it yourself.",
                     f"a message to {to} could not be delivered after {attempts} attempts (kept as a dead letter)")]


def _tasks_after(state: dict, record: dict) -> tuple[dict, dict]:
    """The task table and graph as they will be once this record is applied."""
    import copy  # here: only a task tool's record needs it, and a hook pays 1 ms to import it

    scratch = {"execution": {"tasks": copy.deepcopy(peek(state, "execution", "tasks"))},
               "communication": {"coordination": {"dependencies": {
                   "graph": copy.deepcopy(peek(state, "communication", "coordination", "dependencies", "graph"))}}}}
    from ...store.state import sequence

    _apply_tasks(scratch, record, record.get(NAME) or {}, sequence(state) + 1)  # the seq it will get
    return section(scratch, "execution", "tasks"), section(scratch, "communication", "coordination", "dependencies", "graph")


def _task_graph_report(state: dict, agents: dict, record: dict, decided: dict) -> list[dict]:
    tasks, graph = _tasks_after(state, record)
    notices = []
    deadlock = tg.find_deadlock(tasks, _graph_edges(graph), _edge_order(graph))
    key = None
    if deadlock is not None:
        key = ",".join(deadlock["stuck"]) + "|" + ",".join(deadlock["relax"] or ())
        if key != peek(state, "communication", "coordination", "dependencies").get("deadlock_reported"):
            notices.append(_deadlock_notice(deadlock))
    decided["deadlock"] = key
    gone = ag.gone_names(agents)
    fresh = [t for t in tg.orphans(tasks, gone) if not tasks[t].get("orphaned")]
    if fresh:
        decided["orphans_reported"] = fresh
        listing = "; ".join(f"#{t} \"{tasks[t].get('subject') or ''}\" (owner {tasks[t].get('owner')}, "
                            f"retry {int(tasks[t].get('retry_count') or 0) + 1})" for t in fresh[:10])
        notices.append(_context(codes.TASK_ORPHANED,
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
    return _context(codes.DEPENDENCY_DEADLOCK, text, "the task list is deadlocked: " + (cycles or waits))


# -- agents that fail ---------------------------------------------------------------------------


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


def _agent_call_failed(state: dict, agents: dict, record: dict, coord: dict, decided: dict, conf: dict) -> list[dict]:
    tuid = record.get("tuid")
    agent_id = ag.linked_agent(agents, tuid)
    tasks = peek(state, "execution", "tasks")
    error = coord.get("spawn_error") or "the Agent call failed"
    if agent_id:
        entry = (agents.get("active") or {}).get(agent_id) or (agents.get("pool") or {}).get(agent_id) or {}
        orphaned = _owned(tasks, ag.identities(agent_id, entry))
        decided["orphans_reported"] = orphaned
        why = "was interrupted" if coord.get("interrupt") else f"crashed: {error}"
        return [_context(codes.AGENT_CRASHED, _crash_text(agent_id, entry, why, tasks, orphaned),
                         f"subagent {entry.get('name') or agent_id} failed"
                         + (f"; {len(orphaned)} task(s) need a new owner" if orphaned else ""))]
    if coord.get("interrupt"):
        return []
    spawn = (agents.get("pending") or {}).get(tuid or "") or {}
    count = int((agents.get("spawn_failures") or {}).get("count") or 0) + 1
    limit = conf["spawn_failure_limit"]
    delay = ag.spawn_backoff(count, conf["spawn_backoff_base_seconds"], conf["spawn_backoff_cap_seconds"])
    orphaned = _owned(tasks, {spawn["name"]}) if spawn.get("name") else []
    decided["orphans_reported"] = orphaned
    if count >= limit:
        advice = (f"That is {count} failed spawns in a row: further Agent calls are refused for {delay:.0f}s. Do not keep "
                  "retrying: fix the cause (agent type, prompt, settings) or do the work in the main agent.")
    else:
        advice = (f"Attempt {count} of {limit}. Fix the cause before retrying (e.g. use an agent type that exists); if it "
                  f"looks transient, wait {delay:.0f}s before the next Agent call.")
    text = f"the subagent could not be started: {error}. {advice}"
    if orphaned:
        text += f" Tasks meant for {spawn['name']} have no agent: {_orphan_listing(tasks, orphaned)}."
    return [_context(codes.AGENT_SPAWN_FAILED, text)]


def _lost_agents(state: dict, agents: dict, record: dict, coord: dict, decided: dict, conf: dict,
                 now: float) -> None:
    """At the main agent's Stop: running subagents Claude Code no longer lists never
    reported back. They are marked failed and the report waits in the queue for the
    main agent's next turn (Stop cannot carry context)."""
    listed = set(coord.get("background") or ())
    tasks = peek(state, "execution", "tasks")
    lost, messages = [], []
    for agent_id, entry in ag.running(agents).items():
        last = clock.parse_ts(entry.get("last_seen") or entry.get("started_at") or entry.get("spawned_at"))
        if agent_id in listed or (last is not None and now - last < conf["lost_agent_grace_seconds"]):
            continue
        if entry.get("spawn") and entry["spawn"] in (agents.get("pending") or {}):
            continue  # its Agent call is still running (foreground): not lost
        lost.append(agent_id)
        orphaned = _owned(tasks, ag.identities(agent_id, entry))
        messages.append({"code": codes.AGENT_CRASHED,
                         "text": _crash_text(agent_id, entry, "ended without reporting back", tasks, orphaned)})
    if lost:
        decided["lost"] = lost
        _enqueue(state, record, messages, conf, decided)


# -- the queue of lifeguard's own notices ----------------------------------------------------------


def _enqueue(state: dict, record: dict, messages: list[dict], conf: dict, decided: dict) -> None:
    queues = _queue_section(state)
    queue = queues.get("lifeguard") if isinstance(queues.get("lifeguard"), list) else []
    next_id = int(queues.get("next_id") or 1)
    new = []
    for i, msg in enumerate(messages):
        new.append({"id": next_id + i, "code": msg["code"], "priority": nq.priority_for(msg["code"]),
                    "text": msg["text"], "at": record.get("ts")})
    kept, archived = nq.enqueue(queue, new, conf["queue_max"], conf["queue_keep_normal"])
    decided["enqueue"] = new
    if archived:
        decided["archived"] = archived
