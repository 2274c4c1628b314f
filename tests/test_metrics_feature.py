"""The spec's live thresholds (features/metrics.py): each crossing raises one alert through the
escalation (alerts.log), a hook that stays over a threshold raises nothing more, a return under it
is noted, and the levels replay from the log."""

from __future__ import annotations

import json

from planted import event, install

from lifeguard.alerts import escalation
from lifeguard.features.registry import FEATURES
from lifeguard.store import reducer

THRESHOLD_CODES = ("PERFORMANCE_DEGRADED", "ERROR_RATE_HIGH", "METRIC_RECOVERED")


def configure(layout, **alerts) -> None:
    config = json.loads(layout.config_file.read_text())
    for key, value in alerts.items():
        if key == "thresholds":
            for metric, limits in value.items():
                config["alerts"]["thresholds"][metric].update(limits)
        else:
            config["alerts"][key] = value
    layout.config_file.write_text(json.dumps(config))


def logged(layout, metric: str | None = None) -> list[tuple[str, str]]:
    """(code, threshold crossed, or severity for a recovery) of each threshold alert in alerts.log, oldest first."""
    return [(a["code"], a.get("threshold") or a["severity"]) for a in escalation.read_log(layout)
            if a["code"] in THRESHOLD_CODES and (metric is None or metric in a["message"])]


def outcome(layout, session: str, ok: bool, n: int) -> None:
    call = {"tool_name": "Bash", "tool_input": {"command": f"make test-{n}"}, "tool_use_id": f"t{n}"}
    event(layout, session, "PreToolUse", **call)
    if ok:
        event(layout, session, "PostToolUse", **call, tool_response={"stdout": "ok"})
    else:
        event(layout, session, "PostToolUseFailure", **call, error=f"Exit code 2\ntest-{n} failed")


def test_error_rate_alerts_once_per_crossing_and_replays(tmp_path) -> None:
    layout = install(tmp_path / "proj")
    configure(layout, rate_window_events=10,
              thresholds={"error_rate_percent": {"warning": 10, "critical": 30},
                          "success_rate_percent": {"warning": 50, "critical": 40}})
    event(layout, "s", "SessionStart", source="startup")
    n = 0
    for ok in [True] * 9:  # not 10 outcomes yet: no rate
        n += 1
        outcome(layout, "s", ok, n)
    assert logged(layout, "error_rate") == []
    for ok in [False, False, True, True]:  # 10% then 20%: warning, once
        n += 1
        outcome(layout, "s", ok, n)
    assert logged(layout, "error_rate") == [("ERROR_RATE_HIGH", "warning")]
    for ok in [False, False, True]:  # 30%, 40%, 40%: critical, once
        n += 1
        outcome(layout, "s", ok, n)
    assert logged(layout, "error_rate") == [("ERROR_RATE_HIGH", "warning"), ("ERROR_RATE_HIGH", "critical")]
    # past the critical threshold is degraded, not lost: medium, never urgent (docs/severity.md)
    assert [a["severity"] for a in escalation.read_log(layout) if a["code"] == "ERROR_RATE_HIGH"] == ["low", "medium"]
    assert not (layout.claude_dir / escalation.URGENT_FILE).exists()
    for ok in [True] * 10:  # the failures leave the window: back under critical, then under warning
        n += 1
        outcome(layout, "s", ok, n)
    assert logged(layout, "error_rate") == [("ERROR_RATE_HIGH", "warning"), ("ERROR_RATE_HIGH", "critical"),
                                            ("ERROR_RATE_HIGH", "warning"), ("METRIC_RECOVERED", "info")]
    assert logged(layout, "success_rate") == []  # never at or under 50%
    state = json.loads(layout.session_file("s").read_text())
    replayed = reducer.replay_log(layout.event_log("s"), "s", reducers=FEATURES)
    assert state["observability"]["metrics"]["live"] == replayed["observability"]["metrics"]["live"]
    assert "error_rate_percent" not in state["observability"]["metrics"]["live"]["levels"]


def test_a_threshold_crossed_by_every_hook_alerts_once(tmp_path) -> None:
    layout = install(tmp_path / "proj")
    configure(layout, thresholds={"state_query_time_ms": {"warning": 0, "critical": 100000},
                                  "session_init_time_ms": {"warning": 0, "critical": 100000},
                                  "agent_spawn_time_ms": {"warning": 0, "critical": 100000}})
    out = event(layout, "s", "SessionStart", source="startup")
    assert "systemMessage" not in out  # an alert goes to the log, not to the user or the model
    for n in range(5):
        outcome(layout, "s", True, n)
    event(layout, "s", "SessionStart", source="resume")
    for agent in ("a1", "a2"):
        event(layout, "s", "SubagentStart", agent_id=agent, agent_type="general-purpose")
        event(layout, "s", "PreToolUse", agent_id=agent, tool_name="Read", tool_input={"file_path": "/x"})
    assert logged(layout, "state_query_time_ms") == [("PERFORMANCE_DEGRADED", "warning")]
    assert logged(layout, "session_init_time_ms") == [("PERFORMANCE_DEGRADED", "warning")]
    assert logged(layout, "agent_spawn_time_ms") == [("PERFORMANCE_DEGRADED", "warning")]
    incidents = [n for line in layout.event_log("s").read_text().splitlines()
                 for n in json.loads(line).get("notices") or () if n["code"] == "PERFORMANCE_DEGRADED"]
    assert {n["metric"] for n in incidents} == {"state_query_time_ms", "session_init_time_ms", "agent_spawn_time_ms"}
    assert all(n["kind"] == "alert" and n["level"] == "warning" and n["value"] >= 0 for n in incidents)


def test_near_miss_under_the_thresholds_says_nothing(tmp_path) -> None:
    layout = install(tmp_path / "proj")
    configure(layout, rate_window_events=10,
              thresholds={"state_query_time_ms": {"warning": 60000, "critical": 120000},
                          "session_init_time_ms": {"warning": 60000, "critical": 120000}})
    event(layout, "s", "SessionStart", source="startup")
    configure(layout, thresholds={"error_rate_percent": {"warning": 11, "critical": 20},
                                  "success_rate_percent": {"warning": 85, "critical": 70}})
    for n in range(30):
        outcome(layout, "s", n % 10 != 5, n)  # one failure in every ten: 10%, just under 11
    assert logged(layout) == []
