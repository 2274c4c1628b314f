"""Directed graphs of string nodes as edge lists: successors, a shortest path, strongly
connected groups and one cycle per group. Pure and iterative (no recursion limit), stdlib only:
the task graph (features/coordination/taskgraph.py) and the dependency check
(upkeep/checks.py) both use it."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Iterable

Edge = tuple[str, str]


def successors(edges: Iterable[Edge]) -> dict[str, list[str]]:
    succ: dict[str, list[str]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    return succ


def path(succ: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """A shortest path start -> ... -> goal (breadth first), or None."""
    if start == goal:
        return [start]
    parent: dict[str, str] = {start: start}
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for child in succ.get(node, ()):
                if child in parent:
                    continue
                parent[child] = node
                if child == goal:
                    out = [goal]
                    while out[-1] != start:
                        out.append(parent[out[-1]])
                    return out[::-1]
                nxt.append(child)
        frontier = nxt
    return None


def strongly_connected(nodes: Iterable[str], edges: Iterable[Edge]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on long chains)."""
    succ = successors(edges)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    comp.append(item)
                    if item == node:
                        break
                out.append(comp)
    return out


def find_cycles(nodes: Iterable[str], edges: Iterable[Edge]) -> list[list[str]]:
    """One cycle per group of tasks that wait on each other (as `[a, b, ..., a]`)."""
    edges = list(edges)
    succ = successors(edges)
    cycles = []
    all_nodes = list(dict.fromkeys([*nodes, *(n for e in edges for n in e)]))
    for comp in strongly_connected(all_nodes, edges):
        members = set(comp)
        if len(comp) == 1 and comp[0] not in succ.get(comp[0], ()):
            continue
        start = min(comp, key=natural_key)
        inner = {a: [b for b in bs if b in members] for a, bs in succ.items() if a in members}
        # shortest way back to the start through the group
        best = None
        for child in inner.get(start, ()):
            found = path(inner, child, start)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        if best is not None:
            cycles.append([start] + best)
    return sorted(cycles, key=lambda c: natural_key(c[0]))


def natural_key(task_id: str) -> tuple[int, int | str]:
    return (0, int(task_id)) if task_id.isdigit() else (1, task_id)
