"""Subagents and tasks: agents, taskgraph, tasks (task validation), queue (the notice queue),
feature (the feature)."""
