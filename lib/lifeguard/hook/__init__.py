"""One hook invocation: client (the hook entry, talks to the resident helper), wire (the bytes
between them), helper and worker (the resident helper and its forked workers), timeout (the
settings timeout), runner (deadline, stdin, fail-open), pipeline (record, check, commit,
after-commit, answer), protocol (Claude Code's JSON in and out), degraded (memory-only mode
when the disk refuses).

May import: every layer below (core, redact, config, store, telemetry, alerts, features);
upkeep only lazily. Nothing below imports hook."""
