"""Timeout-guarded execution of hook commands (lifeguard's `hooks/guard.py`).

    uv run --script .claude/hooks/guard.py --timeout S [--on-timeout block|allow] [--name N] -- CMD [ARGS...]

- `cli`: the guard's flow: read stdin, decide (breaker, loop), run, answer, record.
- `hookinput`: bounded stdin read and the input fingerprint used for loop detection.
- `process`: run one command in a process group of its own under a deadline.
- `environment`: the cleaned environment the command runs in.
- `outcome`: what an execution means (outcome, error code, verdict) and the user's message.
- `policy`: breaker and loop rules (pure functions over a hook's guard entry).
- `ledger`: the guard entry read from the session state; executions recorded as events.
- `redact`: the command as it may be stored (secrets masked).
- `wrapping`: `install.sh --guard-existing`: wrap and unwrap settings.json hook commands.
"""
