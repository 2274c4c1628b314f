"""The spec's alert thresholds (`alerts.thresholds` in lifeguard.json): where a measure stands.

`evaluate(metric, value, section)` is the alert for a value at or past its warning or critical
threshold (None below both); success_rate_percent is the one where lower is worse. Stdlib only
and no imports: features/metrics.py calls it on every hook.
"""

from __future__ import annotations
from . import codes

LOWER_IS_WORSE = frozenset({"success_rate_percent"})
PERFORMANCE_METRICS = frozenset({"session_init_time_ms", "state_query_time_ms", "agent_spawn_time_ms"})
RATE_METRICS = frozenset({"success_rate_percent", "error_rate_percent"})


def evaluate(metric: str, value: float, section: dict) -> dict | None:
    """An alert for `metric` at `value` if it crosses a threshold in `section`, else None."""
    limits = (section.get("thresholds") or {}).get(metric)
    if not isinstance(limits, dict):
        return None
    worse = (lambda v, t: v <= t) if metric in LOWER_IS_WORSE else (lambda v, t: v >= t)
    if worse(value, limits["critical"]):
        severity, limit = "critical", limits["critical"]
    elif worse(value, limits["warning"]):
        severity, limit = "warning", limits["warning"]
    else:
        return None
    if metric in PERFORMANCE_METRICS:
        code = codes.PERFORMANCE_DEGRADED
    elif metric in RATE_METRICS:
        code = codes.ERROR_RATE_HIGH
    else:
        code = codes.RESOURCE_EXHAUSTION
    relation = "at or below" if metric in LOWER_IS_WORSE else "at or above"
    return {"code": code, "severity": severity, "metric": metric, "value": value,
            "message": f"{metric} is {value:g}, {relation} the {severity} threshold {limit:g}"}


def rates(outcomes: list[bool], section: dict) -> list[dict]:
    """Alerts for the success and error rates over the last `rate_window_events` outcomes."""
    window = outcomes[-int(section.get("rate_window_events", 50)):]
    if not window:
        return []
    success = 100.0 * sum(window) / len(window)
    found = [evaluate("success_rate_percent", success, section), evaluate("error_rate_percent", 100.0 - success, section)]
    return [alert for alert in found if alert]
