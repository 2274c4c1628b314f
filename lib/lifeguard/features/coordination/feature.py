"""Agent and task coordination: subagents, the task dependency graph, message delivery.
The feature: `check` dispatches to gates and reports; annotate and apply live beside it.
Most calls (Bash, Edit, Read ...) are none of coordination's business: they import only this,
annotate, reduce, common and agents; gates, reports, the task graph, task validation and the
notice queue are imported when a call or the state needs them (a hook pays ~0.15 ms for each
module it imports; the helper's workers have them all loaded already: helper.WARM_MODULES).

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
  are returned beside its notices; the pipeline writes them into the record
  (`record["decisions"]["coord"]`) so the reducer replays them exactly.
- `apply` folds the record into `execution.agents`, `execution.tasks`,
  `communication.coordination` and `communication.message_queues` (all bounded).
- `after_commit` archives queue overflow under state/archive/.
"""

from __future__ import annotations

import json
import os
import time

from . import agents as ag
from ...alerts import codes
from ...config.load import section
from ...core import clock
from ...store.record import decisions
from ...store.state import peek
from .annotate import annotate  # noqa: F401 - part of the feature (registry)
from .common import DELIVER_AT_ONCE, MAIN_CONTEXT_EVENTS, MESSAGE_TOOLS, NAME, _context, _queue_section
from .reduce import apply  # noqa: F401 - part of the feature (registry)


def check(state: dict, record: dict, cfg: dict) -> tuple[list[dict], dict]:
    """(notices, decisions): `decided` collects what `apply` must fold besides the annotation."""
    conf = section(cfg, "coordination")
    if not conf.get("enabled", True):
        return [], {}
    event, tool = record.get("event"), record.get("tool")
    coord = record.get(NAME) or {}
    now = clock.parse_ts(record.get("ts")) or time.time()
    agents = peek(state, "execution", "agents")
    from_main = not record.get("agent")
    notices: list[dict] = []
    decided: dict = {}
    if event == "PreToolUse" and coord:
        from .gates import _before_call

        notices += _before_call(state, agents, record, coord, decided, conf, now)
    elif event == "PostToolUse" and coord:
        from .reports import _after_call

        notices += _after_call(state, agents, record, coord, decided, conf)
    elif event == "PostToolUseFailure" and tool in ag.AGENT_TOOLS and coord:
        from .reports import _agent_call_failed

        notices += _agent_call_failed(state, agents, record, coord, decided, conf)
    elif event == "PostToolUseFailure" and tool in MESSAGE_TOOLS and coord:
        from .reports import _delivery_failed

        notices += _delivery_failed(state, record, coord, decided, conf, now)
    elif event == "Stop" and from_main and "background" in coord:
        from .reports import _lost_agents

        _lost_agents(state, agents, record, coord, decided, conf, now)
    if from_main and event in MAIN_CONTEXT_EVENTS:
        notices += _timeouts(agents, decided, conf, now)
        notices += _deliver_queue(state, decided)
    return notices, decided


def _timeouts(agents: dict, decided: dict, conf: dict, now: float) -> list[dict]:
    """Subagents running past the time limit, each told once (on an event the main agent sees)."""
    late = ag.timed_out(agents, now, conf["agent_timeout_seconds"])
    if not late:
        return []
    decided["timeouts_reported"] = late
    notices = []
    for agent_id in late[:5]:
        entry = agents["active"][agent_id]
        minutes = (now - (clock.parse_ts(entry.get("spawned_at")) or now)) / 60
        notices.append(_context(
            codes.AGENT_TIMEOUT,
            f"subagent {ag.describe(agent_id, entry)} has been running for {minutes:.0f} min (limit "
            f"{conf['agent_timeout_seconds'] / 60:.0f} min). Check on it (SendMessage to {entry.get('name') or agent_id} "
            "asking for its status), stop it with TaskStop if it is stuck, and reassign its tasks if you stop it.",
            f"subagent {entry.get('name') or agent_id} is running past the time limit"))
    return notices


def _deliver_queue(state: dict, decided: dict) -> list[dict]:
    """The queued notices (crashes reported at Stop, ...), most urgent first, to the main agent."""
    queue = _queue_section(state).get("lifeguard")
    if not isinstance(queue, list) or not queue:
        return []
    from . import queue as nq

    out = nq.by_priority(queue)[:DELIVER_AT_ONCE]
    decided["delivered"] = [m.get("id") for m in out]
    return [_context(m.get("code") or codes.INTERNAL_ERROR, m.get("text") or "") for m in out]


# == after_commit ================================================================================


def after_commit(txn, record: dict, cfg: dict, layout) -> list[dict]:
    archived = decisions(record, NAME).get("archived")
    if not archived:
        return []
    from ...core import fsutil
    from ...core.paths import safe_name

    fsutil.ensure_private_dir(layout.archive)
    path = os.path.join(layout.archive, f"notices-{safe_name(txn.store.session_id)}.jsonl")
    lines = "".join(json.dumps({"reason": "queue_overflow", **m}, ensure_ascii=True) + "\n" for m in archived)
    fsutil.append_durable(path, lines.encode())
    return []
