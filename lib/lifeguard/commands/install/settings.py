"""settings.json and lifeguard's hook entries in it.

Lifeguard's entries are recognised by their command (`.claude/hooks/lifeguard-run`); the user's
own settings and hooks are kept as they are. A settings file is backed up before any change, and
an invalid one stops the install with no change at all (`InstallError`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...core import clock, fsutil
from .common import InstallError, say, write_public

MARKER = "/.claude/hooks/lifeguard-run "
SETTINGS_BACKUPS_KEPT = 10
GUARDED_SETTINGS = ("settings.json", "settings.local.json")  # the shared settings and the personal ones

# event, script, timeout (s), takes a tool matcher
HOOKS = [
    ("SessionStart", "session_start", 60, False),
    ("UserPromptSubmit", "user_prompt_submit", 10, False),
    ("PreToolUse", "pre_tool_use", 10, True),
    ("PostToolUse", "post_tool_use", 10, True),
    ("PostToolUseFailure", "post_tool_use_failure", 10, True),
    ("Stop", "stop", 30, False),
    ("SubagentStart", "subagent_start", 10, False),
    ("SubagentStop", "subagent_stop", 10, False),
    ("PreCompact", "pre_compact", 30, False),
    ("SessionEnd", "session_end", 15, False),
]


def command_for(script: str, timeout: int) -> str:
    return f'"$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run {script} {timeout}'


def lifeguard_entries() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for event, script, timeout, matcher in HOOKS:
        group: dict = {"matcher": "*"} if matcher else {}
        group["hooks"] = [{"type": "command", "command": command_for(script, timeout), "timeout": timeout}]
        out[event] = [group]
    return out


def is_ours(hook: object) -> bool:
    return isinstance(hook, dict) and MARKER in str(hook.get("command", ""))


def read_settings(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InstallError(f"{path} is not valid JSON ({exc}); fix it first. Nothing was changed.") from None
    if not isinstance(data, dict):
        raise InstallError(f"{path} must hold a JSON object; nothing was changed.")
    if "hooks" in data and not isinstance(data["hooks"], dict):
        raise InstallError(f'{path}: "hooks" must be an object; nothing was changed.')
    return data


def without_ours(settings: dict) -> dict:
    """settings with every lifeguard hook removed, and only what that emptied dropped."""
    out = json.loads(json.dumps(settings))
    hooks = out.get("hooks")
    if not isinstance(hooks, dict):
        return out
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                kept = [h for h in group["hooks"] if not is_ours(h)]
                if len(kept) != len(group["hooks"]) and not kept:
                    continue  # a group that only held lifeguard's hooks
                group["hooks"] = kept
            kept_groups.append(group)
        if groups and not kept_groups:
            del hooks[event]
        else:
            hooks[event] = kept_groups
    if not hooks and settings.get("hooks"):
        del out["hooks"]
    return out


def with_ours(settings: dict) -> dict:
    out = without_ours(settings)
    hooks = out.setdefault("hooks", {})
    for event, groups in lifeguard_entries().items():
        existing = hooks.get(event)
        hooks[event] = (existing if isinstance(existing, list) else []) + groups
    return out


def write_settings(claude: Path, before: dict, after: dict, name: str = "settings.json") -> bool:
    path = claude / name
    stem = name[: -len(".json")]
    if before == after and (path.exists() or not after):
        return False
    if path.exists():
        backups = claude / "state" / "backups" / "settings"
        fsutil.ensure_private_dir(claude / "state")
        fsutil.ensure_private_dir(claude / "state" / "backups")
        fsutil.ensure_private_dir(backups)
        stamp = clock.file_stamp() + f"-{os.getpid()}"
        fsutil.atomic_write(backups / f"{stem}-{stamp}.json", path.read_bytes())
        for old in sorted(backups.glob(f"{stem}-*.json"))[:-SETTINGS_BACKUPS_KEPT]:
            old.unlink()
        say(f"backed up {name} to {backups.relative_to(claude.parent)}/{stem}-{stamp}.json")
    text = json.dumps(after, indent=2, ensure_ascii=False) + "\n"
    write_public(path, text.encode())
    return True
