"""`backup`, `backups` and `restore`: thin over upkeep.backup, plus the safety around it.

Restore takes every session lock first (bounded wait), so no hook writes while files are
put back, and refuses to run without a confirmation: `--yes`, or a "y" typed on a terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ..upkeep import backup as backup_api
from ..core.locking import LockTimeout
from ..core.toollock import ToolLock
from ..core.paths import Layout

LOCK_WAIT = 5.0


def run_backup(args, layout: Layout, ui) -> int:
    try:
        with ui_status(ui, "Backing up the state folder"):
            folder = backup_api.create_backup(layout, args.name, reason="manual (state_recovery.py backup)")
    except ValueError as exc:
        ui.warn(f"lifeguard: {exc}")
        return 2
    meta = _meta(folder)
    ui.say(f"Backup created: {folder}", style="green")
    ui.say(f"  id {meta.get('id')}, {meta.get('files')} files, {meta.get('bytes')} bytes, at {meta.get('created_at')}")
    ui.say(f"Restore it with: {args.tool} restore {folder.name}")
    return 0


def run_list(args, layout: Layout, ui) -> int:
    items = backup_api.list_backups(layout)
    if args.json:
        ui.raw(json.dumps(items, indent=2))
        return 0
    if not items:
        ui.say(f"No backups in {layout.backup_dir}. Make one with: {args.tool} backup")
        return 0
    ui.table(f"Backups in {layout.backup_dir} (newest first)", ["Id", "Created", "Files", "Bytes", "Reason"],
             [(m.get("id"), m.get("created_at"), m.get("files"), m.get("bytes"), m.get("reason")) for m in items])
    return 0


def run_restore(args, layout: Layout, ui) -> int:
    backup_id = Path(args.backup).name  # a path to the backup folder works too
    known = {m["id"]: m for m in backup_api.list_backups(layout)}
    meta = known.get(backup_id)
    if meta is None:
        ui.warn(f"lifeguard: no complete backup named {backup_id!r} in {layout.backup_dir}. "
                f"List them with: {args.tool} backups")
        return 2
    ui.say(f"Backup {backup_id}: created {meta.get('created_at')}, {meta.get('files')} files, reason: {meta.get('reason') or '-'}")
    if not args.yes:
        if not _stdin_is_tty():
            ui.warn("lifeguard: restore replaces the current session files and standard input is not a terminal, "
                    "so I cannot ask. Run it again with --yes to confirm (the current state is backed up first).")
            return 2
        if not ui.confirm("Restore it? The current state is backed up first."):
            ui.say("Nothing was changed.")
            return 1
    try:
        with session_locks(layout):
            before = backup_api.restore_backup(layout, backup_id)
    except LockTimeout as exc:
        ui.warn(f"lifeguard: a hook is using a session ({exc}); stop Claude Code and try again. Nothing was changed.")
        return 1
    ui.say(f"Current state backed up first to: {before}")
    ui.say(f"Restored {backup_id} into {layout.state_dir}", style="green")
    ui.say(f"Undo with: {args.tool} restore {before.name} --yes")
    return 0


@contextlib.contextmanager
def session_locks(layout: Layout, wait: float = LOCK_WAIT):
    """Hold every session's lock (the hooks' own lock files), so nothing writes meanwhile."""
    with contextlib.ExitStack() as stack:
        try:
            names = sorted(n for n in os.listdir(layout.state_dir) if n.startswith("session-") and n.endswith(".lock"))
        except FileNotFoundError:
            names = []
        for name in names:
            stack.enter_context(ToolLock(layout.state_dir / name, wait))
        yield


@contextlib.contextmanager
def ui_status(ui, text: str):
    console = getattr(ui, "err_console", None)
    if console is not None and console.is_terminal:
        with console.status(text):
            yield
    else:
        yield


def _meta(folder: Path) -> dict:
    try:
        return json.loads((folder / backup_api.METADATA).read_text())
    except (OSError, ValueError):
        return {}


def _stdin_is_tty() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False
