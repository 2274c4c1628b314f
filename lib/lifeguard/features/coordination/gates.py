"""PreToolUse gates: refuse an Agent call over the concurrency limit or inside a spawn back-off,
a TaskUpdate that would close a dependency cycle or assign a task to a failed agent, a
SendMessage to a failed agent (dead letter). What the state must remember goes into `decided`."""

from __future__ import annotations

from . import agents as ag
from ...core import clock
from ...store.state import peek
from . import queue as nq
from . import taskgraph as tg
from .common import MESSAGE_TOOLS, _deny, _edge_order, _graph_edges, _letter
from ...alerts import codes


def _before_call(state: dict, agents: dict, record: dict, coord: dict, decided: dict, conf: dict,
                 now: float) -> list[dict]:
    tool = record.get("tool")
    if coord.get("invalid"):
        return [_deny(codes.TASK_DATA_INVALID, f"{tool} was not run: {coord['invalid']}. Fix the input and call it again.")]
    if tool in ag.AGENT_TOOLS:
        return _spawn_gate(agents, conf, now) or _capacity_gate(agents, conf)
    if tool == "TaskUpdate" and isinstance(coord.get("update"), dict):
        return _assign_gate(agents, coord["update"]) or _cycle_gate(state, coord["update"])
    if tool in MESSAGE_TOOLS and isinstance(coord.get("message"), dict):
        return _recipient_gate(state, agents, record, coord, decided, conf, now)
    return []


def _spawn_gate(agents: dict, conf: dict, now: float) -> list[dict]:
    wait = ag.spawn_wait(agents, now, conf["spawn_failure_limit"], conf["spawn_backoff_base_seconds"],
                         conf["spawn_backoff_cap_seconds"])
    if wait is None:
        return []
    failures = agents.get("spawn_failures") or {}
    return [_deny(codes.AGENT_SPAWN_FAILED,
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
    return [_deny(codes.AGENT_CAPACITY_EXCEEDED,
                  f"{ag.in_flight(agents)} subagents are already running (limit {limit}): {listing}{extra}. "
                  "This Agent call was not started. Wait for one of them to finish (you will be notified), "
                  "or do this work in the main agent.")]


def _assign_gate(agents: dict, update: dict) -> list[dict]:
    owner = update.get("owner")
    if not owner or owner not in ag.gone_names(agents):
        return []
    return [_deny(codes.TASK_ASSIGNMENT_FAILED,
                  f"task #{update['id']} cannot be assigned to {owner}: that agent failed and is gone. "
                  "Assign it to a running agent, spawn a new one, or do it in the main agent.")]


def _cycle_gate(state: dict, update: dict) -> list[dict]:
    new = [tuple(e) for e in update.get("edges") or ()]
    if not new:
        return []
    graph = peek(state, "communication", "coordination", "dependencies", "graph")
    found = tg.cycle_closed_by(_graph_edges(graph, with_pending=True), new)
    if found is None:
        return []
    edge, cycle = found
    tasks = peek(state, "execution", "tasks")
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
    return [_deny(codes.CIRCULAR_DEPENDENCY, text)]


def _recipient_gate(state: dict, agents: dict, record: dict, coord: dict, decided: dict, conf: dict,
                    now: float) -> list[dict]:
    msg = coord["message"]
    to = msg.get("to")
    if to and to in ag.gone_names(agents):
        decided["dead_letter"] = _letter(record, msg, "recipient failed")
        return [_deny(codes.MESSAGE_DELIVERY_FAILED,
                      f"{to} is a subagent that failed and is gone, so the message was not sent; lifeguard kept it "
                      "in its dead letter queue. Reassign that agent's work (spawn a new agent or do it yourself) "
                      "instead of messaging it.")]
    retry = peek(state, "communication", "message_queues", "retries").get(to or "")
    if isinstance(retry, dict) and retry.get("attempts"):
        wait = (clock.parse_ts(retry.get("last_at")) or 0) + nq.backoff_seconds(
            retry["attempts"], cap=conf["message_backoff_cap_seconds"]) - now
        if wait > 0:
            return [_deny(codes.MESSAGE_DELIVERY_FAILED,
                          f"the last message to {to} failed {retry['attempts']} time(s); wait another {wait:.0f}s "
                          "before retrying (exponential back-off). Meanwhile continue with other work, or check "
                          "with ListAgents that the recipient exists.")]
    return []
