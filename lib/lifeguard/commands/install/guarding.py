"""The user's own hooks, guarded: `install.sh --guard-existing` wraps their commands in guard.py;
`--uninstall` restores them exactly (guard.wrapping does both)."""

from __future__ import annotations

from pathlib import Path

from .common import say
from .settings import GUARDED_SETTINGS, is_ours, read_settings, write_settings


def guard_existing(target: Path, override: float | None = None) -> int:
    """Wrap the user's own hook commands in guard.py; `--uninstall` restores them exactly."""
    from ...guard import wrapping

    claude = target / ".claude"
    for name in GUARDED_SETTINGS:  # the shared settings and the personal, uncommitted ones
        if name != "settings.json" and not (claude / name).exists():
            continue
        before = read_settings(claude / name)
        after, count = wrapping.wrap(before, is_ours, override)
        write_settings(claude, before, after, name)
        if not count:
            say(f"no unguarded hook commands of yours in .claude/{name}")
            continue
        say(f"guarded {count} hook command(s) of yours in .claude/{name} with .claude/hooks/guard.py:")
        for (event, command), (_, now) in zip(_commands(before), _commands(after)):
            if command != now:
                say(f"  {event}: {command if len(command) <= 100 else command[:99] + '…'}")
    return 0


def _commands(settings: dict):
    """(event, command) of every hook in settings, in order."""
    hooks = settings.get("hooks")
    for event, groups in hooks.items() if isinstance(hooks, dict) else ():
        for group in groups if isinstance(groups, list) else ():
            for hook in (group.get("hooks") if isinstance(group, dict) else None) or ():
                if isinstance(hook, dict):
                    yield event, str(hook.get("command", ""))


def unguarded(settings: dict) -> dict:
    """settings with every guarded hook command back in its original form."""
    from ...guard import wrapping

    after, count, left = wrapping.unwrap(settings, is_ours)
    if count:
        say(f"restored {count} guarded hook command(s) to their original form")
    for command in left:
        say(f"left a guarded hook command as it is (edited by hand?): {command[:160]}")
    return after
