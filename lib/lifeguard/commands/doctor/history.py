"""What happened: open urgent alerts, the OpenTelemetry export's last run, your guarded hooks
that keep failing or timing out, and what the last sweep of the sessions did."""

from __future__ import annotations

import json
import re
import shlex
import time

from ...core.paths import Layout
from .findings import Finding, fail, ok, warn

URGENT_HEAD = re.compile(r"^(\S+)  session (\S+)  event #\S+ \((.*)\)$")  # alerts.escalate_to_human


def check_urgent(layout: Layout) -> list[Finding]:
    """urgent_alerts.txt holds alerts that need a person; it stays open until removed."""
    from ...alerts.escalation import URGENT_FILE

    path = layout.claude_dir / URGENT_FILE
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return [ok("no urgent alert open")]
    except OSError as exc:
        return [fail(f"{path} cannot be read ({exc.strerror})", f"check its permissions: ls -l {shlex.quote(str(path))}")]
    heads = [(m, lines[i + 2] if i + 2 < len(lines) else "") for i, line in enumerate(lines) if (m := URGENT_HEAD.match(line))]
    if not heads and not any(line.strip() for line in lines):
        return [ok("no urgent alert open")]
    newest, title = heads[-1] if heads else (None, "")
    about = f"; newest {newest.group(1)}, session {newest.group(2)}: {title.strip('|! ').strip()}" if newest else ""
    return [fail(f"{max(1, len(heads))} urgent alert(s) open in {path}{about}",
                 f"read it and follow its steps; then close it: rm {shlex.quote(str(path))} (alerts.log keeps the record)")]


def check_telemetry(layout: Layout) -> list[Finding]:
    """The OpenTelemetry export: off, or on and how its last run went (state/telemetry/export-status.json)."""
    from ...config import load as config
    from ...telemetry import export, trigger

    if not trigger.enabled(config.load(layout).get("telemetry")):
        return [ok("OpenTelemetry export off (telemetry.enabled in lifeguard.json, or LIFEGUARD_OTEL=1)")]
    script = shlex.quote(str(layout.claude_dir / "scripts" / "otel_export.py"))
    try:
        status = json.loads((layout.state_dir / "telemetry" / export.STATUS).read_text())
    except (OSError, ValueError):
        return [warn("OpenTelemetry export on, but no export has run yet",
                     f"run one now and read what it says: LIFEGUARD_OTEL=1 uv run --script {script} "
                     "(the first run downloads the OpenTelemetry packages)")]
    if status.get("error"):
        retry = f"; backing off, the next try at {status['next_try']}" if status.get("next_try") else ""
        return [warn(f"the last OpenTelemetry export ({status.get('ts')}) failed: {status['error']}{retry}",
                     "check OTEL_EXPORTER_OTLP_ENDPOINT in telemetry.environment of lifeguard.json; nothing is "
                     f"lost, the next export sends it (or now: LIFEGUARD_OTEL=1 uv run --script {script})")]
    return [ok(f"OpenTelemetry export on; the last one ({status.get('ts')}) was accepted")]


def check_guarded(layout: Layout) -> list[Finding]:
    """Your own guarded hooks (install.sh --guard-existing) that keep failing or timing out."""
    from ...guard import workspace

    now = time.time()
    findings: list[Finding] = []
    for _, entry in workspace.troubled(layout):
        label = f"your {entry.get('event') or ''} hook `{entry.get('label') or '?'}`".replace("  ", " ")
        timeouts, in_row = int(entry.get("timeouts") or 0), int(entry.get("failures_in_row") or 0)
        until = entry.get("open_until")
        paused = isinstance(until, (int, float)) and until > now
        facts = [f"timed out {timeouts} time(s)"] if timeouts else []
        if in_row:
            facts.append(f"failed the last {in_row} run(s) in a row")
        if paused:
            facts.append(f"paused for another {round(until - now)}s")
        fix = ("make it faster or raise its timeout in .claude/settings.json" if timeouts else
               "run it by hand to see why it fails (its input: .claude/state/events-*.jsonl, GuardedHook)")
        what = f"{label}: " + ", ".join(facts)
        findings.append(fail(what, fix) if paused or in_row >= 3 or timeouts >= 3 else warn(what, fix))
    return findings


def check_sweep(layout: Layout) -> list[Finding]:
    """What the last sweep of the other sessions did (upkeep/sweep.py), and what failed in it."""
    from ...upkeep import sweep

    last = sweep.last_report(layout)
    if last is None:
        return [ok("no sweep yet (the next session start runs one, after its answer)")]
    when = _ago(time.time() - float(last.get("finished") or 0))
    did = (f"archived {len(last.get('archived') or ())} idle session(s), repaired {len(last.get('repairs') or ())}, "
           f"removed {last.get('locks_removed', 0)} stray lock file(s)")
    failed = last.get("failed") or []
    if failed:
        return [warn(f"the last sweep ({when}) {did}; a step failed: {'; '.join(failed)[:300]}",
                     "it is tried again at the next session start; if it keeps failing, see the step named")]
    return [ok(f"the last sweep ({when}) {did}")]


def _ago(seconds: float) -> str:
    for below, unit, name in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
        if seconds < below:
            return f"{seconds / unit:.0f} {name} ago"
    return f"{seconds / 86400:.0f} days ago"
