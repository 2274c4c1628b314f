"""The contract every feature follows (a `Protocol`; features are plain modules, every function optional).

- `annotate(inp, record, cfg)`: add derived fields to the event record before it is written
  (pure on the hook input; whatever a reducer or a later check needs must be put here).
- `check(state, record, cfg) -> list[dict]`: decisions before the record is written;
  each notice is `{"code", "kind", "model", "user"}` with kind one of
  "deny" (PreToolUse refusal), "context" (additionalContext), "block" (Stop/SubagentStop),
  "user" (systemMessage only), "halt" (continue: false).
- `apply(state, record)`: the reducer: deterministic, from the record alone, so that the
  state always equals a replay of the log.
- `after_commit(txn, record, cfg, layout) -> list[dict]`: side effects after the commit
  (backups, repair, escalation), under the session lock.

Only for type checkers and readers: nothing imports this at run time (typing is too costly
for a hot hook).
"""

from __future__ import annotations

from typing import Any, Protocol


class Feature(Protocol):
    def annotate(self, inp: dict, record: dict, cfg: Any) -> None: ...

    def check(self, state: dict, record: dict, cfg: Any) -> list[dict]: ...

    def apply(self, state: dict, record: dict) -> None: ...

    def after_commit(self, txn: Any, record: dict, cfg: Any, layout: Any) -> list[dict]: ...
