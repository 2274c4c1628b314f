"""`analyze`: how healthy is every session in the state folder.

A session is `corrupted` when its state file is unreadable, or one of upkeep.checks'
data checks fails (schema, consistency, event-log integrity, dependency cycles); `stale` when
nothing happened for `limits.archive_idle_hours` (the next sweep archives it); otherwise `healthy`.
It is `large` (a flag, on top of its status) when its state and log together pass LARGE_MB.
`spooled` counts its records still waiting in `spool/<id>/` (hooks that found its lock busy;
the next hook of the session, any SessionStart's sweep or `repair` brings them into the log).
Exit code 1 when any session is corrupted, so scripts can act on it.

A session whose files are exactly as the last sweep found them healthy (upkeep/sweep.py: same
size, mtime and inode) gets the cheap checks (structure, the log's tail): the deep ones (the
schema, a replay of the whole log) were done on these very bytes. So analyze costs ~0.3 ms per
quiet session, and loads pydantic only for sessions changed since the last sweep.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path

from ..store import eventlog
from ..store import state as state_mod
from ..core.clock import parse_ts
from ..store.session import spooled
from ..core.paths import Layout, reachable
from ..upkeep import sweep

LARGE_MB = 10.0
# Failed checks that mean the session's data is damaged (others: resources, slow agents...).
CORRUPTING_CHECKS = frozenset({"session_validity", "state_consistency", "persistence_integrity",
                               "event_processing", "dependency_resolution"})
_STATE_NAME = re.compile(r"^session-(.+)\.json$")
_LOG_NAME = re.compile(r"^events-(.+)\.jsonl$")


def session_names(layout: Layout) -> list[str]:
    """The file-name ids of every session with a state file or an event log (not the files of
    older versions named after a plain id: `paths.reachable`)."""
    try:
        names = os.listdir(layout.state_dir)
    except FileNotFoundError:
        return []
    found = set()
    for name in names:
        match = _STATE_NAME.match(name) or _LOG_NAME.match(name)
        if match and not name.endswith(".snapshot.json") and reachable(match.group(1)):
            found.add(match.group(1))
    return sorted(found)


def inspect(layout: Layout, name: str, now: float | None = None, stale_hours: float = 24,
            healthy: dict | None = None, waiting: int = 0) -> dict:
    """One session's report: status, sizes, last activity, issues (one plain line each).
    `healthy`: the last sweep's fingerprints of the sessions it found healthy; `waiting`: its
    records in the spool."""
    now = time.time() if now is None else now
    state_path, log_path = layout.session_file(name), layout.event_log(name)
    report = {"session": name, "file": state_path.name, "status": "healthy", "large": False,
              "size_mb": 0.0, "last_activity": None, "spooled": waiting, "issues": []}
    issues: list[str] = report["issues"]
    if waiting:
        issues.append(f"{waiting} spooled event(s) not in the log yet (its hooks found the session busy)")
    corrupted = False
    size = sum(_size(p) for p in (state_path, log_path))
    report["size_mb"] = round(size / (1024 * 1024), 3)

    state = None
    try:
        state = state_mod.load(state_path)
    except state_mod.StateUnreadable as exc:
        corrupted = True
        issues.append(str(exc))
    except OSError as exc:
        corrupted = True
        issues.append(f"{state_path.name}: unreadable ({exc.strerror or exc})")
    if state is None and not corrupted:
        issues.append("no state snapshot (rebuilt from the event log by the next hook)")
    if state is not None:
        # the spec's health checks (lifeguard.health): schema, consistency, log integrity...
        deep = (healthy or {}).get(name) != sweep.fingerprint(layout, name)
        for result in _health(layout, name, state, deep):
            if result.status == "pass":
                continue
            issues.append(f"{result.name}: {result.message}")
            corrupted = corrupted or (result.status == "fail" and result.name in CORRUPTING_CHECKS)
    else:
        damaged = _damaged_log_lines(log_path)
        if damaged:
            corrupted = True
            shown = ", ".join(map(str, damaged[:5])) + (" ..." if len(damaged) > 5 else "")
            issues.append(f"{log_path.name}: {len(damaged)} damaged line(s) (line {shown})")

    last = _last_activity(state, state_path, log_path)
    report["last_activity"] = last[1]
    if corrupted:
        report["status"] = "corrupted"
    elif last[0] is not None and now - last[0] > stale_hours * 3600:
        report["status"] = "stale"
        issues.append(f"no activity for {(now - last[0]) / 3600:.1f} hours")
    if size > LARGE_MB * 1024 * 1024:
        report["large"] = True
        issues.append(f"large: {report['size_mb']:.1f} MB (over {LARGE_MB:g} MB)")
    return report


def analyze(layout: Layout, ui=None, now: float | None = None) -> dict:
    from ..config.load import load

    waiting = spooled(layout)
    names = sorted(set(session_names(layout)) | set(waiting))
    items = ui.progress(names, "Analysing sessions") if ui is not None else names
    stale_hours = float(load(layout)["limits"]["archive_idle_hours"])
    healthy = sweep.known_healthy(layout)
    details = [inspect(layout, name, now, stale_hours, healthy, waiting.get(name, 0)) for name in items]
    count = lambda status: sum(1 for d in details if d["status"] == status)  # noqa: E731
    return {
        "state_dir": str(layout.state_dir),
        "total_sessions": len(details),
        "healthy_sessions": count("healthy"),
        "corrupted_sessions": count("corrupted"),
        "stale_sessions": count("stale"),
        "stale_hours": stale_hours,
        "large_sessions": sum(1 for d in details if d["large"]),
        "quarantined_files": _quarantined(layout),
        "spooled_events": sum(waiting.values()),
        "details": details,
    }


def run(args, layout: Layout, ui) -> int:
    report = analyze(layout, ui)
    if args.json:
        ui.raw(json.dumps(report, indent=2))
        return 1 if report["corrupted_sessions"] else 0
    ui.say(f"State folder: {report['state_dir']}")
    ui.table("Health summary", ["Metric", "Count"], [
        ("Total sessions", report["total_sessions"]),
        ("Healthy", report["healthy_sessions"]),
        ("Corrupted", report["corrupted_sessions"]),
        (f"Stale (no activity {report['stale_hours']:g} h)", report["stale_sessions"]),
        (f"Large (> {LARGE_MB:g} MB)", report["large_sessions"]),
        ("Files in quarantine", report["quarantined_files"]),
        ("Spooled events", report["spooled_events"]),
    ])
    attention = [d for d in report["details"] if d["status"] != "healthy" or d["large"] or d["spooled"]]
    if attention:
        ui.table("Sessions needing attention", ["Session file", "Status", "Size (MB)", "Last activity", "Issues"],
                 [(d["file"], d["status"] + (", large" if d["large"] else ""), f"{d['size_mb']:.2f}",
                   d["last_activity"], d["issues"]) for d in attention])
    if report["spooled_events"]:
        ui.say(f"Bring the spooled events into their logs with: {args.tool} repair --all", style="bold")
    if report["corrupted_sessions"]:
        ui.say(f"Repair them with: {args.tool} repair --all   (originals are kept in quarantine)", style="bold")
        return 1
    ui.say("No corrupted sessions.", style="green")
    return 0


# -- helpers ---------------------------------------------------------------------------


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _health(layout: Layout, name: str, state: dict, deep: bool) -> list:
    from ..features.registry import FEATURES
    from ..upkeep import checks as health

    # without pydantic (a bare python3 when uv is broken) the checks fall back to the
    # structural ones instead of reporting every session as failing the schema
    full = deep and importlib.util.find_spec("pydantic") is not None
    return health.run_checks(layout, name, FEATURES, full=full, state=state)


def _damaged_log_lines(path: Path) -> list[int]:
    report = eventlog.ReadReport()
    try:
        for _ in eventlog.iter_records(path, report):
            pass
    except OSError:
        return [0]
    return report.damaged_lines


def _last_activity(state: dict | None, *paths: Path) -> tuple[float | None, str | None]:
    """(epoch seconds, as shown) of the last activity: the state's, else the files' mtime."""
    try:
        text = state["session"]["lifecycle"]["last_activity"]  # type: ignore[index]
    except (TypeError, KeyError):
        text = None
    seconds = parse_ts(text)
    if seconds is not None:
        return seconds, str(text)
    times = []
    for path in paths:
        try:
            times.append(os.lstat(path).st_mtime)
        except OSError:
            pass
    if not times:
        return None, None
    newest = max(times)
    return newest, time.strftime("%Y-%m-%dT%H:%M:%SZ (file time)", time.gmtime(newest))


def _quarantined(layout: Layout) -> int:
    try:
        return sum(1 for n in os.listdir(layout.quarantine_dir) if n != "index.jsonl")
    except OSError:
        return 0
