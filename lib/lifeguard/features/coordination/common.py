"""Constants and small helpers shared by the coordination feature's parts (annotate, gates,
reports, reduce)."""

from __future__ import annotations

from . import agents as ag
from ...store.state import peek

NAME = "coord"  # the record's key for this feature's annotation, and for its decisions
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




def _short(text: object, limit: int = 200) -> str:
    text = str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ids(values: object) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


def _deny(code: str, text: str) -> dict:
    return {"code": code, "kind": "deny", "model": f"lifeguard {code}: {text}"}


def _context(code: str, text: str, user: str | None = None) -> dict:
    notice = {"code": code, "kind": "context", "model": f"lifeguard {code}: {text}"}
    if user:
        notice["user"] = f"lifeguard: {user}"
    return notice


def _owned(tasks: dict, names: set[str]) -> list[str]:
    from . import taskgraph as tg  # here: only a lost or failed agent needs it

    return [t for t in tg.unfinished(tasks) if tasks[t].get("owner") in names]


def _queue_section(state: dict) -> dict:
    """The queue of lifeguard's own notices (and its dead letters and retries)."""
    return peek(state, "communication", "message_queues")


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


def _letter(record: dict, msg: dict, reason: str) -> dict:
    coord = record.get(NAME) or {}
    return {"to": msg.get("to"), "from": coord.get("by", MAIN), "summary": msg.get("summary"),
            "reason": reason, "at": record.get("ts")}
