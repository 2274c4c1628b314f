"""Subagents and tasks. feature (the feature: `check` dispatches, `after_commit` archives),
annotate, gates (PreToolUse refusals), reports (crashes, timeouts, deadlocks, the notice queue),
reduce (`apply`), common (constants and helpers they share); agents, taskgraph, tasks (task
validation), queue (the notice queue's rules)."""
