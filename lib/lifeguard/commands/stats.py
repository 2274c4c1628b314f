"""`stats`: a session's numbers: tools, hook latency, state queries, session starts, error rate.

Read from the session's event log (what happened) and the hook samples (what lifeguard's hooks
cost, `state/telemetry/samples.jsonl`); nothing is changed. Without --session, the session that
was active last. `--json` prints every figure; `--html FILE` writes one self-contained page (no
scripts, no external files) with the same tables and the charts drawn in SVG.
"""

from __future__ import annotations

import html
import json
import os

from ..config import load as config_mod
from ..core.paths import Layout, safe_name
from ..store import eventlog
from ..telemetry import measures, samples
from .analyze import session_names

CHART_WIDTH = 60
CHART_HEIGHT = 6
BARS = " ▁▂▃▄▅▆▇█"


def run(args, layout: Layout, ui) -> int:
    name = safe_name(args.session) if args.session else latest_session(layout)
    if name is None:
        ui.say(f"No sessions recorded in {layout.state_dir}.")
        return 0
    log = layout.event_log(name)
    if not log.exists():
        ui.warn(f"lifeguard: no event log for session {args.session} in {layout.state_dir} "
                f"(sessions: {', '.join(session_names(layout)[-5:]) or 'none'})")
        return 1
    cfg = config_mod.load(layout)
    report = build(layout, name, cfg)
    if args.html:
        with open(args.html, "w", encoding="utf-8") as f:
            f.write(render_html(report))
        ui.say(f"Wrote {args.html}")
    if args.json:
        ui.raw(json.dumps(report, indent=2))
    elif not args.html:
        show(report, ui)
    return 0


def latest_session(layout: Layout) -> str | None:
    """The session whose event log changed last."""
    best, newest = None, -1.0
    for name in session_names(layout):
        try:
            mtime = os.stat(layout.event_log(name)).st_mtime
        except OSError:
            continue
        if mtime > newest:
            best, newest = name, mtime
    return best


def build(layout: Layout, name: str, cfg: dict) -> dict:
    """Every figure of one session, as plain data (what --json prints)."""
    alerts = cfg.get("alerts") or {}
    tally = measures.Tally(int(alerts.get("rate_window_events", 50)))
    for record in eventlog.iter_records(layout.event_log(name)):
        tally.add_record(record)
    for sample in samples.read_all(layout.state_dir):
        if safe_name(str(sample.get("s"))) == name:
            tally.add_sample(sample)

    def spread(values: list[float]) -> dict:
        return {"count": len(values), "p50_ms": measures.percentile(values, 50),
                "p95_ms": measures.percentile(values, 95), "max_ms": max(values) if values else None}

    tools = {tool: {"calls": per["calls"], "failures": per["failures"],
                    "error_rate_percent": round(100.0 * per["failures"] / per["calls"], 1) if per["calls"] else 0.0,
                    **{k: v for k, v in spread(per["ms"]).items() if k != "count"}}
             for tool, per in sorted(tally.tools.items(), key=lambda kv: -kv[1]["calls"])}
    thresholds = alerts.get("thresholds") or {}
    return {
        "session": name,
        "events": tally.events,
        "first": tally.first_ts,
        "last": tally.last_ts,
        "tools": tools,
        "hooks": {event: spread(values) for event, values in sorted(tally.hooks.items())},
        "state_query": spread(tally.queries),
        "session_init": {**spread(tally.inits), "times_ms": tally.inits},
        "subagent_spawn": spread(tally.spawns),
        "hook_timeouts": sum(tally.counter(measures.HOOK_TIMEOUTS).values()),
        "loops_warned": tally.counter(measures.LOOPS_WARNED),
        "loops_refused": tally.counter(measures.LOOPS_REFUSED),
        "breaker_trips": tally.counter(measures.BREAKER_TRIPS),
        "repairs": tally.counter(measures.REPAIRS),
        "error_rate": {"window_calls": tally.window, "series": [round(rate, 1) for _ts, rate in tally.error_rates],
                       "thresholds": thresholds.get("error_rate_percent")},
        "state_folder_bytes": measures.folder_bytes(layout.state_dir),
    }


# -- terminal --------------------------------------------------------------------------------


def show(report: dict, ui) -> None:
    ui.say(f"Session {report['session']}: {report['events']} events, {report['first'] or '?'} to {report['last'] or '?'}")
    ui.say("")
    if report["tools"]:
        ui.table("Tools (latency: PreToolUse to its outcome)", ["Tool", "Calls", "Failures", "Error rate", "p50 ms", "p95 ms"],
                 [(tool, t["calls"], t["failures"], f"{t['error_rate_percent']:.1f}%", _ms(t["p50_ms"]), _ms(t["p95_ms"]))
                  for tool, t in report["tools"].items()])
    else:
        ui.say("No tool calls recorded.")
    if report["hooks"]:
        ui.table("Hooks (lifeguard's own time per hook)", ["Event", "Runs", "p50 ms", "p95 ms", "max ms"],
                 [(event, h["count"], _ms(h["p50_ms"]), _ms(h["p95_ms"]), _ms(h["max_ms"]))
                  for event, h in report["hooks"].items()])
    else:
        ui.say("No hook timings recorded (state/telemetry/samples.jsonl).")
    q, init, spawn = report["state_query"], report["session_init"], report["subagent_spawn"]
    ui.say(f"State query: p50 {_ms(q['p50_ms'])} ms, p95 {_ms(q['p95_ms'])} ms over {q['count']} hooks")
    ui.say(f"Session init: {init['count']} start(s)" + (f", {', '.join(_ms(v) for v in init['times_ms'][-5:])} ms"
                                                        if init["count"] else ""))
    if spawn["count"]:
        ui.say(f"Subagent spawn (start to first event): p50 {_ms(spawn['p50_ms'])} ms, p95 {_ms(spawn['p95_ms'])} ms "
               f"over {spawn['count']}")
    acted = [("loops warned", report["loops_warned"]), ("loops refused", report["loops_refused"]),
             ("breaker trips", report["breaker_trips"]), ("repairs", report["repairs"])]
    parts = [f"{label} {sum(by.values())} ({', '.join(f'{k} {n}' for k, n in sorted(by.items()))})"
             for label, by in acted if by]
    if report["hook_timeouts"]:
        parts.append(f"hook timeouts {report['hook_timeouts']}")
    ui.say("Lifeguard acted: " + ("; ".join(parts) if parts else "nothing to report"))
    ui.say(f"State folder: {_size(report['state_folder_bytes'])}")
    rate = report["error_rate"]
    if rate["series"]:
        ui.say("")
        ui.say(f"Error rate over the session (last {rate['window_calls']} calls at each call; "
               f"{len(rate['series'])} calls):")
        for line in chart(rate["series"]):
            ui.say(line)


def chart(series: list[float], width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> list[str]:
    """A small bar chart of percentages: one column per call, or per group of calls (their highest)."""
    step = max(1, -(-len(series) // width))
    columns = [max(series[i:i + step]) for i in range(0, len(series), step)]
    top = max(10.0, max(columns))  # at least 0..10%, so a low rate is not drawn as a wall
    levels = height * (len(BARS) - 1)
    filled = [round(value / top * levels) for value in columns]
    lines = []
    for row in range(height - 1, -1, -1):
        cells = "".join(BARS[min(len(BARS) - 1, max(0, f - row * (len(BARS) - 1)))] for f in filled)
        label = f"{top:5.0f}% |" if row == height - 1 else (f"{0:5.0f}% |" if row == 0 else "       |")
        lines.append(f"{label}{cells}")
    lines.append("       +" + "-" * len(columns) + f"  ({step} call{'s' if step > 1 else ''} per column)")
    return lines


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# -- HTML ------------------------------------------------------------------------------------


def render_html(report: dict) -> str:
    """One self-contained page: the tables, and the charts as inline SVG."""
    e = html.escape
    tools = "".join(f"<tr><td>{e(tool)}</td><td>{t['calls']}</td><td>{t['failures']}</td>"
                    f"<td>{t['error_rate_percent']:.1f}%</td><td>{_ms(t['p50_ms'])}</td><td>{_ms(t['p95_ms'])}</td></tr>"
                    for tool, t in report["tools"].items())
    hooks = "".join(f"<tr><td>{e(event)}</td><td>{h['count']}</td><td>{_ms(h['p50_ms'])}</td><td>{_ms(h['p95_ms'])}</td>"
                    f"<td>{_ms(h['max_ms'])}</td></tr>" for event, h in report["hooks"].items())
    q, init = report["state_query"], report["session_init"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lifeguard stats: {e(report['session'])}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
h2{{margin-top:1.5em}}svg text{{font:11px system-ui,sans-serif}}</style></head><body>
<h1>lifeguard stats</h1>
<p>Session <code>{e(report['session'])}</code>: {report['events']} events, {e(str(report['first']))} to {e(str(report['last']))}.
State folder: {_size(report['state_folder_bytes'])}.</p>
<h2>Error rate over the session</h2>
<p>Share of failed tool calls among the last {report['error_rate']['window_calls']} at each call.</p>
{_svg_line(report['error_rate']['series'], report['error_rate'].get('thresholds'))}
<h2>Tools</h2>
<table><tr><th>Tool</th><th>Calls</th><th>Failures</th><th>Error rate</th><th>p50 ms</th><th>p95 ms</th></tr>{tools}</table>
<h2>Hooks: lifeguard's own time</h2>
{_svg_bars({event: h['p95_ms'] or 0 for event, h in report['hooks'].items()}, 'p95 ms')}
<table><tr><th>Event</th><th>Runs</th><th>p50 ms</th><th>p95 ms</th><th>max ms</th></tr>{hooks}</table>
<p>State query: p50 {_ms(q['p50_ms'])} ms, p95 {_ms(q['p95_ms'])} ms over {q['count']} hooks.
Session init: {', '.join(_ms(v) for v in init['times_ms']) or 'none'} ms.</p>
</body></html>
"""


def _svg_line(series: list[float], thresholds: dict | None, width: int = 640, height: int = 160) -> str:
    if not series:
        return "<p>No tool calls recorded.</p>"
    top = max(10.0, max(series))
    x = (lambda i: 40 + (width - 50) * (i / max(1, len(series) - 1)))
    y = (lambda v: 10 + (height - 30) * (1 - v / top))
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(series))
    marks = ""
    for name, colour in (("warning", "#d90"), ("critical", "#c00")):
        limit = (thresholds or {}).get(name)
        if isinstance(limit, (int, float)) and limit <= top:
            marks += (f'<line x1="40" x2="{width - 10}" y1="{y(limit):.1f}" y2="{y(limit):.1f}" stroke="{colour}" '
                      f'stroke-dasharray="4 3"/><text x="{width - 10}" y="{y(limit) - 3:.1f}" text-anchor="end" '
                      f'fill="{colour}">{name} {limit:g}%</text>')
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="error rate">'
            f'<line x1="40" x2="40" y1="10" y2="{height - 20}" stroke="#888"/>'
            f'<line x1="40" x2="{width - 10}" y1="{height - 20}" y2="{height - 20}" stroke="#888"/>'
            f'<text x="35" y="{y(top) + 4:.1f}" text-anchor="end">{top:.0f}%</text>'
            f'<text x="35" y="{y(0) + 4:.1f}" text-anchor="end">0%</text>{marks}'
            f'<polyline fill="none" stroke="#36c" stroke-width="2" points="{points}"/>'
            f'<text x="{width - 10}" y="{height - 5}" text-anchor="end">{len(series)} calls</text></svg>')


def _svg_bars(values: dict[str, float], unit: str, width: int = 640) -> str:
    if not values:
        return ""
    top = max(values.values()) or 1.0
    row = 20
    bars = "".join(f'<text x="150" y="{i * row + 14}" text-anchor="end">{html.escape(name)}</text>'
                   f'<rect x="155" y="{i * row + 3}" height="14" width="{(width - 260) * v / top:.1f}" fill="#36c"/>'
                   f'<text x="{160 + (width - 260) * v / top:.1f}" y="{i * row + 14}">{v:.1f} {unit}</text>'
                   for i, (name, v) in enumerate(values.items()))
    return f'<svg width="{width}" height="{len(values) * row + 6}" role="img" aria-label="hook latency">{bars}</svg>'
