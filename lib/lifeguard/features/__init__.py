"""Features: what lifeguard watches for. base (the Protocol each feature follows), registry (the
one ordered list), core (lifecycle, counters), loops/ (loop rules, breakers), coordination/
(subagents, tasks, the notice queue), guarded_hooks (guard.py's breaker), health (upkeep per
lifecycle point), metrics (the spec's live alert thresholds).

May import: core, config, store, redact, alerts.codes, alerts.thresholds, telemetry.samples; upkeep
only lazily, inside after_commit.
"""
