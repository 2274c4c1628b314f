"""`incidents`: what lifeguard did, newest first.

Sources: every event log's records that carry notices (loops stopped, repairs, denials...)
or a fault, and `state/faults.jsonl` (failed-open invocations, including those that could
not reach a session's log, such as timeouts). A fault recorded in both is shown once.
"""

from __future__ import annotations

import json
import os

from .. import eventlog, fsutil
from ..paths import Layout, safe_name
from .analyze import session_names


def collect(layout: Layout, session: str | None = None) -> list[dict]:
    names = [safe_name(session)] if session else session_names(layout)
    items: list[dict] = []
    for name in names:
        items.extend(_from_log(layout, name))
    items.extend(_from_faults(layout, safe_name(session) if session else None))
    items = _dedupe(items)
    items.sort(key=lambda i: (i.get("ts") or "", i.get("seq") or 0), reverse=True)
    return items


def run(args, layout: Layout, ui) -> int:
    items = collect(layout, args.session)
    shown = items[: args.limit] if args.limit else items
    if args.json:
        ui.raw(json.dumps(shown, indent=2))
        return 0
    where = f"session {args.session}" if args.session else "all sessions"
    if not items:
        ui.say(f"No incidents recorded for {where} in {layout.state_dir}.")
        return 0
    ui.table(f"Incidents, {where}, newest first ({len(shown)} of {len(items)})",
             ["Time", "Session", "Event", "Code", "Kind", "What happened"],
             [(i.get("ts"), i.get("session"), i.get("event"), i.get("code"), i.get("kind"), i.get("message"))
              for i in shown])
    return 0


def _from_log(layout: Layout, name: str) -> list[dict]:
    out = []
    path = layout.state_dir / f"events-{name}.jsonl"
    for record in eventlog.iter_records(path):
        base = {"ts": record.get("ts"), "session": name, "seq": record.get("seq"), "event": record.get("hook") or record.get("event")}
        for notice in record.get("notices") or ():
            if isinstance(notice, dict):
                out.append({**base, "code": notice.get("code"), "kind": notice.get("kind"), "message": notice.get("message")})
        fault = record.get("fault")
        if isinstance(fault, dict):
            out.append({**base, "code": fault.get("code"), "kind": "fault", "message": fault.get("message")})
    return out


def _from_faults(layout: Layout, name: str | None) -> list[dict]:
    try:
        data = fsutil.read_bytes_nofollow(layout.faults_log)
    except OSError:
        return []
    out = []
    for line in data.splitlines():
        try:
            fault = json.loads(line)
        except ValueError:
            continue
        if not isinstance(fault, dict):
            continue
        session = fault.get("session")
        session = safe_name(session) if isinstance(session, str) else None
        if name is not None and session != name:
            continue
        message = str(fault.get("message") or "")
        if fault.get("elapsed_ms") is not None:
            message += f" (after {fault['elapsed_ms']} ms)"
        out.append({"ts": fault.get("ts"), "session": session or "-", "seq": None, "event": fault.get("event"),
                    "code": fault.get("code"), "kind": "fault", "message": message, "source": os.path.basename(layout.faults_log)})
    return out


def _dedupe(items: list[dict]) -> list[dict]:
    """A fault is in faults.jsonl and (usually) in its session's log: keep the log's copy."""
    logged = {(i["session"], i.get("event"), i.get("code")) for i in items if i["kind"] == "fault" and "source" not in i}
    out = []
    for item in items:
        if "source" in item and (item["session"], item.get("event"), item.get("code")) in logged:
            # same fault if a log copy exists within the same second
            twins = [i for i in items if "source" not in i and i["kind"] == "fault" and i["session"] == item["session"]
                     and i.get("code") == item.get("code") and str(i.get("ts"))[:19] == str(item.get("ts"))[:19]]
            if twins:
                continue
        out.append(item)
    return out
