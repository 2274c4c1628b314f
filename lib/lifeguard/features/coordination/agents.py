"""Subagent tracking: who was spawned, who runs, who finished, who failed (stdlib only).

The section is `execution.agents`:

    active   {agent_id: {agent_type, name, description, parent, status: "running",
                         spawned_at, spawn (tool_use_id), background, timeout_reported}}
    pool     {agent_id: {..., status: "completed" | "failed", stopped_at | failed_at}}
    pending  {tool_use_id: {type, name, description, parent, background, requested_at, agent}}
             Agent calls let through PreToolUse whose tool call has not finished yet
    spawn_failures {count, last_at, last_error}   consecutive Agent calls that never started

What Claude Code 2.1.332 sends (verified): PreToolUse(Agent) -> SubagentStart(agent_id,
agent_type) -> [the subagent's own events carry its agent_id] -> SubagentStop ->
PostToolUse(Agent, tool_response.agentId, status "completed" | "async_launched"). An Agent
call that fails after its subagent started (API error, crash) gives PostToolUseFailure with
no SubagentStop; one that fails before (unknown type) gives PostToolUseFailure with no
SubagentStart. SubagentStart carries no tool_use_id, so it is linked to the oldest pending
call of the same type; PostToolUse's agentId then corrects the link.

Every function here mutates only the section it is given, deterministically.
"""

from __future__ import annotations

from ...core.clock import parse_ts

POOL_KEEP = 50
PENDING_KEEP = 20
DEFAULT_TYPE = "general-purpose"
AGENT_TOOLS = frozenset({"Agent", "Task"})  # "Task" is the Agent tool's older name


def section(agents: dict) -> dict:
    for key in ("active", "pool", "pending"):
        if not isinstance(agents.get(key), dict):
            agents[key] = {}
    return agents


# -- rules (read-only) ---------------------------------------------------------------------


def running(agents: dict) -> dict[str, dict]:
    return {k: v for k, v in (agents.get("active") or {}).items() if v.get("status") == "running"}


def unstarted_spawns(agents: dict) -> dict[str, dict]:
    """Agent calls let through whose subagent has not started yet."""
    return {k: v for k, v in (agents.get("pending") or {}).items() if not v.get("agent")}


def in_flight(agents: dict) -> int:
    """Concurrent subagents: running ones plus admitted calls not started yet."""
    return len(running(agents)) + len(unstarted_spawns(agents))


def over_capacity(agents: dict, limit: int) -> bool:
    return limit > 0 and in_flight(agents) >= limit


def timed_out(agents: dict, now: float, limit_seconds: float) -> list[str]:
    """Running agents past the limit that have not been reported yet."""
    out = []
    for agent_id, entry in running(agents).items():
        started = parse_ts(entry.get("spawned_at"))
        if started is not None and not entry.get("timeout_reported") and now - started > limit_seconds:
            out.append(agent_id)
    return out


def spawn_backoff(count: int, base: float, cap: float) -> float:
    return float(min(base * (2 ** max(0, min(count - 1, 32))), cap))


def spawn_wait(agents: dict, now: float, limit: int, base: float, cap: float) -> float | None:
    """Seconds still to wait before another Agent call, once spawns failed `limit` times in
    a row; None when a call may go ahead."""
    failures = agents.get("spawn_failures") or {}
    count = failures.get("count", 0)
    if limit <= 0 or count < limit:
        return None
    last = parse_ts(failures.get("last_at"))
    if last is None:
        return None
    remaining = last + spawn_backoff(count, base, cap) - now
    return remaining if remaining > 0 else None


def identities(agent_id: str, entry: dict) -> set[str]:
    """The names a task owner may use for an agent: its id and its name."""
    out = {agent_id}
    if entry.get("name"):
        out.add(entry["name"])
    return out


def gone_names(agents: dict) -> set[str]:
    """Ids and names of failed agents (a name reused by a running agent is not gone)."""
    live = set()
    for agent_id, entry in running(agents).items():
        live |= identities(agent_id, entry)
    out = set()
    for agent_id, entry in (agents.get("pool") or {}).items():
        if entry.get("status") == "failed":
            out |= identities(agent_id, entry)
    return out - live


def linked_agent(agents: dict, tuid: str | None) -> str | None:
    pending = (agents.get("pending") or {}).get(tuid or "")
    return pending.get("agent") if pending else None


def describe(agent_id: str, entry: dict) -> str:
    bits = [entry.get("name") or agent_id, f"({entry.get('agent_type') or DEFAULT_TYPE}"]
    if entry.get("description"):
        bits[-1] += f", \"{entry['description']}\""
    return " ".join(bits) + ")"


# -- reducer steps -------------------------------------------------------------------------


def _bound(mapping: dict, keep: int) -> None:
    while len(mapping) > keep:
        mapping.pop(next(iter(mapping)))


def spawn_requested(agents: dict, tuid: str, spawn: dict, ts: str) -> None:
    section(agents)
    agents["pending"][tuid] = {**spawn, "requested_at": ts, "agent": None}
    _bound(agents["pending"], PENDING_KEEP)


def subagent_started(agents: dict, agent_id: str, agent_type: str | None, ts: str) -> None:
    section(agents)
    entry = agents["active"].get(agent_id)
    if entry is None:
        entry = {"agent_type": agent_type, "status": "running", "spawned_at": ts, "parent": None,
                 "name": None, "description": None, "spawn": None, "background": None}
        agents["active"][agent_id] = entry
        for tuid, spawn in agents["pending"].items():  # oldest first
            if not spawn.get("agent") and (spawn.get("type") or DEFAULT_TYPE) == (agent_type or DEFAULT_TYPE):
                _link(agents, tuid, agent_id)
                break
    entry["status"] = "running"
    entry["started_at"] = ts
    agents.pop("spawn_failures", None)  # a subagent started: the failure streak is over


def _link(agents: dict, tuid: str, agent_id: str) -> None:
    for other in agents["pending"].values():
        if other.get("agent") == agent_id:
            other["agent"] = None
    spawn = agents["pending"][tuid]
    spawn["agent"] = agent_id
    entry = agents["active"].get(agent_id) or agents["pool"].get(agent_id)
    if entry is not None:
        for key in ("name", "description", "parent", "background"):
            entry[key] = spawn.get(key)
        entry["spawn"] = tuid


def subagent_stopped(agents: dict, agent_id: str, agent_type: str | None, ts: str) -> None:
    section(agents)
    entry = agents["active"].pop(agent_id, None)
    if entry is None:
        entry = agents["pool"].get(agent_id) or {"agent_type": agent_type, "spawned_at": None}
    if entry.get("status") != "failed":
        entry.update(status="completed", stopped_at=ts)
    agents["pool"][agent_id] = entry
    _bound(agents["pool"], POOL_KEEP)


def spawn_finished(agents: dict, tuid: str, agent_id: str | None, status: str | None, ts: str) -> None:
    """PostToolUse(Agent): the call returned; `status` is "completed" or "async_launched"."""
    section(agents)
    if agent_id:
        if agent_id not in agents["active"] and agent_id not in agents["pool"]:
            # background launch reported before its SubagentStart
            spawn = agents["pending"].get(tuid) or {}
            agents["active"][agent_id] = {"agent_type": spawn.get("type") or DEFAULT_TYPE, "status": "running",
                                          "spawned_at": ts}
        if tuid in agents["pending"]:
            _link(agents, tuid, agent_id)
        if status == "completed" and agent_id in agents["active"]:
            subagent_stopped(agents, agent_id, None, ts)  # finished without a SubagentStop
    agents["pending"].pop(tuid, None)


def spawn_failed(agents: dict, tuid: str, error: str, ts: str) -> str | None:
    """PostToolUseFailure(Agent). Returns the agent that crashed, or None when the
    subagent never started (a spawn failure, counted for back-off)."""
    section(agents)
    agent_id = linked_agent(agents, tuid)
    agents["pending"].pop(tuid, None)
    if agent_id and (agent_id in agents["active"] or agent_id in agents["pool"]):
        mark_failed(agents, agent_id, error, ts)
        return agent_id
    failures = agents.get("spawn_failures") or {}
    agents["spawn_failures"] = {"count": failures.get("count", 0) + 1, "last_at": ts, "last_error": error[:300]}
    return None


def mark_failed(agents: dict, agent_id: str, reason: str, ts: str) -> None:
    section(agents)
    entry = agents["active"].pop(agent_id, None) or agents["pool"].get(agent_id) or {"spawned_at": None}
    entry.update(status="failed", failed_at=ts, failure=reason[:300])
    agents["pool"].pop(agent_id, None)
    agents["pool"][agent_id] = entry
    _bound(agents["pool"], POOL_KEEP)
