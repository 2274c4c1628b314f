"""Features: what lifeguard watches for. base (the Protocol each feature follows), registry (the
one ordered list), core (lifecycle, counters), loops/ (loop rules, breakers), coordination/
(subagents, tasks, the notice queue), guarded_hooks (guard.py's breaker), health (upkeep per
lifecycle point).

May import: core, config, store, redact, alerts.codes; upkeep only lazily, inside after_commit.
"""
