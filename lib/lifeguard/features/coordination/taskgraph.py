"""The task dependency graph: cycles, deadlocks and orphans (pure functions, stdlib only).

An edge `(a, b)` means "task a blocks task b": b cannot proceed until a is finished. That is
how Claude Code's TaskUpdate reads: `{"taskId": a, "addBlocks": [b]}` and
`{"taskId": b, "addBlockedBy": [a]}` both add the edge a -> b.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Iterable

from ...core.graph import Edge, find_cycles, natural_key, path, strongly_connected, successors

FINISHED = frozenset({"completed", "deleted", "cancelled"})
PRIORITY_SCORE = {"critical": 4, "high": 3, "medium": 2, "low": 1}
DEFAULT_PRIORITY = "medium"


def priority_score(priority: object) -> int:
    return PRIORITY_SCORE.get(priority if isinstance(priority, str) else "", PRIORITY_SCORE[DEFAULT_PRIORITY])


def label(task_id: str) -> str:
    return f"#{task_id}"


def format_cycle(cycle: list[str]) -> str:
    """`['1', '2', '1']` -> `#1 -> #2 -> #1`."""
    return " -> ".join(label(t) for t in cycle)


def format_link(edge: Edge) -> str:
    return f"{label(edge[0])} blocks {label(edge[1])}"


def edges_from_update(task_id: str, add_blocks: Iterable[str] = (), add_blocked_by: Iterable[str] = ()) -> list[Edge]:
    """The edges one TaskUpdate adds, in the order Claude Code applies them."""
    edges = [(task_id, str(other)) for other in add_blocks]
    edges += [(str(other), task_id) for other in add_blocked_by]
    return edges


def cycle_closed_by(existing: Iterable[Edge], new: list[Edge]) -> tuple[Edge, list[str]] | None:
    """The first of `new` edges that closes a cycle (given `existing` and the new edges
    before it), with the cycle as a list of ids that starts and ends at the same task."""
    edges = list(existing)
    for edge in new:
        a, b = edge
        found = path(successors(edges), b, a)
        if found is not None:
            return edge, [a] + found
        edges.append(edge)
    return None


def cycle_links(cycle: list[str]) -> list[Edge]:
    return list(zip(cycle, cycle[1:]))


def weakest_link(cycle: list[str], priorities: dict[str, object], order: dict[Edge, int]) -> Edge:
    """The link of `cycle` to drop: the one joining the lowest-priority tasks; among equals,
    the most recently added (`order` gives each edge's age; missing = newest)."""
    links = cycle_links(cycle)
    newest = max(order.values(), default=0) + 1

    def weakness(edge: Edge) -> tuple[int, int]:
        strength = priority_score(priorities.get(edge[0])) + priority_score(priorities.get(edge[1]))
        return (strength, -order.get(edge, newest))

    return min(links, key=weakness)


def unfinished(tasks: dict[str, dict]) -> list[str]:
    return sorted((t for t, v in tasks.items() if v.get("status") not in FINISHED), key=natural_key)


def waiting_on(task_id: str, tasks: dict[str, dict], edges: Iterable[Edge]) -> list[str]:
    """The unfinished tasks `task_id` still waits for (blockers that are not done)."""
    return sorted({a for a, b in edges if b == task_id and a in tasks and tasks[a].get("status") not in FINISHED},
                  key=natural_key)


def find_deadlock(tasks: dict[str, dict], edges: list[Edge], order: dict[Edge, int] | None = None) -> dict | None:
    """When no unfinished task can proceed: the stuck tasks, the cycles among them, and the
    dependency to relax. None when some unfinished task can go ahead (or none is left).

    The relaxed link follows the spec: let the highest-priority task of the cycle proceed
    by dropping its dependency on its lowest-priority blocker; among equals, the most
    recently added link. `also` lists that task's other blockers, if it has several.
    """
    open_tasks = unfinished(tasks)
    if not open_tasks:
        return None
    live = [(a, b) for a, b in edges if a in open_tasks and b in open_tasks]
    if any(not waiting_on(t, tasks, live) for t in open_tasks):
        return None
    cycles = find_cycles(open_tasks, live)
    order = order or {}
    newest = max(order.values(), default=0) + 1
    waits = {t: waiting_on(t, tasks, live) for t in open_tasks}
    relax, also = None, []
    if cycles:
        group = next(c for c in strongly_connected(open_tasks, live) if cycles[0][0] in c)
        prio = {t: tasks.get(t, {}).get("priority") for t in open_tasks}
        head = min(group, key=lambda t: (-priority_score(prio[t]), natural_key(t)))
        blockers = sorted(waits[head], key=lambda a: (priority_score(prio.get(a)), -order.get((a, head), newest)))
        relax = (blockers[0], head)
        also = [(a, head) for a in blockers[1:]]  # links that must go too before `head` is free
    return {"stuck": open_tasks, "cycles": cycles, "relax": relax, "also": also, "waits": waits}


def orphans(tasks: dict[str, dict], gone: Iterable[str]) -> list[str]:
    """Unfinished tasks whose owner (by name or id) is an agent that is gone."""
    gone = set(gone)
    return [t for t in unfinished(tasks) if tasks[t].get("owner") in gone]
