"""Features: each is a module with up to three functions, all optional.

- `annotate(inp, record, cfg)`: add derived fields to the event record before it is written
  (pure on the hook input; whatever a reducer or a later check needs must be put here).
- `check(state, record, cfg) -> list[dict]`: read-only decisions before the record is written;
  each notice is `{"code", "kind", "model", "user"}` with kind one of
  "deny" (PreToolUse refusal), "context" (additionalContext), "block" (Stop/SubagentStop),
  "user" (systemMessage only), "halt" (continue: false).
- `apply(state, record)`: the reducer: deterministic, from the record alone, so that the
  state always equals a replay of the log.

Features are imported eagerly: keep their module-level imports to the stdlib.
"""

from __future__ import annotations

from . import alerts, coordination, core, guarded_hooks, health, loops

FEATURES: list = [core, loops, coordination]


def register(module) -> None:
    if module not in FEATURES:
        FEATURES.append(module)


register(alerts)  # escalates the notices the others produced (after_commit)
register(guarded_hooks)  # breaker and loop window per guarded hook (hooks/guard.py)
register(health)  # state checks, repair, cleanup, checkpoints and backups per lifecycle point
