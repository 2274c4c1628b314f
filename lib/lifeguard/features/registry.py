"""The features, in the order they run: one list, the only place a feature is named.

`annotate`, `check` and `after_commit` run in this order, and the reducer (`store.reducer`)
folds a record with each feature's `apply` in this order too; the contract is in `base`.
Alerts are not a feature: the pipeline escalates notices as a step of its own (alerts/step.py).
Features are imported eagerly: keep their module-level imports to the stdlib.
"""

from __future__ import annotations

from . import core, guarded_hooks, health, metrics
from .coordination import feature as coordination
from .loops import feature as loops

FEATURES: list = [
    core,  # lifecycle, counters, recent events
    loops,  # loop rules and circuit breakers
    coordination,  # subagents, tasks, the notice queue
    guarded_hooks,  # breaker and loop window per guarded hook (hooks/guard.py)
    health,  # state checks, repair, cleanup, checkpoints and backups per lifecycle point
    metrics,  # the spec's live thresholds, once per crossing (last: session init time includes the others)
]
