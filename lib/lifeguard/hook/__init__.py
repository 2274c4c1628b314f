"""One hook invocation: client (the hook entry, talks to the resident helper), wire (the bytes
between them), environ (the environment, read without os), trust (whether the state folder is
ours), timeout (the settings timeout), launch (starting or replacing a helper from a hook), helper
and worker (the resident helper and its forked workers), rehearsal (a spare's practice run),
runner (deadline, stdin, fail-open), pipeline (record, check, commit, after-commit, answer),
protocol (Claude Code's JSON in and out), degraded (memory-only mode when the disk refuses).

May import: every layer below (core, redact, config, store, telemetry, alerts, features);
upkeep only lazily. Nothing below imports hook. What every hook loads on its way to the helper
(client, wire, environ, trust, timeout) imports nothing else of lifeguard, not even core."""
