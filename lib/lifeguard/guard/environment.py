"""The environment a guarded command runs in: the hook's own, minus injection variables and
what `uv run` added for the guard itself, plus the session and workspace lifeguard knows.

Nothing here is printed or stored: the user's environment stays in memory only.
"""

from __future__ import annotations

import os
import sys

# Variables that make a process load or run code it did not ask for.
INJECTION_VARS = frozenset({
    "LD_PRELOAD", "LD_AUDIT", "LD_PROFILE",
    "DYLD_INSERT_LIBRARIES", "DYLD_LIBRARY_PATH", "DYLD_FRAMEWORK_PATH", "DYLD_FALLBACK_LIBRARY_PATH",
    "PYTHONPATH", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONHOME",
    "PERL5OPT", "PERL5LIB", "RUBYOPT", "NODE_OPTIONS", "BASH_ENV", "ENV",
})
STACK_VAR = "LIFEGUARD_GUARD_STACK"  # names of the guarded hooks this process runs inside


def clean_env(base: dict[str, str], session_id: str, workspace: str, name: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in INJECTION_VARS}
    env.pop("LIFEGUARD_BLOCK_STATUS", None)  # meant for hooks/guard-run, not the user's command
    undo_uv_run(env)
    env["LIFEGUARD_SESSION_ID"] = session_id
    env["LIFEGUARD_WORKSPACE"] = workspace
    env["LIFEGUARD_HOOK_NAME"] = name
    env[STACK_VAR] = ":".join(stack(base) + [name])
    return env


def stack(env: dict[str, str]) -> list[str]:
    return [part for part in env.get(STACK_VAR, "").split(":") if part]


def undo_uv_run(env: dict[str, str], prefix: str = sys.prefix) -> None:
    """Take back what `uv run --script guard.py` set for the guard, so the user's hook sees
    the `python3`, PATH and VIRTUAL_ENV it would have seen unguarded."""
    if env.get("VIRTUAL_ENV") != prefix:
        return
    del env["VIRTUAL_ENV"]
    venv_bin = os.path.join(prefix, "bin")
    parts = env.get("PATH", "").split(os.pathsep)
    if parts and parts[0] == venv_bin:
        env["PATH"] = os.pathsep.join(parts[1:])
    depth = env.get("UV_RUN_RECURSION_DEPTH", "")
    if depth.isdigit() and int(depth) > 1:
        env["UV_RUN_RECURSION_DEPTH"] = str(int(depth) - 1)
    elif depth:
        env.pop("UV_RUN_RECURSION_DEPTH", None)
        env.pop("UV", None)
