"""`install.sh --guard-existing`: wrap the user's hook commands in guard.py, and undo it.

A wrapped command carries the original inside it, quoted, as `sh -c ORIGINAL` (Claude Code
itself runs hook commands with /bin/sh -c), so it behaves as before and unwrapping gets the
original back byte for byte without a second record that could go missing:

    "$CLAUDE_PROJECT_DIR"/.claude/hooks/guard-run --timeout 55 --name NAME -- sh -c 'ORIGINAL'

`guard-run` (sh) runs guard.py under uv and keeps uv's own failures (missing, exit 2) from
turning into a block; see hooks/guard-run.

The entry's other keys (its `timeout` included) are left as they are: Claude Code's own
timeout stays the outer backstop, the guard's is a few seconds below it.
"""

from __future__ import annotations

import json
import shlex

GUARD_MARKER = "/.claude/hooks/guard-run"
OLD_MARKERS = ("/.claude/hooks/guard.py",)  # written by earlier versions; still unwrapped
PREFIX = '"$CLAUDE_PROJECT_DIR"' + GUARD_MARKER
DEFAULT_TIMEOUT = 60  # seconds, for a hook whose entry sets none (Claude Code's own default is 600)


def margin(settings_timeout: float) -> float:
    """Seconds kept between the guard's timeout and Claude Code's: uv's start, the kill grace,
    recording (the guard's own backstop is --timeout + 2.5 s)."""
    return 5.0 if settings_timeout >= 20 else 3.0


def guard_timeout(entry: dict, override: float | None = None) -> float:
    configured = entry.get("timeout")
    outer = float(configured) if isinstance(configured, (int, float)) and configured > 0 else DEFAULT_TIMEOUT
    ceiling = max(1.0, outer - margin(outer))
    return min(max(0.5, float(override)), ceiling) if override else ceiling


def is_guarded(hook: object) -> bool:
    command = str(hook.get("command", "")) if isinstance(hook, dict) else ""
    return any(marker in command for marker in (GUARD_MARKER, *OLD_MARKERS))


def hook_name(event: str, command: str) -> str:
    from .cli import default_name, safe_hook_name

    return safe_hook_name(f"{event}.{default_name(['sh', '-c', command])}")


def wrap_command(command: str, event: str, timeout: float) -> str:
    seconds = f"{timeout:g}"
    return f"{PREFIX} --timeout {seconds} --name {hook_name(event, command)} -- sh -c {shlex.quote(command)}"


def original_command(wrapped: str) -> str | None:
    """The command a wrapped one runs, or None if it is not in the form wrap_command writes."""
    try:
        words = shlex.split(wrapped)
    except ValueError:
        return None
    if "--" not in words or not any(w.endswith((GUARD_MARKER, *OLD_MARKERS)) for w in words):
        return None
    rest = words[words.index("--") + 1:]
    return rest[2] if len(rest) == 3 and rest[:2] == ["sh", "-c"] else None


def _user_hooks(settings: dict, is_ours):
    """(event, hook) for every command hook in settings that is the user's, not lifeguard's."""
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else ():
            for hook in (group.get("hooks") if isinstance(group, dict) else None) or ():
                if (isinstance(hook, dict) and hook.get("type", "command") == "command"
                        and isinstance(hook.get("command"), str) and not is_ours(hook)):
                    yield event, hook


def wrap(settings: dict, is_ours, override: float | None = None) -> tuple[dict, int]:
    """A copy of settings with every unguarded user hook wrapped; (copy, how many wrapped)."""
    out = json.loads(json.dumps(settings))
    count = 0
    for event, hook in _user_hooks(out, is_ours):
        if not is_guarded(hook):
            hook["command"] = wrap_command(hook["command"], event, guard_timeout(hook, override))
            count += 1
    return out, count


def unwrap(settings: dict, is_ours) -> tuple[dict, int, list[str]]:
    """A copy of settings with every guarded hook restored; (copy, restored, commands left as they were)."""
    out = json.loads(json.dumps(settings))
    count, left = 0, []
    for _, hook in _user_hooks(out, is_ours):
        if is_guarded(hook):
            original = original_command(hook["command"])
            if original is None:
                left.append(hook["command"])
            else:
                hook["command"] = original
                count += 1
    return out, count, left


