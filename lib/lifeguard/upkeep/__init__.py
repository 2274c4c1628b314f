"""Cold-path work after the commit and in tools: repair (recovery ladder), jsonrepair, checks
(health checks), cleanup (graded cleanup, compaction, archiving), backup, schema (pydantic).

May import: core, store, config. Never imported by the hot path at module level."""
