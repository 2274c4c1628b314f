"""Agent and task coordination: subagents, the task dependency graph, message delivery.
The feature: `check` dispatches to gates and reports; annotate and apply live beside it.

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
  are written into `record["coord"]` so the reducer replays them exactly.
- `apply` folds the record into `execution.agents`, `execution.tasks`,
  `communication.coordination` and `communication.message_queues` (all bounded).
- `after_commit` archives queue overflow under state/archive/.
"""

from __future__ import annotations

import json
import time

from . import agents as ag
from ...config.load import section
from ...core import clock
from ...store.state import peek
from .annotate import annotate  # noqa: F401 - part of the feature (registry)
from .common import MAIN_CONTEXT_EVENTS, MESSAGE_TOOLS
from .gates import _before_call
from .reduce import apply  # noqa: F401 - part of the feature (registry)
from .reports import _after_call, _agent_call_failed, _deliver_queue, _delivery_failed, _lost_agents, _timeouts


def check(state: dict, record: dict, cfg: dict) -> list[dict]:
    conf = section(cfg, "coordination")
    if not conf.get("enabled", True):
        return []
    event, tool = record.get("event"), record.get("tool")
    coord = record.get("coord") or {}
    now = clock.parse_ts(record.get("ts")) or time.time()
    agents = peek(state, "execution", "agents")
    from_main = not record.get("agent")
    notices: list[dict] = []
    if event == "PreToolUse" and coord:
        notices += _before_call(state, agents, record, coord, conf, now)
    elif event == "PostToolUse" and coord:
        notices += _after_call(state, agents, record, coord, conf)
    elif event == "PostToolUseFailure" and tool in ag.AGENT_TOOLS and coord:
        notices += _agent_call_failed(state, agents, record, coord, conf)
    elif event == "PostToolUseFailure" and tool in MESSAGE_TOOLS and coord:
        notices += _delivery_failed(state, record, coord, conf, now)
    elif event == "Stop" and from_main and "background" in coord:
        _lost_agents(state, agents, record, coord, conf, now)
    if from_main and event in MAIN_CONTEXT_EVENTS:
        notices += _timeouts(agents, record, conf, now)
        notices += _deliver_queue(state, record)
    return notices


# == after_commit ================================================================================


def after_commit(txn, record: dict, cfg: dict, layout) -> list[dict]:
    archived = (record.get("coord") or {}).get("archived")
    if not archived:
        return []
    from ...core import fsutil
    from ...core.paths import safe_name

    fsutil.ensure_private_dir(layout.archive_dir)
    path = layout.archive_dir / f"notices-{safe_name(txn.store.session_id)}.jsonl"
    lines = "".join(json.dumps({"reason": "queue_overflow", **m}, ensure_ascii=True) + "\n" for m in archived)
    fsutil.append_durable(path, lines.encode())
    return []
