"""The contract every feature follows (a `Protocol`; features are plain modules, every function optional).

- `annotate(inp, record, cfg)`: add derived fields to the event record before it is written
  (pure on the hook input; whatever a reducer or a later check needs must be put here), under
  the feature's own key, `record[NAME]` (and the record's time, `ts`, when it needs one). An
  input only the checks need and the log should not keep (the transcript's path) goes under
  `record["scratch"]`, which the pipeline removes once the checks have run.
- `check(state, record, cfg) -> (notices, decisions)`: decide, before the record is written,
  from the state and a read-only view of the record. Each notice is
  `{"code", "kind", "model", "user"}` with kind one of "deny" (PreToolUse refusal), "context"
  (additionalContext), "block" (Stop/SubagentStop), "user" (systemMessage only), "halt"
  (continue: false), "alert" (the log and escalation only). The decisions are a dict of what
  the state must remember of them (a cursor moved, an incident announced, a message
  dead-lettered), {} when nothing; the pipeline, and nothing else, writes a non-empty one into
  the record as `record["decisions"][NAME]`, so it is logged and replayed with the event.
- `apply(state, record)`: the reducer: deterministic, from the record alone (its annotation,
  `store.record.decisions(record, NAME)`, the notices), so that the state always equals a
  replay of the log. `decisions` also reads logs written before the decisions had a key of
  their own (they were inside `record[NAME]`): annotate never writes a key its check decides.
- `after_commit(txn, record, cfg, layout) -> list[dict]`: side effects after the commit
  (backups, repair, archiving), under the session lock.
- `NAME`: the feature's key in the record; required of a feature whose check decides anything.

Features read each other's decisions only through the notices (`record["notices"]`: a
refusal by any feature means the call did not run).

Only for type checkers and readers: nothing imports this at run time (typing is too costly
for a hot hook).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Feature(Protocol):
    NAME: str

    def annotate(self, inp: dict, record: dict, cfg: Any) -> None: ...

    def check(self, state: dict, record: Mapping[str, Any], cfg: Any) -> tuple[list[dict], dict]: ...

    def apply(self, state: dict, record: dict) -> None: ...

    def after_commit(self, txn: Any, record: dict, cfg: Any, layout: Any) -> list[dict]: ...
