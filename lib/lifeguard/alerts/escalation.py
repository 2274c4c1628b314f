"""Alerts: how loud an incident is, and what lifeguard does about it.

An alert is an incident (a notice's code, severity and message) given a level, which is its
severity (docs/severity.md): the notice's own when its producer knew the consequence, else its
code's default (codes.py).

    CRITICAL  data could not be recovered, or a person must act now
    HIGH      lifeguard could not repair, and a feature is off
    MEDIUM    bytes holding recorded data went to quarantine; degraded resources
    LOW       bytes that were never part of the record went to quarantine; warnings
    INFO      repaired or tidied, nothing lost

Each level runs its escalation steps from config (`alerts.escalation`), in order:

    log                append one JSON line to .claude/alerts.log (redacted, rotated)
    notify_user        a compact systemMessage with this workspace's first fix
    attempt_recovery   validate / back up / repair the session state (state codes only)
    escalate_to_human  the full framed message appended to .claude/urgent_alerts.txt and a
                       prominent systemMessage pointing at it
    emergency_stop     `continue: false` with the reason, only when the session's incidents
                       hold at least `critical_count` CRITICAL ones within `window_seconds`

The count behind an emergency stop is read from the session state's incident ring, which
the reducer builds from the logged records alone: the same log always gives the same count.
Stdlib only at module level; this runs inside a hook when a notice escalates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import codes, render
from .templates import template
from ..core import clock, fsutil
from ..store import record as record_mod
from ..core.paths import Layout

LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
STEPS = ("log", "notify_user", "attempt_recovery", "escalate_to_human", "emergency_stop")
MESSAGE_CHARS = 500  # an alert's message, cut at a word

# Codes whose recovery is about the session state (validate, back up, repair).
STATE_CODES = frozenset({codes.SESSION_CORRUPTED, codes.STATE_VALIDATION_FAILED, codes.LOG_TORN_LINE, codes.STATE_CONFLICT})

ALERTS_LOG = "alerts.log"
URGENT_FILE = "urgent_alerts.txt"
ALERT_BACKUP_NAME = "alert"
ALERT_BACKUPS_KEPT = 5


def level_for(code: str, severity: str | None = None) -> str:
    """The alert level of an incident: its severity (given, else its code's default) in capitals."""
    return codes.severity_of({"code": code, "severity": severity}).upper()


# -- escalation ----------------------------------------------------------------------


def escalate(notices: list[dict], state: dict, record: dict, section: dict, layout: Layout,
             session_id: str) -> list[dict]:
    """Run the escalation steps for each notice of a committed record; returns new notices."""
    out: list[dict] = []
    halted = False
    for notice in notices:
        alert = from_notice(notice, record, session_id)
        steps = list(section["escalation"].get(alert["level"], ()))
        for step in steps:
            if step == "log":
                continue  # written last, so the line says what the other steps did
            if step == "emergency_stop":
                stop = None if halted else emergency_stop(alert, state, record, section, layout)
                if stop:
                    out.append(stop)
                    halted = True
                    alert["stopped"] = True
                continue
            out.extend(STEP_FUNCTIONS[step](alert, state, section, layout))
        alert["steps"] = steps
        if "log" in steps:
            log_alert(alert, state, section, layout)
    return out


def from_notice(notice: dict, record: dict, session_id: str) -> dict:
    code = str(notice.get("code") or codes.INTERNAL_ERROR)
    severity = codes.severity_of({**notice, "code": code})
    alert = {
        "ts": record.get("ts") or clock.now_iso(),
        "level": severity.upper(),
        "code": code,
        "severity": severity,
        "session": session_id,
        "seq": record.get("seq"),
        "event": record.get("event"),
        "kind": notice.get("kind"),
        "message": render.cut(record_mod.scrub(str(notice.get("message") or notice.get("user") or notice.get("model") or "")),
                                MESSAGE_CHARS),
        "recovery": None,
    }
    if notice.get("level") in ("warning", "critical"):  # a live threshold crossed (features/metrics.py)
        alert["threshold"] = notice["level"]
    return alert


def log_alert(alert: dict, state: dict, section: dict, layout: Layout) -> list[dict]:
    """Step `log`: one JSON line in .claude/alerts.log, rotated past `log_max_bytes`."""
    path = layout.claude_dir / ALERTS_LOG
    line = json.dumps(alert, ensure_ascii=True, separators=(",", ":"), default=str) + "\n"
    # not fsynced: alerts.log is a report; the incident itself is durable in the event log
    _append_rotated(path, line.encode("ascii"), int(section.get("log_max_bytes", 1 << 20)), durable=False)
    return []


def notify_user(alert: dict, state: dict, section: dict, layout: Layout) -> list[dict]:
    """Step `notify_user`: a compact line for the user with this workspace's first fix."""
    # a notice the user already saw is not repeated: the line adds the level and the fix
    details = "" if alert.get("kind") == "user" else alert["message"]
    text = render.render_line(alert["code"], layout, details=details, level=alert["level"])
    if alert.get("recovery"):
        text += f" (recovery: {alert['recovery']})"
    return [{"code": alert["code"], "kind": "user", "user": text}]


def attempt_recovery(alert: dict, state: dict, section: dict, layout: Layout) -> list[dict]:
    """Step `attempt_recovery`: for state codes, check the state and keep a known-good backup.

    The store has already rebuilt a damaged state from the log when it loaded it; here the
    result is validated against the schema (pydantic, imported only now: this is rare) and
    backed up, so `state_recovery.py restore` has a good point to go back to. A state that
    still fails validation is left for `state_recovery.py repair`, which the message names.
    """
    if alert["code"] not in STATE_CODES:
        alert["recovery"] = "none automatic for this code"
        return []
    try:
        from ..upkeep.schema import validate_state

        problems = validate_state(state)
    except ImportError:  # pydantic missing from this environment: skip the check, say so
        problems = None
    if problems:
        alert["recovery"] = f"state still invalid ({problems[0]}); run state_recovery.py repair"
        return []
    try:
        from ..upkeep import backup

        folder = backup.create_backup(layout, ALERT_BACKUP_NAME, reason=f"{alert['code']} alert")
        backup.prune_backups(layout, ALERT_BACKUPS_KEPT, ALERT_BACKUP_NAME)
        checked = "state validated" if problems == [] else "state not validated (pydantic unavailable)"
        alert["recovery"] = f"{checked}; backed up to {folder.name}"
    except (OSError, ValueError) as exc:
        alert["recovery"] = f"backup failed: {exc}"
    return []


def escalate_to_human(alert: dict, state: dict, section: dict, layout: Layout) -> list[dict]:
    """Step `escalate_to_human`: the full message in urgent_alerts.txt and a prominent notice."""
    path = layout.claude_dir / URGENT_FILE
    details = alert["message"]
    if alert.get("recovery"):
        details += f" | automatic recovery: {alert['recovery']}"
    block = render.render_block(alert["code"], layout, details=details, level=alert["level"])
    head = f"{alert['ts']}  session {alert['session']}  event #{alert.get('seq')} ({alert.get('event')})"
    _append_rotated(path, f"\n{head}\n{block}\n".encode("utf-8"), int(section.get("log_max_bytes", 1 << 20)))
    title = template(alert["code"]).title
    text = (f"!!! URGENT lifeguard {alert['level']} [{alert['code']}] {title}: manual intervention needed. "
            f"Read {render.guidance(layout)['urgent']} for what happened and the commands to fix it.")
    return [{"code": alert["code"], "kind": "user", "user": text}]


def emergency_stop(alert: dict, state: dict, record: dict, section: dict, layout: Layout) -> dict | None:
    """Step `emergency_stop`: a halt notice only after repeated CRITICAL incidents."""
    rule = section["emergency_stop"]
    recent = critical_incidents(state, record.get("ts") or clock.now_iso(), rule["window_seconds"])
    if len(recent) < rule["critical_count"]:
        return None
    names = ", ".join(sorted({str(i.get("code")) for i in recent}))
    minutes = rule["window_seconds"] / 60
    steps = render.guidance(layout)
    text = (f"lifeguard stopped the session: {len(recent)} critical failures ({names}) within "
            f"{minutes:g} minutes. Your data is kept. Check it with: {steps['analyze']}; "
            f"then repair: {steps['repair_all']}; details in {steps['urgent']}.")
    return {"code": alert["code"], "kind": "halt", "user": text}


def critical_incidents(state: dict, now_ts: str, window_seconds: float) -> list[dict]:
    """The session's CRITICAL incidents no older than `window_seconds` before `now_ts`."""
    incidents = ((state.get("observability") or {}).get("incidents")) or []
    now = clock.parse_ts(now_ts)
    out = []
    for incident in incidents:
        if not isinstance(incident, dict) or codes.severity_of(incident) != "critical":
            continue
        when = clock.parse_ts(incident.get("ts"))
        if now is not None and when is not None and 0 <= now - when <= window_seconds:
            out.append(incident)
    return out


STEP_FUNCTIONS = {
    "log": log_alert,
    "notify_user": notify_user,
    "attempt_recovery": attempt_recovery,
    "escalate_to_human": escalate_to_human,
}


# -- helpers ---------------------------------------------------------------------------


def _append_rotated(path: Path, data: bytes, max_bytes: int, durable: bool = True) -> None:
    try:
        if os.lstat(path).st_size + len(data) > max_bytes:
            os.replace(path, path.with_name(path.name + ".1"))  # one older file is kept
    except FileNotFoundError:
        pass
    if durable:
        fsutil.append_durable(path, data)
        return
    fd = fsutil.open_append(path)  # one O_APPEND write; no fsync on the hot path
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_log(layout: Layout) -> list[dict]:
    """Every alert in .claude/alerts.log (and its rotated predecessor), oldest first."""
    out = []
    for path in (layout.claude_dir / (ALERTS_LOG + ".1"), layout.claude_dir / ALERTS_LOG):
        try:
            data = fsutil.read_bytes_nofollow(path)
        except OSError:
            continue
        for line in data.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
    return out
