"""`incidents`: what lifeguard did, newest first.

Sources: every event log's records that carry notices (loops stopped, repairs, denials...)
or a fault, and `state/faults.jsonl` (failed-open invocations, including those that could
not reach a session's log, such as timeouts). A fault recorded in both is shown once.

On screen each incident is a header line (how long ago, the session's short id, the code,
the event, "x3" for repeats of the same thing in the same session) and its message wrapped
between words to the terminal's width (80, 100, ... columns; `COLUMNS` is honoured).
`--session` takes an id or its first characters. `--json` lists every incident in full.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import time

from ..store import eventlog
from ..core import fsutil
from ..core.clock import parse_ts
from ..core.paths import Layout, safe_name
from ..telemetry import measures
from .analyze import session_names

SHORT_ID = 8
MESSAGE_LINES = 4  # a longer message is cut (at a word) with "..."; --json has it all
MIN_WIDTH, MAX_WIDTH = 60, 160
STORED_CHARS = 300  # an incident's message as the log keeps it (handlers._summary)
AGES = ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h"), (7 * 86400, 86400, "d"))  # (below, seconds per unit, unit)


def collect(layout: Layout, session: str | None = None) -> list[dict]:
    """Every incident, newest first; `session`: an id or a prefix of one."""
    names = matching_sessions(layout, session) if session else session_names(layout)
    items: list[dict] = []
    for name in names:
        items.extend(_from_log(layout, name))
    faults = _from_faults(layout)
    items.extend(f for f in faults if session is None or f["session"] in names or f["session"] == safe_name(session))
    items = _dedupe(items)
    items.sort(key=lambda i: (i.get("ts") or "", i.get("seq") or 0), reverse=True)
    return items


def matching_sessions(layout: Layout, session: str) -> list[str]:
    """The sessions whose id is `session` or starts with it."""
    names = session_names(layout)
    exact = safe_name(session)
    if exact in names:
        return [exact]
    return [n for n in names if n.startswith(session)]


def run(args, layout: Layout, ui) -> int:
    items = collect(layout, args.session)
    if args.json:
        ui.raw(json.dumps(items[: args.limit] if args.limit else items, indent=2))
        return 0
    if args.session:
        names = matching_sessions(layout, args.session)
        where = f"session {names[0]}" if len(names) == 1 else f"sessions starting with {args.session} ({len(names)})"
    else:
        where = "all sessions"
    if not items:
        ui.say(f"No incidents recorded for {where} in {layout.state_dir}.")
        return 0
    groups = group(items)
    shown = groups[: args.limit] if args.limit else groups
    width = max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size((100, 24)).columns))
    more = f", {len(groups) - len(shown)} older not shown (--limit 0: all)" if len(shown) < len(groups) else ""
    lines = [f"Incidents, {where}, newest first: {len(items)} ({len(groups)} after grouping repeats){more}", ""]
    for g in shown:
        lines.extend(render(g, width, time.time()))
    ui.raw("\n".join(lines))
    return 0


def group(items: list[dict]) -> list[dict]:
    """Repeats of one incident (same session, code, event and message but for its numbers)
    as one entry: the newest, with `count` and the oldest time `first_ts`. Newest first."""
    groups: dict[tuple, dict] = {}
    for item in items:  # newest first: the first seen of a kind is the one shown
        key = (item.get("session"), item.get("code"), item.get("event"), re.sub(r"\d+", "#", str(item.get("message") or "")))
        if key in groups:
            groups[key]["count"] += 1
            groups[key]["first_ts"] = item.get("ts")
        else:
            groups[key] = {**item, "count": 1, "first_ts": item.get("ts")}
    return list(groups.values())


def render(g: dict, width: int, now: float) -> list[str]:
    """One incident: a header line and its message wrapped between words, each line <= width."""
    session = str(g.get("session") or "-")
    parts = [ago(g.get("ts"), now).rjust(8), session[:SHORT_ID].ljust(SHORT_ID), str(g.get("code") or "?")]
    if g.get("event"):
        parts.append(str(g["event"]))
    if g["count"] > 1:
        parts.append(f"x{g['count']} (since {ago(g.get('first_ts'), now)})")
    header = "  ".join(parts)
    if len(header) > width:
        header = textwrap.shorten(header, width, placeholder="...")
    message = str(g.get("message") or "")
    if len(message) >= STORED_CHARS and " " in message:  # the log keeps 300 characters: drop the cut word
        message = message.rsplit(" ", 1)[0] + " ..."
    # only a "word" longer than a whole line (a long path) is split
    body = textwrap.wrap(message, width - 4, break_on_hyphens=False, max_lines=MESSAGE_LINES, placeholder=" ...")
    return [header] + ["    " + line for line in body] + [""]


def ago(ts: object, now: float) -> str:
    """`ts` (ISO 8601, UTC) as "12s ago", "5m ago", "3h ago", "2d ago", or its date when older."""
    then = parse_ts(str(ts))
    if then is None:
        return "?"
    seconds = max(0.0, now - then)
    for below, per, unit in AGES:
        if seconds < below:
            return f"{int(seconds // per)}{unit} ago"
    return str(ts)[:10]


def _from_log(layout: Layout, name: str) -> list[dict]:
    out = []
    path = layout.event_log(name)
    for record in eventlog.iter_records(path):
        base = {"ts": record.get("ts"), "session": name, "seq": record.get("seq"), "event": record.get("hook") or record.get("event")}
        out.extend({**base, **item} for item in measures.incidents(record))
    return out


def _from_faults(layout: Layout) -> list[dict]:
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
