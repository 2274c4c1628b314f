"""The `doctor` verb: every check in order, each one's findings printed as soon as it has run
(the live hooks last), then one line that sums up; or all of them as JSON. Exit 1 when any fails."""

from __future__ import annotations

import json

from ...core.paths import Layout
from .environment import check_helper, check_python, check_uv
from .files import check_config, check_folders, check_manifest, check_state_dir, check_switch
from .findings import Finding
from .history import check_guarded, check_sweep, check_telemetry, check_urgent
from .live import check_hooks_live
from .settings import check_settings


def diagnose(layout: Layout, ui, live: bool = True, told=None) -> list[tuple[str, Finding]]:
    """Every check's findings, in order; `told(name, findings)` is called as each check ends."""
    sections = [
        ("on/off", lambda: check_switch(layout)),
        ("settings.json", lambda: check_settings(layout)),
        ("installed files", lambda: check_manifest(layout)),
        ("config", lambda: check_config(layout)),
        ("folders", lambda: check_folders(layout)),
        ("state folder", lambda: check_state_dir(layout)),
        ("resident helper", lambda: check_helper(layout)),
        ("urgent alerts", lambda: check_urgent(layout)),
        ("telemetry", lambda: check_telemetry(layout)),
        ("guarded hooks", lambda: check_guarded(layout)),
        ("sweep", lambda: check_sweep(layout)),
        ("uv", lambda: check_uv(layout)),
        ("python", check_python),
    ]
    if live:
        sections.append(("hooks", lambda: check_hooks_live(layout, ui)))
    results = []
    for name, check in sections:
        found = check()
        results.extend((name, finding) for finding in found)
        if told is not None:
            told(name, found)
    return results


def run(args, layout: Layout, ui) -> int:
    if args.json:
        results = diagnose(layout, ui, live=not args.quick)
        ui.raw(json.dumps([{"check": n, "level": f[0], "what": f[1], "fix": f[2]} for n, f in results], indent=2))
        return 1 if any(f[0] == "fail" for _, f in results) else 0
    ui.say(f"Checking lifeguard in {layout.claude_dir}")

    def told(name: str, found: list[Finding]) -> None:
        for level, what, fix in found:
            ui.say(f"{LABELS[level]:4}  {name}: {what}", style=STYLES[level])
            if fix:
                ui.say(f"      fix: {fix}")
        if name == "python" and not args.quick:
            ui.say("....  hooks: running each one on a sample event, one per core at a time")

    results = diagnose(layout, ui, live=not args.quick, told=told)
    problems = sum(1 for _, f in results if f[0] == "fail")
    warnings = sum(1 for _, f in results if f[0] == "warn")
    if problems:
        ui.say(f"{problems} problem(s), {warnings} warning(s): apply each fix above, then run doctor again.", style="bold red")
        return 1
    if warnings:
        ui.say(f"No problems found, but {warnings} warning(s) above.", style="yellow")
        return 0
    ui.say("No problems found.", style="green")
    return 0


LABELS = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}
STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}
