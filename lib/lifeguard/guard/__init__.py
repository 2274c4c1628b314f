"""Timeout-guarded execution of hook commands (lifeguard's `hooks/guard.py`).

    uv run --script .claude/hooks/guard.py --timeout S [--on-timeout block|allow] [--name N] -- CMD [ARGS...]

- `cli`: the guard's flow: read stdin, decide (breaker, loop), run, answer, record.
- `hookinput`: bounded stdin read and the input fingerprint used for loop detection.
- `process`: run one command in a process group of its own under a deadline.
- `environment`: the cleaned environment the command runs in.
- `outcome`: what an execution means (outcome, error code, verdict), the user's message, and
  the hook's name as the user knows it (its command).
- `policy`: breaker and loop rules (pure functions over a hook's guard entry).
- `ledger`: the session's guard entry (loop window); executions recorded as events.
- `workspace`: the breaker, shared by every session of the project (`state/guarded-hooks.json`).
- `wrapping`: `install.sh --guard-existing`: wrap and unwrap settings.json hook commands.
"""
