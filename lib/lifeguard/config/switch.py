"""Whether lifeguard is off, decided before anything else runs or anything is written.

- `LIFEGUARD_DISABLE=1` in Claude Code's environment: every lifeguard hook is a quiet no-op
  (exit 0, no output, nothing written). hooks/lifeguard-run decides this in the shell, before
  uv or Python start; `client.run_hook` decides it again for hooks started another way.
- `"enabled": false` at the top of `.claude/lifeguard.json` (`state_recovery.py off`): the
  same, for this workspace only.
- `LIFEGUARD_SKIP=loops,breakers`: single features off (the config sections with an `enabled`
  switch), as if `"enabled": false` were written in each; `config.load` applies it.

Imports only `os` at module level (not even `__future__`): the client calls it before anything
else is loaded.
"""

import os

DISABLE_ENV = "LIFEGUARD_DISABLE"
SKIP_ENV = "LIFEGUARD_SKIP"
SKIPPABLE = ("loops", "breakers", "coordination", "alerts", "helper")  # secret redaction is never optional
_NO = frozenset({"", "0", "false", "no", "off"})
MAX_CONFIG_BYTES = 1 << 20


def env_disabled(environ=os.environ) -> bool:
    return environ.get(DISABLE_ENV, "").strip().lower() not in _NO


def workspace_disabled(config_file: str | os.PathLike) -> bool:
    """Whether lifeguard.json says `"enabled": false` at its top. A missing or broken file does
    not turn lifeguard off (the hooks then report the broken file)."""
    try:
        fd = os.open(config_file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        raw = os.read(fd, MAX_CONFIG_BYTES)
    except OSError:
        return False
    finally:
        os.close(fd)
    if b"false" not in raw:  # the usual case, decided without parsing
        return False
    import json

    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("enabled") is False


def off_message(reason: str) -> str:
    """The one line SessionStart shows while lifeguard is off."""
    how = "unset it" if reason.startswith(DISABLE_ENV) else 'run: .claude/lifeguard on (or set "enabled": true)'
    return f"lifeguard is off in this project ({reason}); it records and checks nothing. To turn it on, {how}."


def off_reason(claude_dir: str | os.PathLike, environ=os.environ) -> str | None:
    """Why lifeguard is off here, in words for doctor and the user; None when it is on."""
    if env_disabled(environ):
        return f"{DISABLE_ENV}={environ.get(DISABLE_ENV)} is set in the environment"
    if workspace_disabled(os.path.join(claude_dir, "lifeguard.json")):
        return '"enabled": false in .claude/lifeguard.json'
    return None


def skipped(environ=os.environ) -> tuple[list[str], list[str]]:
    """(features turned off by LIFEGUARD_SKIP, names in it that are no feature)."""
    names = [n.strip().lower() for n in environ.get(SKIP_ENV, "").split(",") if n.strip()]
    return [n for n in names if n in SKIPPABLE], [n for n in names if n not in SKIPPABLE]
