"""The spec's eight health checks, each a small named function with a pass / warn / fail result.

    run_checks(layout, session_id, reducers, full=True, state=None, cfg=None) -> list[CheckResult]

`reducers` replays the log for the full persistence check (`features.registry.FEATURES`).

`full=False` is the incremental mode for hot hooks: no check reads more than the log's
tail or a directory listing, and session validity uses the structural check instead of
the pydantic schema. `full=True` (SessionStart, tools) replays the whole log and validates
with the schema. A check that raises is itself reported as a failed check.

Stdlib only at import.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from ..store import eventlog
from ..store import state as state_mod
from ..store.state import peek
from ..config import load as config_load
from ..core.graph import find_cycles
from ..core.clock import parse_ts
from ..core.paths import Layout

PASS, WARN, FAIL = "pass", "warn", "fail"



@dataclass
class CheckResult:
    name: str
    status: str  # "pass" | "warn" | "fail"
    message: str
    details: dict = field(default_factory=dict)
    duration_ms: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Ctx:
    layout: Layout
    session_id: str
    state: dict | None
    limits: dict
    full: bool
    reducers: tuple  # what replays the log (features.registry.FEATURES)
    now: float = field(default_factory=time.time)

    def section(self, *keys: str):
        node = self.state
        for key in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node


Outcome = tuple[str, str, dict]


# -- 1. state consistency -------------------------------------------------------------------


def _edge_ends(edge) -> tuple[object, object] | None:
    if isinstance(edge, dict):
        return edge.get("from"), edge.get("to")
    if isinstance(edge, (list, tuple)) and len(edge) == 2:
        return edge[0], edge[1]
    return None


def consistency_issues(state: dict) -> list[str]:
    """Tasks on agents that exist, agents on tasks that exist, edges between existing nodes."""
    issues = []
    execution = peek(state.get("execution"))
    tasks = peek(execution.get("tasks"))
    agents = peek(execution.get("agents"))
    known_agents = set(peek(agents.get("active"))) | set(peek(agents.get("pool")))
    for task_id, task in tasks.items():
        assignee = peek(task).get("assignee")
        if assignee and assignee not in known_agents:
            issues.append(f"task {task_id} is assigned to agent {assignee}, which does not exist")
    for agent_id, agent in peek(agents.get("active")).items():
        current = peek(agent).get("current_task")
        if current and current not in tasks:
            issues.append(f"agent {agent_id} works on task {current}, which does not exist")
    graph = peek(peek(peek(peek(state.get("communication")).get("coordination")).get("dependencies")).get("graph"))
    nodes = peek(graph.get("nodes"))
    for edge in graph.get("edges") or ():
        ends = _edge_ends(edge)
        if ends is None or ends[0] not in nodes or ends[1] not in nodes:
            issues.append(f"dependency edge {edge!r} points at a node that does not exist")
    return issues


def check_state_consistency(ctx: Ctx) -> Outcome:
    if ctx.state is None:
        return PASS, "no state yet", {}
    issues = consistency_issues(ctx.state)
    if issues:
        return WARN, f"{len(issues)} consistency issue(s): " + "; ".join(issues[:3]), {"issues": issues[:50]}
    return PASS, "tasks, agents and dependencies agree", {}


# -- 2. session validity ----------------------------------------------------------------------


def check_session_validity(ctx: Ctx) -> Outcome:
    if ctx.state is None:
        return PASS, "no state yet", {}
    from .repair import validator  # repair is stdlib-only; deep validation imports pydantic lazily

    problems = validator(ctx.full)(ctx.state)
    if problems:
        return FAIL, "the state fails validation: " + "; ".join(problems[:3]), {"problems": problems[:50]}
    return PASS, "the state validates" + (" against the schema" if ctx.full else " (structure)"), {}


# -- 3. agent responsiveness ----------------------------------------------------------------


def silent_agents(state: dict, now: float, limit_s: float) -> list[str]:
    active = peek(peek(peek(state.get("execution")).get("agents")).get("active"))
    out = []
    for agent_id, agent in active.items():
        started = parse_ts(peek(agent).get("spawned_at"))
        if started is not None and now - started > limit_s:
            out.append(agent_id)
    return out


def check_agent_responsiveness(ctx: Ctx) -> Outcome:
    if ctx.state is None:
        return PASS, "no agents", {}
    limit = float(ctx.limits["agent_silent_minutes"]) * 60
    silent = silent_agents(ctx.state, ctx.now, limit)
    if silent:
        return WARN, (f"{len(silent)} subagent(s) started over {limit / 60:g} min ago and never stopped: "
                      + ", ".join(silent[:5])), {"agents": silent}
    return PASS, "no subagent overdue", {}


# -- 4. resource availability ------------------------------------------------------------


def check_resource_availability(ctx: Ctx) -> Outcome:
    details: dict = {}
    status, notes = PASS, []
    try:
        free = shutil.disk_usage(ctx.layout.state_dir if ctx.layout.state_dir.exists() else ctx.layout.claude_dir).free
        details["free_disk_bytes"] = free
        if free < ctx.limits["min_free_disk_bytes"]:
            status = FAIL
            notes.append(f"only {free // (1024 * 1024)} MiB free on disk")
    except OSError as exc:
        notes.append(f"free disk unknown ({exc.strerror})")
    try:
        size = os.stat(ctx.layout.session_file(ctx.session_id)).st_size
        details["state_bytes"] = size
        if size > ctx.limits["state_size_bytes"]:
            status = FAIL if status == FAIL else WARN
            notes.append(f"state is {size} bytes (limit {ctx.limits['state_size_bytes']})")
    except OSError:
        pass
    events = state_mod.sequence(ctx.state) if ctx.state is not None else 0
    details["events"] = events
    total = peek(peek(peek(ctx.state).get("persistence")).get("event_log")).get("total_events", 0)
    if isinstance(total, int) and total > ctx.limits["event_count"]:
        status = FAIL if status == FAIL else WARN
        notes.append(f"{total} events in the log (limit {ctx.limits['event_count']})")
    return status, "; ".join(notes) or "disk, state size and event count within limits", details


# -- 5. persistence integrity -----------------------------------------------------------------


def check_persistence_integrity(ctx: Ctx) -> Outcome:
    log_path = ctx.layout.event_log(ctx.session_id)
    tail = eventlog.read_tail(log_path)
    seen = state_mod.sequence(ctx.state) if ctx.state is not None else 0
    details = {"state_seq": seen, "log_last_seq": tail.last_seq, "torn_bytes": tail.size - tail.good_end}
    if not ctx.full:
        if tail.good_end < tail.size:
            return WARN, f"{tail.size - tail.good_end} torn bytes at the end of the log", details
        if ctx.state is not None and seen > tail.last_seq and tail.size:
            return FAIL, f"the state reflects event {seen} but the log ends at {tail.last_seq}", details
        return PASS, "log tail intact", details
    from .repair import LogView  # stdlib, reads the whole log

    log = LogView(ctx.layout, ctx.session_id, ctx.reducers)
    problems = log.problems()
    if tail.good_end < tail.size:
        problems.append(f"{tail.size - tail.good_end} torn bytes at the end of the log")
    details.update(snapshot_seq=log.base, gaps=log.gaps[:20], damaged_lines=log.report.damaged_lines[:20])
    if ctx.state is not None:
        if log.replay is None:
            if seen > 0:
                problems.append(f"the state reflects event {seen} but there is no log to replay")
        elif seen == log.last_seq and ctx.state != log.replay:
            problems.append("the state differs from a replay of the event log")
        elif seen > log.last_seq:
            problems.append(f"the state reflects event {seen} but the log ends at {log.last_seq}")
        elif seen < log.last_seq:
            details["behind_by"] = log.last_seq - seen  # normal after a crash: the next hook catches up
    if problems:
        return FAIL, "; ".join(problems), details
    return PASS, "the state equals a replay of the event log", details


# -- 6. communication flow ------------------------------------------------------------------


def spool_backlog(layout: Layout, session_id: str, now: float, older_than_s: float = 60.0) -> int:
    """Spooled records still waiting after `older_than_s` (the dead letters of this design)."""
    folder = layout.session_spool(session_id)
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except (FileNotFoundError, NotADirectoryError):
        return 0
    stale = 0
    for name in names:
        try:
            if now - os.stat(folder / name).st_mtime > older_than_s:
                stale += 1
        except OSError:
            pass
    return stale


def check_communication_flow(ctx: Ctx) -> Outcome:
    queues = peek(peek(peek(ctx.state).get("communication")).get("message_queues"))
    pending = sum(len(q) if isinstance(q, (list, dict)) else 0 for q in queues.values())
    dead = queues.get("dead_letter") or queues.get("dead_letters") or []
    dead_count = len(dead) if isinstance(dead, (list, dict)) else 0
    stale_spool = spool_backlog(ctx.layout, ctx.session_id, ctx.now)
    details = {"pending": pending, "dead_letters": dead_count, "stale_spool": stale_spool}
    notes = []
    if dead_count:
        notes.append(f"{dead_count} dead letter(s)")
    if stale_spool:
        notes.append(f"{stale_spool} spooled event(s) not yet in the log after a minute")
    if pending > ctx.limits["pending_messages"]:
        notes.append(f"{pending} pending messages (limit {ctx.limits['pending_messages']})")
    if notes:
        return WARN, "; ".join(notes), details
    return PASS, f"{pending} pending message(s), no dead letters", details


# -- 7. dependency resolution -----------------------------------------------------------------


def dependency_graph(state: dict) -> dict[str, set[str]]:
    """node -> the nodes it waits on, from the graph's edges and tasks' `depends_on`/`blocked_by`."""
    graph: dict[str, set[str]] = {}
    deps = peek(peek(peek(state.get("communication")).get("coordination")).get("dependencies"))
    for edge in peek(deps.get("graph")).get("edges") or ():
        ends = _edge_ends(edge)
        if ends and all(isinstance(e, str) for e in ends):
            graph.setdefault(ends[0], set()).add(ends[1])
    for task_id, task in peek(peek(state.get("execution")).get("tasks")).items():
        for key in ("depends_on", "blocked_by"):
            for other in peek(task).get(key) or ():
                if isinstance(other, str):
                    graph.setdefault(task_id, set()).add(other)
    return graph


def find_cycle(deps: dict[str, set[str]]) -> list[str] | None:
    """One cycle in `deps` (task -> what it waits on) as a path [a, b, ..., a], or None."""
    cycles = find_cycles(deps, [(a, b) for a, bs in deps.items() for b in sorted(bs)])
    return cycles[0] if cycles else None


def check_dependency_resolution(ctx: Ctx) -> Outcome:
    if ctx.state is None:
        return PASS, "no dependencies", {}
    graph = dependency_graph(ctx.state)
    cycle = find_cycle(graph)
    if cycle:
        tasks = peek(peek(ctx.state.get("execution")).get("tasks"))
        blocked = all(peek(tasks.get(n)).get("status") == "blocked" for n in cycle[:-1] if n in tasks)
        kind = "deadlock: tasks wait on each other" if blocked and any(n in tasks for n in cycle) else "circular dependency"
        return FAIL, f"{kind}: " + " -> ".join(cycle), {"cycle": cycle}
    return PASS, f"{sum(len(v) for v in graph.values())} dependency edge(s), no cycle", {}


# -- 8. event processing --------------------------------------------------------------------


def check_event_processing(ctx: Ctx) -> Outcome:
    log_path = ctx.layout.event_log(ctx.session_id)
    try:
        tail = eventlog.read_tail(log_path)
    except OSError as exc:
        return FAIL, f"the event log cannot be read ({exc.strerror})", {}
    seen = state_mod.sequence(ctx.state) if ctx.state is not None else 0
    details = {"log_last_seq": tail.last_seq, "state_seq": seen, "log_bytes": tail.size}
    if tail.size and tail.last_seq == 0 and tail.good_end == 0:
        return FAIL, "the event log holds no readable event", details
    if tail.last_seq > seen and ctx.state is not None:
        return WARN, f"the state is {tail.last_seq - seen} event(s) behind the log (caught up on the next hook)", details
    return PASS, "the event log is readable and current", details


# -- running them ---------------------------------------------------------------------------

CHECKS: list[tuple[str, Callable[[Ctx], Outcome]]] = [
    ("state_consistency", check_state_consistency),
    ("session_validity", check_session_validity),
    ("agent_responsiveness", check_agent_responsiveness),
    ("resource_availability", check_resource_availability),
    ("persistence_integrity", check_persistence_integrity),
    ("communication_flow", check_communication_flow),
    ("dependency_resolution", check_dependency_resolution),
    ("event_processing", check_event_processing),
]


def run_one(name: str, fn: Callable[[Ctx], Outcome], ctx: Ctx) -> CheckResult:
    started = time.perf_counter()
    try:
        status, message, details = fn(ctx)
    except Exception as exc:  # noqa: BLE001 - a broken check is a failed check, not a crash
        status, message, details = FAIL, f"the check itself failed: {type(exc).__name__}: {exc}", {}
    return CheckResult(name, status, message, details, round((time.perf_counter() - started) * 1000, 3))


def run_checks(layout: Layout, session_id: str, reducers, full: bool = True, state: dict | None = None,
               cfg: dict | None = None, names: list[str] | None = None) -> list[CheckResult]:
    """Run the checks (all, or those in `names`) for one session. `state` defaults to the file's."""
    if state is None:
        try:
            state = state_mod.load(layout.session_file(session_id))
        except state_mod.StateUnreadable as exc:
            return [CheckResult("session_validity", FAIL, str(exc))]
    ctx = Ctx(layout, session_id, state, config_load.section(cfg, "limits"), full, tuple(reducers))
    return [run_one(name, fn, ctx) for name, fn in CHECKS if names is None or name in names]


def overall(results: list[CheckResult]) -> str:
    statuses = {r.status for r in results}
    return "unhealthy" if FAIL in statuses else "degraded" if WARN in statuses else "healthy"


def summary(results: list[CheckResult]) -> dict:
    """What goes into the log / the state: per check, status, message and timing."""
    return {r.name: {"status": r.status, "message": r.message[:300], "ms": r.duration_ms} for r in results}
