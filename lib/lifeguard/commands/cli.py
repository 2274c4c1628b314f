"""state_recovery.py's command line: find the workspace, parse, dispatch to a verb module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import VERSION
from ..core.paths import Layout, find_claude_dir, tool_command
from ..store import jsoncodec
from .ui import UI

EXIT_USAGE = 2


def locate(workspace: str | None, script: str | None) -> Path:
    """The `.claude` folder to work on: --workspace (a project or its .claude), else the
    folder this tool is installed in (.claude/scripts/ -> .claude/), else the usual search."""
    if workspace:
        path = Path(workspace).expanduser().absolute()
        return path if path.name == ".claude" else path / ".claude"
    if script:
        here = Path(script).absolute().parent
        if here.name == "scripts" and here.parent.name == ".claude":
            return here.parent
    return Path(find_claude_dir(None)).absolute()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="state_recovery.py",
        description="Lifeguard's recovery tools: inspect, back up, restore and repair the session state, "
                    "check the installation, and list what lifeguard did.",
    )
    top.add_argument("--workspace", metavar="DIR", help="the project folder (or its .claude folder); "
                     "default: the one this script is installed in")
    top.add_argument("--plain", action="store_true", help="plain text output, no colours or tables from rich")
    verbs = top.add_subparsers(dest="verb", metavar="COMMAND")

    p = verbs.add_parser("analyze", help="healthy / corrupted / stale / large sessions (exit 1 if any is corrupted)",
                         description="Totals of healthy, corrupted, stale (no activity for 24 h) and large (over 10 MB) "
                                     "sessions, and a table of those needing attention. Exit code 1 when any session "
                                     "is corrupted.")
    p.add_argument("--json", action="store_true", help="machine-readable report")

    p = verbs.add_parser("backup", help="a complete backup of the state folder",
                         description="Copy the whole state folder into state/backups/<time>-<name>/ with metadata.")
    p.add_argument("--name", help="a short name (letters, digits, _ - .)")

    p = verbs.add_parser("backups", help="list the backups, newest first", description="List the backups, newest first.")
    p.add_argument("--json", action="store_true", help="machine-readable list")

    p = verbs.add_parser("restore", help="restore a backup (the current state is backed up first)",
                         description="Put a backup's files back into the state folder. The current state is backed up "
                                     "first. Asks for confirmation unless --yes; refuses when it cannot ask.")
    p.add_argument("backup", metavar="BACKUP", help="a backup id (see: backups) or its folder")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = verbs.add_parser("repair", help="repair one session or all (what is replaced is kept)",
                         description="Run lifeguard's repair (minor fix, replay from the log, restore a saved state, "
                                     "or a clean start) on one session or all. A backup is taken first and every "
                                     "replaced file is kept in state/quarantine/.")
    p.add_argument("session_file", nargs="?", metavar="SESSION_FILE",
                   help="a session's state or log file (session-<id>.json, events-<id>.jsonl) or its id")
    p.add_argument("--all", action="store_true", help="every session in the state folder")
    p.add_argument("--json", action="store_true", help="machine-readable reports")

    p = verbs.add_parser("doctor", help="check the installation; each problem with its fix (exit 1 on problems)",
                         description="Check settings.json's lifeguard entries, installed files, config, state folder, "
                                     "uv and its cache, Python, and run each hook on a sample event within its budget.")
    p.add_argument("--quick", action="store_true", help="skip running the hooks")
    p.add_argument("--json", action="store_true", help="machine-readable findings")

    verbs.add_parser("off", help="turn lifeguard off in this project (every hook a quiet no-op)",
                     description='Write "enabled": false into .claude/lifeguard.json: every lifeguard hook of this '
                                 "project then does nothing (exit 0, no output, nothing written). Guarded hooks of "
                                 "yours run as they would unguarded. For every project at once, set LIFEGUARD_DISABLE=1 "
                                 "in Claude Code's environment.")
    verbs.add_parser("on", help="turn lifeguard back on in this project",
                     description='Write "enabled": true into .claude/lifeguard.json.')

    p = verbs.add_parser("incidents", help="what lifeguard did (loops stopped, repairs, timeouts, faults), newest first",
                         description="Incidents from the event logs and faults.jsonl, newest first.")
    p.add_argument("--session", metavar="ID", help="only this session (its id, or its first characters)")
    p.add_argument("--limit", type=int, default=50, help="show at most this many, repeats grouped (0: all; default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable list")

    p = verbs.add_parser("stats", help="a session's numbers: tool calls, failures, latency, hook cost, error rate",
                         description="Per tool: calls, failures, error rate, p50/p95 latency; lifeguard's time per hook "
                                     "event; state query and session init times; what lifeguard did; and a chart of the "
                                     "error rate over the session. Default: the session active last.")
    p.add_argument("--session", metavar="ID", help="this session instead of the last one")
    p.add_argument("--json", action="store_true", help="every figure, machine-readable")
    p.add_argument("--html", metavar="FILE", help="also write one self-contained page with the charts to FILE")
    return top


def unknown_verb(verbs: list[str], argv: list[str]) -> str | None:
    """The command word on the command line when this version has no such command (a newer
    version's, or a typo), else None."""
    words = iter(argv)
    for word in words:
        if word == "--workspace":
            next(words, None)
        elif not word.startswith("-"):
            return None if word in verbs else word
    return None


def main(argv: list[str] | None = None, script: str | None = None, ui: UI | None = None) -> int:
    top = parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    verbs = list(next(a.choices for a in top._actions if isinstance(a, argparse._SubParsersAction)))
    word = unknown_verb(verbs, argv)
    if word is not None:
        (ui or UI(plain=True)).warn(f"lifeguard: this version of lifeguard ({VERSION}) has no command {word!r}; "
                                    f"it has: {', '.join(verbs)}. Each takes --help.")
        return EXIT_USAGE
    args = top.parse_args(argv)
    if not args.verb:
        top.print_help()
        return EXIT_USAGE
    claude = locate(args.workspace, script)
    ui = ui or UI(plain=args.plain)
    if not claude.is_dir():
        ui.warn(f"lifeguard: {claude} does not exist; pass the project folder with --workspace DIR")
        return EXIT_USAGE
    layout = Layout(claude)
    args.tool = tool_command(claude)
    jsoncodec.use_orjson()  # the tools read whole logs: worth its import (store/jsoncodec.py)
    from . import analyze, backup, incidents, onoff, repair, stats
    from .doctor import command as doctor

    verbs = {
        "analyze": analyze.run,
        "backup": backup.run_backup,
        "backups": backup.run_list,
        "restore": backup.run_restore,
        "repair": repair.run,
        "doctor": doctor.run,
        "incidents": incidents.run,
        "off": onoff.run_off,
        "on": onoff.run_on,
        "stats": stats.run,
    }
    try:
        return verbs[args.verb](args, layout, ui)
    except KeyboardInterrupt:
        ui.warn("lifeguard: interrupted")
        return 130
