"""Core bookkeeping: lifecycle, counters, recent events, incidents, checkpoint."""

from __future__ import annotations

from ..store.state import section

RECENT_KEEP = 20
INCIDENTS_KEEP = 100
SPOOL_KEEP = 64


def _ring(node: dict, key: str, item, keep: int) -> None:
    items = node.get(key)
    if not isinstance(items, list):
        items = []
    items.append(item)
    node[key] = items[-keep:]


def apply(state: dict, record: dict) -> None:
    ts, event, seq = record.get("ts"), record.get("event", "?"), record["seq"]
    lifecycle = section(state, "session", "lifecycle")
    lifecycle["last_activity"] = ts
    if event == "SessionStart":
        lifecycle["status"] = "active"
        lifecycle["source"] = record.get("source")
        lifecycle["ended_at"] = None
        if record.get("cwd"):
            section(state, "session", "user_context")["workspace_path"] = record["cwd"]
    elif event == "SessionEnd":
        lifecycle["status"] = "ended"
        lifecycle["ended_at"] = ts
        lifecycle["end_reason"] = record.get("reason")

    by_type = section(state, "observability", "metrics", "utilization", "events_by_type")
    by_type[event] = by_type.get(event, 0) + 1

    tool = record.get("tool")
    if tool and event in ("PostToolUse", "PostToolUseFailure"):
        tools = section(state, "execution", "tools")
        per = section(tools, "by_name", tool)
        tools["calls"] = tools.get("calls", 0) + 1
        per["calls"] = per.get("calls", 0) + 1
        if event == "PostToolUseFailure":
            tools["failures"] = tools.get("failures", 0) + 1
            per["failures"] = per.get("failures", 0) + 1

    # Subagents (SubagentStart / SubagentStop) are tracked by features/coordination/.

    recent = {"seq": seq, "ts": ts, "event": event}
    if tool:
        recent["tool"] = tool
    _ring(section(state, "observability", "events"), "recent", recent, RECENT_KEEP)

    observability = section(state, "observability")
    for notice in record.get("notices") or ():
        _ring(observability, "incidents", {"seq": seq, "ts": ts, **notice}, INCIDENTS_KEEP)
    if record.get("fault"):
        _ring(observability, "incidents", {"seq": seq, "ts": ts, "kind": "fault", **record["fault"]}, INCIDENTS_KEEP)

    persistence = section(state, "persistence")
    checkpoint = section(persistence, "checkpoint")
    checkpoint["sequence"] = seq
    checkpoint["last_saved"] = ts
    log = section(persistence, "event_log")
    log["total_events"] = log.get("total_events", 0) + 1
    if record.get("spool"):
        _ring(persistence, "spool_done", record["spool"], SPOOL_KEEP)
