"""Metrics feature: the spec's live alert thresholds, checked as the session goes, once per crossing.

Measured on the way (nothing extra read from disk):
- `state_query_time_ms`: this hook's state query (session lock, load, catch-up), every hook;
- `error_rate_percent` / `success_rate_percent`: over the last `alerts.rate_window_events`
  tool outcomes, once that many are in, at each outcome;
- `agent_spawn_time_ms`: SubagentStart to the subagent's first event of its own;
- `session_init_time_ms`: the SessionStart hook's work, from the handler's start (a cold
  process's imports are not session init; they show in the hook's duration) to its last
  after-commit step (this feature runs after the others, health's start-of-session sweep included).

Each measure has a level (ok, warning, critical) in the session state. A notice is raised only
when the level changes: a crossing into warning or critical is an alert (kind "alert": it goes
to the log and through the escalation in alerts.py, not to the model or the user), and a
return to ok a METRIC_RECOVERED note. The level is folded by `apply` from those notices alone,
so it replays from the log like the rest of the state, and a hook that stays over a threshold
says nothing more.
"""

from __future__ import annotations

import time

from ..alerts import thresholds
from ..core.clock import epoch
from ..telemetry import samples
from ..alerts import codes
from ..store.state import peek, section

OUTCOMES = ("PostToolUse", "PostToolUseFailure")
OUTCOMES_KEEP = 100  # the most alerts.rate_window_events may ask for (config_model.Alerts)
AGENTS_KEEP = 32
RECOVERED = codes.METRIC_RECOVERED


def annotate(inp: dict, record: dict, cfg: dict) -> None:
    if inp.get("agent_id") or record.get("event") == "SubagentStart":
        from ..core.clock import now_iso

        record.setdefault("ts", now_iso())  # the spawn time is taken from the records' times


def check(state: dict, record: dict, cfg: dict) -> tuple[list[dict], dict]:
    """(notices, decisions): the level a crossing changes travels in the notice itself (SUMMARY_FIELDS
    of hook/pipeline.py), so this check decides nothing else."""
    section = cfg.get("alerts") or {}
    if not section.get("enabled", True):
        return [], {}
    node = _read(state)
    measured: list[tuple[str, float]] = []
    if isinstance(samples.NOTE.get("q"), (int, float)):
        measured.append(("state_query_time_ms", samples.NOTE["q"]))
    event = record.get("event")
    if event in OUTCOMES and record.get("tool"):
        window = int(section.get("rate_window_events", 50))
        outcomes = (list(node.get("outcomes") or ()) + [event == "PostToolUse"])[-window:]
        if len(outcomes) >= window:
            success = 100.0 * sum(outcomes) / len(outcomes)
            measured += [("success_rate_percent", success), ("error_rate_percent", 100.0 - success)]
    agent = record.get("agent")
    began = (node.get("spawning") or {}).get(agent) if agent and event != "SubagentStart" else None
    when = epoch(record.get("ts")) or None  # 0.0: no readable time
    if isinstance(began, (int, float)) and when is not None:
        measured.append(("agent_spawn_time_ms", max(0.0, (when - began) * 1000)))
    return [n for metric, value in measured if (n := _crossing(node, metric, value, section)) is not None], {}


def after_commit(txn, record: dict, cfg: dict, layout) -> list[dict]:
    if record.get("event") != "SessionStart" or "h0" not in samples.NOTE:
        return []
    section = cfg.get("alerts") or {}
    if not section.get("enabled", True):
        return []
    took = (time.monotonic() - samples.NOTE["h0"]) * 1000
    notice = _crossing(_read(txn.state), "session_init_time_ms", took, section)
    return [notice] if notice is not None else []


def apply(state: dict, record: dict) -> None:
    event, agent = record.get("event"), record.get("agent")
    levels_changed = [n for n in record.get("notices") or () if isinstance(n, dict) and n.get("metric")]
    if not (event in OUTCOMES or agent or event == "SubagentStart" or levels_changed):
        return
    node = section(state, "observability", "metrics", "live")
    if event in OUTCOMES and record.get("tool"):
        outcomes = node.get("outcomes") if isinstance(node.get("outcomes"), list) else []
        node["outcomes"] = (outcomes + [event == "PostToolUse"])[-OUTCOMES_KEEP:]
    spawning = node.get("spawning") if isinstance(node.get("spawning"), dict) else {}
    if event == "SubagentStart" and agent and epoch(record.get("ts")):
        spawning[agent] = epoch(record.get("ts"))
        while len(spawning) > AGENTS_KEEP:
            spawning.pop(next(iter(spawning)))
    elif agent:
        spawning.pop(agent, None)  # its first event: measured by check
    node["spawning"] = spawning
    levels = node.get("levels") if isinstance(node.get("levels"), dict) else {}
    for notice in levels_changed:
        if notice.get("level") in ("warning", "critical"):
            levels[notice["metric"]] = notice["level"]
        else:
            levels.pop(notice["metric"], None)
    node["levels"] = levels


CONSEQUENCE = {"warning": "low", "critical": "medium"}


def _crossing(node: dict, metric: str, value: float, section: dict) -> dict | None:
    """A notice when `value` puts `metric` at another level than the session's; else None."""
    found = thresholds.evaluate(metric, value, section)
    level = found["severity"] if found else "ok"
    before = (node.get("levels") or {}).get(metric, "ok")
    if level == before:
        return None
    shown = round(value, 1)
    if found is None:
        return {"code": RECOVERED, "kind": "alert", "severity": "info", "metric": metric, "value": shown,
                "level": "ok", "message": f"{metric} is back within its thresholds ({shown:g}, was {before})"}
    # the threshold crossed is the level; the consequence (docs/severity.md) is degraded
    # performance, never data lost: medium past the critical threshold, low past the warning one
    return {"code": found["code"], "kind": "alert", "severity": CONSEQUENCE[level], "metric": metric, "value": shown,
            "level": level,
            "message": found["message"].replace(f"{value:g}", f"{shown:g}", 1)}


def _read(state: dict) -> dict:
    return peek(state, "observability", "metrics", "live")
