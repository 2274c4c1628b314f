"""Coordination's reducer (`apply`): folds the record (its annotation and its check's decisions)
into `execution.agents`, `execution.tasks`, `communication.coordination` and
`communication.message_queues` (all bounded)."""

from __future__ import annotations

from . import agents as ag
from ...store.record import decisions
from ...store.state import peek, section
from .common import (DEAD_LETTER_KEEP, EDGES_KEEP, MAIN, MESSAGE_TOOLS, NAME, PENDING_EDGES_KEEP, TASKS_KEEP, TASK_TOOLS,
                     _owned)


def apply(state: dict, record: dict) -> None:
    event = record.get("event")
    ts = record.get("ts") or ""
    agents = ag.section(section(state, "execution", "agents"))
    agent = record.get("agent")
    if agent and event == "SubagentStart":
        ag.subagent_started(agents, agent, record.get("agent_type"), ts)
    elif agent and event == "SubagentStop":
        ag.subagent_stopped(agents, agent, record.get("agent_type"), ts)
    elif agent and agent in agents["active"]:
        agents["active"][agent]["last_seen"] = ts
    if event == "Stop" and not agent:
        _forget_pending(state, agents)
    coord = record.get(NAME) if isinstance(record.get(NAME), dict) else {}
    decided = decisions(record, NAME)
    if not (coord or decided):
        return
    denied = any(isinstance(n, dict) and n.get("kind") == "deny" for n in record.get("notices") or ())
    tool = record.get("tool")
    if tool in ag.AGENT_TOOLS:
        _apply_agent_call(state, agents, record, coord, denied, ts)
    if tool in TASK_TOOLS:
        _apply_tasks(state, record, coord, record.get("seq") or 0, denied)
    if tool in MESSAGE_TOOLS:
        _apply_message(state, record, coord, decided, ts)
    for agent_id in decided.get("lost") or ():
        entry = agents["active"].get(agent_id) or {}
        names = ag.identities(agent_id, entry)
        ag.mark_failed(agents, agent_id, "ended without reporting back", ts)
        _release(state, names)
        _orphan(state, names, ts)
    for agent_id in decided.get("timeouts_reported") or ():
        if agent_id in agents["active"]:
            agents["active"][agent_id]["timeout_reported"] = True
    tasks = section(state, "execution", "tasks")
    for task_id in decided.get("orphans_reported") or ():
        if task_id in tasks and not tasks[task_id].get("orphaned"):
            tasks[task_id]["orphaned"] = True
            tasks[task_id]["retry_count"] = int(tasks[task_id].get("retry_count") or 0) + 1
    if "deadlock" in decided:
        section(state, "communication", "coordination", "dependencies")["deadlock_reported"] = decided["deadlock"]
    _apply_queue(state, decided)


def _forget_pending(state: dict, agents: dict) -> None:
    """The main agent stopped: none of its tool calls is in flight any more, so admitted
    Agent calls and task links that never reported back must not count any longer."""
    for tuid in [k for k, v in agents["pending"].items() if v.get("parent", MAIN) == MAIN]:
        del agents["pending"][tuid]
    graph = peek(state, "communication", "coordination", "dependencies", "graph")
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
    locks = section(state, "communication", "coordination", "locks")
    for resource in [r for r, info in locks.items() if isinstance(info, dict) and info.get("locked_by") in names]:
        del locks[resource]


def _orphan(state: dict, names: set[str], ts: str) -> None:
    tasks = section(state, "execution", "tasks")
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
    tasks = section(state, "execution", "tasks")
    graph = section(state, "communication", "coordination", "dependencies", "graph")
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
    from . import taskgraph as tg  # here: only a task tool's record needs it

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


def _apply_message(state: dict, record: dict, coord: dict, decided: dict, ts: str) -> None:
    queues = section(state, "communication", "message_queues")
    retries = section(queues, "retries")
    msg = coord.get("message") if isinstance(coord.get("message"), dict) else {}
    to = msg.get("to") or "?"
    if record.get("event") in ("PostToolUse", "PostToolUseFailure") and "ok" in msg:
        if msg["ok"]:
            retries.pop(to, None)
        elif isinstance(decided.get("dead_letter"), dict):
            retries.pop(to, None)  # given up: the next message to it starts afresh
        else:
            entry = retries.get(to) if isinstance(retries.get(to), dict) else {}
            retries[to] = {"attempts": int(entry.get("attempts") or 0) + 1, "last_at": ts}
            while len(retries) > 50:
                retries.pop(next(iter(retries)))
    if isinstance(decided.get("dead_letter"), dict):
        from . import queue as nq  # here: only a message given up needs it

        dead = queues.get("dead_letter") if isinstance(queues.get("dead_letter"), list) else []
        queues["dead_letter"] = nq.dead_letter(dead, decided["dead_letter"], DEAD_LETTER_KEEP)


def _apply_queue(state: dict, decided: dict) -> None:
    new, archived, delivered = decided.get("enqueue"), decided.get("archived"), decided.get("delivered")
    if not (new or archived or delivered):
        return
    queues = section(state, "communication", "message_queues")
    queue = queues.get("lifeguard") if isinstance(queues.get("lifeguard"), list) else []
    if new:
        queue = queue + list(new)
        queues["next_id"] = max(int(queues.get("next_id") or 1), max(m["id"] for m in new) + 1)
    gone = {m.get("id") for m in archived or ()} | set(delivered or ())
    queues["lifeguard"] = [m for m in queue if m.get("id") not in gone]
