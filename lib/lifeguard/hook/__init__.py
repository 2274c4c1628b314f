"""One hook invocation: client (the hook entry, talks to the resident helper), helper (the
resident helper and its workers), runner (deadline, stdin, fail-open), pipeline (record, check,
commit, after-commit, answer), protocol (Claude Code's wire format), record (the event record),
degraded (memory-only mode when the disk refuses).

May import: every layer below (core, redact, config, store, features, alerts); upkeep only lazily."""
