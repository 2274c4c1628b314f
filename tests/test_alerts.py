"""Alert levels, thresholds, escalation steps, and an escalation end to end through a hook."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lifeguard.alerts import escalation as alerts
from lifeguard.alerts import thresholds
from lifeguard.config import load as config  # noqa: E402
from lifeguard.features.registry import FEATURES  # noqa: E402
from lifeguard.alerts import step as alerts_step  # noqa: E402
from lifeguard.core.paths import Layout, tool_command  # noqa: E402
from lifeguard.store.state import default_state  # noqa: E402
from lifeguard.core import later  # noqa: E402
from lifeguard.hook.pipeline import handle  # noqa: E402

SECTION = config.DEFAULTS["alerts"]


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    claude = tmp_path / "proj" / ".claude"
    (claude / "state").mkdir(parents=True)
    return Layout(claude)


def state_with(*incidents: tuple[str, str]) -> dict:
    state = default_state("s1", "2020-01-01T00:00:00.000Z")
    state["observability"]["incidents"] = [
        {"seq": i + 1, "ts": ts, "code": code, "kind": "user", "message": "m"} for i, (code, ts) in enumerate(incidents)
    ]
    return state


def notice(code: str, kind: str = "context", message: str = "something happened") -> dict:
    return {"code": code, "kind": kind, "message": message}


# -- levels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code,severity,level", [
    ("SESSION_CORRUPTED", None, "CRITICAL"),  # could not be recovered
    ("STATE_VALIDATION_FAILED", None, "HIGH"),  # could not repair; marked for review
    ("STATE_REPAIRED", None, "INFO"),  # repaired, nothing lost
    ("EVENTS_QUARANTINED", None, "MEDIUM"),
    ("LOG_TORN_LINE", None, "LOW"),
    ("AGENT_CRASHED", None, "HIGH"),
    ("AGENT_CRASHED", "low", "LOW"),  # the producer knew the consequence: its severity wins
    ("AGENT_CRASHED", "warning", "HIGH"),  # not a severity word: the code's default
    ("HOOK_EXECUTION_FAILED", None, "HIGH"),
    ("RESOURCE_EXHAUSTION", None, "MEDIUM"),
    ("TOOL_LOOP_DETECTED", None, "LOW"),
    ("NOT_A_CODE", None, "MEDIUM"),  # unknown: a generic error
])
def test_level_from_code_and_severity(code, severity, level):
    assert alerts.level_for(code, severity) == level


# -- thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize("metric,value,severity", [
    ("session_init_time_ms", 149, None),
    ("session_init_time_ms", 150, "warning"),
    ("session_init_time_ms", 300, "critical"),
    ("state_query_time_ms", 80, "warning"),
    ("agent_spawn_time_ms", 3500, "critical"),
    ("disk_usage_percent", 90, "warning"),
    ("memory_usage_percent", 91, "critical"),
    ("success_rate_percent", 90, None),
    ("success_rate_percent", 85, "warning"),
    ("success_rate_percent", 60, "critical"),
    ("error_rate_percent", 1, None),
    ("error_rate_percent", 5, "critical"),
])
def test_thresholds(metric, value, severity):
    alert = thresholds.evaluate(metric, value, SECTION)
    assert (alert and alert["severity"]) == severity
    if alert:
        expected = ("PERFORMANCE_DEGRADED" if metric.endswith("_ms") else
                    "ERROR_RATE_HIGH" if metric.endswith("rate_percent") else "RESOURCE_EXHAUSTION")
        assert alert["code"] == expected and metric in alert["message"]


def test_rates_over_the_window_only():
    section = copy.deepcopy(SECTION)
    section["rate_window_events"] = 10
    old_failures = [False] * 20
    assert thresholds.rates(old_failures + [True] * 10, section) == []  # failures outside the window
    found = {a["metric"]: a["severity"] for a in thresholds.rates(old_failures + [True] * 7 + [False] * 3, section)}
    assert found == {"success_rate_percent": "critical", "error_rate_percent": "critical"}


def test_config_defaults_validate_and_bad_values_fall_back():
    assert config.validate({}).problems == []
    cfg = config.validate({"alerts": {
        "thresholds": {"cpu_usage_percent": {"warning": 99, "critical": 95, "check_interval_seconds": 30},
                       "disk_usage_percent": {"warning": 50, "critical": 60, "check_interval_seconds": 30}},
        "escalation": {"LOW": ["log", "emergency_stop"]},
        "emergency_stop": {"critical_count": 1},
    }})
    text = " | ".join(cfg.problems)
    assert "cpu_usage_percent" in text and "emergency_stop is allowed only for CRITICAL" in text
    assert "critical_count" in text
    thresholds = cfg["alerts"]["thresholds"]
    assert thresholds["cpu_usage_percent"] == SECTION["thresholds"]["cpu_usage_percent"]
    assert thresholds["disk_usage_percent"]["warning"] == 50  # the valid change is kept
    assert cfg["alerts"]["escalation"] == SECTION["escalation"]
    assert cfg["alerts"]["emergency_stop"]["critical_count"] == 3


# -- escalation steps ------------------------------------------------------------------------------


def escalate(layout, notices, state, ts="2020-01-01T00:10:00.000Z"):
    record = {"event": "SessionStart", "seq": 9, "ts": ts, "notices": notices}
    return alerts.escalate(notices, state, record, SECTION, layout, "s1")


def test_low_is_logged_only_and_redacted(layout, monkeypatch):
    from lifeguard.store import record

    monkeypatch.setattr(record, "SCRUBBERS", [lambda text: text.replace("hunter2", "[REDACTED]")])
    out = escalate(layout, [notice("TOOL_LOOP_DETECTED", message="curl -u me:hunter2 again")], state_with())
    assert out == []
    raw = (layout.claude_dir / alerts.ALERTS_LOG).read_text()
    assert "hunter2" not in raw and "curl -u me:[REDACTED] again" in raw
    logged = alerts.read_log(layout)
    assert [(a["level"], a["code"], a["steps"]) for a in logged] == [("LOW", "TOOL_LOOP_DETECTED", ["log"])]
    assert not (layout.claude_dir / alerts.URGENT_FILE).exists()
    assert oct(os.stat(layout.claude_dir / alerts.ALERTS_LOG).st_mode & 0o777) == "0o600"


def test_high_notifies_the_user_with_the_fix(layout):
    out = escalate(layout, [notice("HOOK_EXECUTION_FAILED", message="uv exit 2")], state_with())
    assert [n["kind"] for n in out] == ["user"]
    assert "HIGH [HOOK_EXECUTION_FAILED]" in out[0]["user"] and "uv exit 2" in out[0]["user"]
    assert f"{tool_command(layout.claude_dir)} doctor" in out[0]["user"]
    (alert,) = alerts.read_log(layout)
    assert alert["recovery"] == "none automatic for this code"
    assert not (layout.claude_dir / alerts.URGENT_FILE).exists()


def test_critical_recovers_and_escalates_to_a_human(layout):
    state = state_with(("SESSION_CORRUPTED", "2020-01-01T00:10:00.000Z"))
    out = escalate(layout, [notice("SESSION_CORRUPTED", kind="user", message="nothing usable was left")], state)
    kinds = [n["kind"] for n in out]
    assert kinds == ["user", "user"]  # notify + urgent; one critical is no reason to stop
    assert "URGENT" in out[1]["user"] and str(layout.claude_dir / alerts.URGENT_FILE) in out[1]["user"]
    urgent = (layout.claude_dir / alerts.URGENT_FILE).read_text()
    assert "CRITICAL SESSION_CORRUPTED" in urgent and "nothing usable was left" in urgent
    assert f"{tool_command(layout.claude_dir)} backups" in urgent  # its first step: find a backup
    (alert,) = alerts.read_log(layout)
    assert alert["recovery"].startswith("state validated; backed up to ")
    backup_id = alert["recovery"].rsplit(" ", 1)[1]
    assert (layout.backup_dir / backup_id / "metadata.json").exists()
    assert "stopped" not in alert


def test_halt_only_after_repeated_criticals_within_the_window(layout):
    two = state_with(("SESSION_CORRUPTED", "2020-01-01T00:01:00.000Z"), ("SESSION_CORRUPTED", "2020-01-01T00:10:00.000Z"))
    assert "halt" not in [n["kind"] for n in escalate(layout, [notice("SESSION_CORRUPTED")], two)]
    three = state_with(("SESSION_CORRUPTED", "2020-01-01T00:01:00.000Z"), ("SESSION_CORRUPTED", "2020-01-01T00:05:00.000Z"),
                       ("SESSION_CORRUPTED", "2020-01-01T00:10:00.000Z"))
    out = escalate(layout, [notice("SESSION_CORRUPTED")], three)
    halts = [n for n in out if n["kind"] == "halt"]
    assert len(halts) == 1 and "3 critical failures" in halts[0]["user"]
    assert "repair --all" in halts[0]["user"]
    # the same three, but one is older than the 10-minute window: no stop
    spread = state_with(("SESSION_CORRUPTED", "2019-12-31T23:50:00.000Z"), ("SESSION_CORRUPTED", "2020-01-01T00:05:00.000Z"),
                        ("SESSION_CORRUPTED", "2020-01-01T00:10:00.000Z"))
    assert "halt" not in [n["kind"] for n in escalate(layout, [notice("SESSION_CORRUPTED")], spread)]
    # non-critical incidents never count (a state that still fails validation is high, not critical)
    lows = state_with(*[("TOOL_LOOP_BLOCKED", "2020-01-01T00:09:00.000Z")] * 3, *[("STATE_VALIDATION_FAILED", "2020-01-01T00:09:00.000Z")] * 3)
    assert "halt" not in [n["kind"] for n in escalate(layout, [notice("SESSION_CORRUPTED")], lows)]


def test_the_count_comes_from_the_records_not_the_clock(layout):
    three = state_with(*[("SESSION_CORRUPTED", "2020-01-01T00:0%d:00.000Z" % i) for i in (1, 2, 3)])
    first = escalate(layout, [notice("SESSION_CORRUPTED")], copy.deepcopy(three), ts="2020-01-01T00:03:00.000Z")
    again = escalate(layout, [notice("SESSION_CORRUPTED")], copy.deepcopy(three), ts="2020-01-01T00:03:00.000Z")
    assert [n["kind"] for n in first] == [n["kind"] for n in again] and "halt" in [n["kind"] for n in first]


def test_feature_is_registered_and_idle_without_notices(layout):
    assert alerts_step not in FEATURES  # a step of the pipeline of its own, not a feature
    assert alerts_step.after_commit(None, {"event": "PreToolUse"}, config.DEFAULTS, layout) == []
    assert not (layout.claude_dir / alerts.ALERTS_LOG).exists()


def test_alerts_log_rotates(layout):
    section = copy.deepcopy(SECTION)
    section["log_max_bytes"] = 4096
    for _ in range(20):
        alerts.log_alert({"code": "X", "message": "y" * 400}, {}, section, layout)
    assert (layout.claude_dir / (alerts.ALERTS_LOG + ".1")).exists()
    assert os.path.getsize(layout.claude_dir / alerts.ALERTS_LOG) <= 4096
    assert len(alerts.read_log(layout)) >= 10


# -- end to end: a real hook process ---------------------------------------------------------------


THRESHOLD_CODES = ("PERFORMANCE_DEGRADED", "ERROR_RATE_HIGH", "METRIC_RECOVERED")


def session_start(claude: Path) -> dict:
    """A SessionStart through the hook pipeline, in this process; the work it leaves for after its
    answer (the sweep, core/later.py) is dropped, so it cannot race the damage the test does next."""
    out = handle("SessionStart", {"session_id": "e2e", "hook_event_name": "SessionStart", "source": "resume",
                                  "cwd": str(claude.parent)}, Layout(claude))
    later.take()
    return out


def test_a_state_rebuilt_from_its_log_is_info_however_often(tmp_path):
    """The state file destroyed before each resume, its log intact: rebuilt, nothing lost. Info:
    no URGENT, no urgent_alerts.txt, no stop (docs/severity.md)."""
    claude = tmp_path / "proj" / ".claude"
    claude.mkdir(parents=True)
    session_start(claude)
    for _ in range(3):
        Layout(claude).session_file("e2e").write_bytes(b"garbage")
        out = session_start(claude)
        assert "repaired this session's state, nothing lost" in out["systemMessage"]
        assert "URGENT" not in out["systemMessage"] and "CRITICAL" not in out["systemMessage"] and "continue" not in out
    logged = [a for a in alerts.read_log(Layout(claude)) if a["code"] not in THRESHOLD_CODES]  # a slow machine's
    assert [(a["level"], a["code"]) for a in logged] == [("INFO", "STATE_REPAIRED")] * 3
    assert not (claude / alerts.URGENT_FILE).exists()
    assert len(list((claude / "state" / "quarantine").glob("*" + Layout(claude).session_file("e2e").name))) == 3  # originals kept


def test_escalation_end_to_end_through_the_pipeline(tmp_path):
    """State and log both destroyed before each resume, no backup: nothing could be recovered.
    Critical every time: URGENT, and the full message in urgent_alerts.txt. (Each loss restarts
    the session's record, so the emergency stop, which counts a session's own critical incidents,
    is tested above on its rule.)"""
    claude = tmp_path / "proj" / ".claude"
    claude.mkdir(parents=True)
    first = session_start(claude)
    assert "systemMessage" not in first and "continue" not in first
    for _ in range(3):
        Layout(claude).session_file("e2e").write_bytes(b"garbage")
        Layout(claude).event_log("e2e").write_bytes(b"garbage too\n")
        out = session_start(claude)
        assert "CRITICAL [SESSION_CORRUPTED]" in out["systemMessage"] and "URGENT" in out["systemMessage"]
    logged = [a for a in alerts.read_log(Layout(claude)) if a["level"] == "CRITICAL"]
    assert [a["code"] for a in logged] == ["SESSION_CORRUPTED"] * 3
    assert (claude / alerts.URGENT_FILE).read_text().count("CRITICAL SESSION_CORRUPTED") == 3
