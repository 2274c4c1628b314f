"""settings.json's lifeguard entries: each points at an existing runner and hook script of this
workspace, for the right event; timeouts are sane seconds; no event missing. Or lifeguard runs as
the Claude Code plugin, and its hooks/hooks.json has every hook (not both at once)."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from ...core.paths import Layout
from ..install.common import REPO
from ..install.settings import HOOKS
from .findings import Finding, fail, ok, warn

MIN_TIMEOUT, MAX_TIMEOUT = 1, 600


def lifeguard_entries(settings: dict) -> list[tuple[str, dict]]:
    """(event, hook entry) for every lifeguard hook in settings.json."""
    out = []
    hooks = settings.get("hooks") if isinstance(settings, dict) else None
    if not isinstance(hooks, dict):
        return out
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else ():
            for hook in (group.get("hooks") if isinstance(group, dict) else None) or ():
                if isinstance(hook, dict) and "lifeguard-run" in str(hook.get("command", "")):
                    out.append((event, hook))
    return out


def enabled_plugin(layout: Layout) -> str | None:
    """The lifeguard plugin (`lifeguard@MARKETPLACE`) Claude Code has enabled for this project, in
    the project's settings or the user's (CLAUDE_CONFIG_DIR, else ~/.claude), or None."""
    user = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    for path in (layout.claude_dir / "settings.json", layout.claude_dir / "settings.local.json", user / "settings.json"):
        try:
            plugins = json.loads(path.read_bytes()).get("enabledPlugins")
        except (OSError, ValueError, AttributeError):
            continue
        for name, on in plugins.items() if isinstance(plugins, dict) else ():
            if on is True and str(name).partition("@")[0] == "lifeguard":
                return str(name)
    return None


def plugin_entries() -> list[tuple[str, dict]]:
    """(event, hook) of the plugin's hooks/hooks.json beside this code (none in an install.sh copy)."""
    try:
        return lifeguard_entries(json.loads((REPO / "hooks" / "hooks.json").read_bytes()))
    except (OSError, ValueError):
        return []


def check_plugin(plugin: str) -> list[Finding]:
    entries = plugin_entries()
    missing = sorted({event for event, *_ in HOOKS} - {event for event, _ in entries})
    if not entries or missing:
        return [fail(f"lifeguard is enabled as the plugin {plugin}, but its hooks/hooks.json in {REPO} "
                     f"lacks {', '.join(missing) or 'every hook'}", f"claude plugin update {plugin.partition('@')[0]}")]
    return [ok(f"lifeguard runs as the Claude Code plugin {plugin}: {len(entries)} hooks from "
               f"{REPO / 'hooks' / 'hooks.json'}")]


def check_settings(layout: Layout) -> list[Finding]:
    path = layout.claude_dir / "settings.json"
    reinstall = f"reinstall: run install.sh from your lifeguard checkout with {layout.claude_dir.parent}"
    plugin = enabled_plugin(layout)
    try:
        settings = json.loads(path.read_bytes())
    except FileNotFoundError:
        if plugin:
            return check_plugin(plugin)
        return [fail(f"{path} does not exist, so no lifeguard hook runs", reinstall)]
    except (OSError, ValueError) as exc:
        return [fail(f"{path} is not valid JSON ({exc})", f"fix the JSON by hand (a backup may be in {layout.backup_dir / 'settings'})")]
    entries = lifeguard_entries(settings)
    if plugin and entries:
        return [warn(f"lifeguard runs twice at every hook: installed here by install.sh and enabled as the plugin "
                     f"{plugin}", f"keep one: install.sh --uninstall {shlex.quote(str(layout.claude_dir.parent))}, "
                     f"or: claude plugin disable {plugin} --scope project")]
    if plugin:
        return check_plugin(plugin)
    if not entries:
        return [fail(f"{path} has no lifeguard hook entries", reinstall)]
    findings: list[Finding] = []
    for event, hook in entries:
        findings.extend(check_entry(layout, event, hook))
    expected = {event for event, *_ in HOOKS}
    missing = sorted(expected - {event for event, _ in entries})
    if missing:
        findings.append(warn(f"no lifeguard hook for {', '.join(missing)}", reinstall))
    if not any(level != "ok" for level, *_ in findings):
        findings.append(ok(f"settings.json: {len(entries)} lifeguard hooks, each pointing at an existing script"))
    return findings


def check_entry(layout: Layout, event: str, hook: dict) -> list[Finding]:
    """One settings.json entry: runner path, script, event match, timeout."""
    project = str(layout.claude_dir.parent)
    command = str(hook.get("command", ""))
    label = f"{event} hook ({command})"
    expanded = command.replace("${CLAUDE_PROJECT_DIR}", project).replace("$CLAUDE_PROJECT_DIR", project)
    try:
        argv = shlex.split(expanded)
    except ValueError as exc:
        return [fail(f"{label}: the command cannot be parsed ({exc})", "reinstall lifeguard with install.sh")]
    findings: list[Finding] = []
    runner = Path(argv[0]) if argv else Path("")
    if not runner.is_absolute():
        runner = Path(project) / runner
    ours = layout.claude_dir / "hooks" / "lifeguard-run"
    if not runner.exists():
        findings.append(fail(f"{label}: {runner} does not exist",
                             'point it at "$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run (reinstall with install.sh)'))
    elif runner.resolve() != ours.resolve():
        findings.append(warn(f"{label}: runs {runner}, not this workspace's {ours}",
                             'use "$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run so the hook follows the project'))
    elif not os.access(runner, os.X_OK):
        findings.append(fail(f"{label}: {runner} is not executable", f"chmod +x {shlex.quote(str(runner))}"))
    script = argv[1] if len(argv) > 1 else ""
    script_path = layout.claude_dir / "hooks" / f"{script}.py"
    if not script:
        findings.append(fail(f"{label}: no hook script named", "reinstall lifeguard with install.sh"))
    elif not script_path.is_file():
        findings.append(fail(f"{label}: hook script {script_path} is missing", "reinstall lifeguard with install.sh"))
    expected_script = {e: s for e, s, *_ in HOOKS}.get(event)
    if expected_script and script and script != expected_script:
        findings.append(warn(f"{label}: runs {script}.py for {event}", f"use {expected_script} (reinstall with install.sh)"))
    findings.extend(check_timeout(label, hook.get("timeout"), argv[2] if len(argv) > 2 else None))
    return findings


def check_timeout(label: str, timeout: object, budget_arg: str | None) -> list[Finding]:
    """settings.json timeouts are seconds: a number between MIN and MAX, matching the wrapper's."""
    if timeout is None:
        return [warn(f"{label}: no timeout (Claude Code's default of 600 s applies)",
                     'add "timeout": 10 (seconds; 60 for SessionStart)')]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        return [fail(f"{label}: timeout {timeout!r} is not a number", 'use a number of seconds, e.g. "timeout": 10')]
    if timeout < MIN_TIMEOUT:
        return [fail(f"{label}: timeout {timeout} s is too short for uv to start the hook",
                     f"use at least {MIN_TIMEOUT} s (10 is the default)")]
    if timeout > MAX_TIMEOUT:
        hint = " (it looks like milliseconds; settings.json uses seconds)" if timeout >= 1000 else ""
        return [fail(f"{label}: timeout {timeout} s is over {MAX_TIMEOUT} s{hint}", "use seconds, e.g. 10 (60 for SessionStart)")]
    if budget_arg is not None:
        try:
            budget = float(budget_arg)
        except ValueError:
            return [fail(f"{label}: the runner's budget {budget_arg!r} is not a number", "reinstall lifeguard with install.sh")]
        if budget > timeout:
            return [warn(f"{label}: the runner's budget {budget:g} s exceeds the timeout {timeout} s, "
                         "so Claude Code may kill the hook before it can fail open",
                         "make both the same (the command's last argument and \"timeout\")")]
    return []
