"""`repair --all | SESSION_FILE`: upkeep.repair's decision tree, on demand.

Everything a repair replaces is kept: a pre-repair backup of the whole state folder first,
and the replaced files themselves in state/quarantine/ (see upkeep.repair). Then the records
still waiting in the sessions' spools (their last hooks found the lock busy, and no later hook
came) are brought into their logs, in order and exactly once (store.session.drain_all).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..features.registry import FEATURES
from ..upkeep import repair as repair_api
from ..core.locking import LockTimeout
from ..core.toollock import ToolLock
from ..core.paths import Layout
from ..store.session import DEFAULT_LOCK_TIMEOUT, drain_all

_FILE = re.compile(r"^(?:session-(.+)\.json|events-(.+)\.jsonl|events-(.+)\.snapshot\.json)$")


def session_from_argument(text: str) -> str:
    """The session id in a state / log file name or path, or the argument itself (an id)."""
    name = Path(text).name
    match = _FILE.match(name)
    if match:
        return next(group for group in match.groups() if group)
    return name


def run(args, layout: Layout, ui) -> int:
    if args.all == bool(args.session_file):
        ui.warn("lifeguard: give either --all or one SESSION_FILE (e.g. session-<id>.json), not both or neither")
        return 2
    try:
        if args.all:
            ids = repair_api.session_ids(layout)
            reports = []
            backed_up = None
            for session_id in ui.progress(ids, "Repairing sessions"):
                report = repair_api.repair_session(layout, session_id, backup_first=backed_up is None,
                                                   reducers=FEATURES, lock=ToolLock)
                backed_up = backed_up or report.backup
                reports.append(report)
        else:
            session_id = session_from_argument(args.session_file)
            if session_id not in repair_api.session_ids(layout):
                ui.warn(f"lifeguard: no session {session_id!r} in {layout.state_dir}. "
                        f"See the sessions with: {args.tool} analyze")
                return 2
            reports = [repair_api.repair_session(layout, session_id, reducers=FEATURES, lock=ToolLock)]
        drained, busy = drain_all(layout, FEATURES, DEFAULT_LOCK_TIMEOUT,
                                  only=None if args.all else reports[0].session_id)
    except LockTimeout as exc:
        ui.warn(f"lifeguard: a hook is using the session ({exc}); try again in a moment, or stop Claude Code first.")
        return 1
    if args.json:
        ui.raw(json.dumps([r.to_dict() for r in reports], indent=2))
        return 1 if any(r.still_failing for r in reports) else 0
    if drained:
        ui.say(f"Brought {sum(drained.values())} spooled event(s) into the logs of {len(drained)} session(s): "
               + ", ".join(f"{session} ({count})" for session, count in drained.items()))
    for session in busy:
        ui.warn(f"lifeguard: session {session} is in use; its spooled events go into its log with its next hook "
                f"(or run repair again).")
    if not reports:
        ui.say(f"No sessions in {layout.state_dir}; nothing to repair." if not drained else "No sessions to repair.")
        return 0
    ui.table("Repair", ["Session", "Result", "What was done", "Still failing"],
             [(r.session_id, r.level if r.repaired else "healthy", r.actions or "-", r.still_failing or "-") for r in reports])
    backups = sorted({r.backup for r in reports if r.backup})
    for folder in backups:
        ui.say(f"Backup taken before repairing: {folder}")
    kept = sorted({str(Path(q).parent) for r in reports for q in r.quarantined})
    for folder in kept:
        ui.say(f"Replaced files kept in: {folder}")
    failing = [r for r in reports if r.still_failing]
    if failing:
        ui.say(f"{len(failing)} session(s) still fail validation; listed in {layout.state_dir / 'manual-review.jsonl'}. "
               f"Restore a backup ({args.tool} backups) or start a new session.", style="bold red")
        return 1
    repaired = sum(1 for r in reports if r.repaired)
    ui.say(f"{repaired} session(s) repaired, {len(reports) - repaired} already healthy.", style="green")
    return 0
