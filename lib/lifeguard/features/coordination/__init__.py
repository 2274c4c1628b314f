"""Subagents and tasks. feature (the feature: `check` dispatches, reports timeouts and delivers
the notice queue, `after_commit` archives), annotate, gates (PreToolUse refusals), reports
(crashes, deadlocks, failed deliveries, what is queued), reduce (`apply`), common (constants and
helpers they share); agents, taskgraph, tasks (task validation), queue (the notice queue's rules)."""
