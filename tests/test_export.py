"""The OpenTelemetry export (telemetry/export.py) against the loopback OTLP/HTTP collector stand-in:
metric names and attributes, incidents as log records, nothing sent without the switch, nothing
lost while the collector is down."""

from __future__ import annotations

import hashlib
import io
import json
import sys

import pytest

from otlp_collector import Collector, Silent, dead_endpoint
from planted import install

from lifeguard.hook import runner
from lifeguard.telemetry import export

TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
FAILING = f"curl -H 'Authorization: token {TOKEN}' https://api.example.com/widgets"


def hook(layout, monkeypatch, payload: dict) -> dict:
    monkeypatch.setenv("LIFEGUARD_HOME", str(layout.claude_dir))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(payload).encode())))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert runner.run(payload["hook_event_name"], __file__) == 0
    return json.loads(out.getvalue())


LOOP_1 = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"  # Claude Code session ids: exported as they are
LOOP_2 = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"


def loop_session(layout, monkeypatch, session: str = LOOP_1) -> dict:
    """A session whose agent runs the same failing command until lifeguard refuses it."""
    def send(event: str, **fields) -> dict:
        return hook(layout, monkeypatch, {"session_id": session, "hook_event_name": event, **fields})

    send("SessionStart", source="startup", cwd=str(layout.claude_dir.parent))
    send("PreToolUse", tool_name="Read", tool_input={"file_path": "/src/a.py"}, tool_use_id="r1")
    send("PostToolUse", tool_name="Read", tool_input={"file_path": "/src/a.py"}, tool_use_id="r1",
         tool_response={"content": "x"})
    refused = None
    for n in range(5):
        call = {"tool_name": "Bash", "tool_input": {"command": FAILING}, "tool_use_id": f"b{n}"}
        out = send("PreToolUse", **call)
        if out.get("hookSpecificOutput", {}).get("permissionDecision") == "deny":
            refused = out
            break
        send("PostToolUseFailure", **call, error="curl: (6) Could not resolve host: api.example.com")
    send("Stop", last_assistant_message="giving up")
    assert refused is not None, "the fixture's loop was not refused"
    return refused


@pytest.fixture
def layout(tmp_path, monkeypatch):
    for var in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES",
                "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "LIFEGUARD_OTEL", "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION"):
        monkeypatch.setenv(var, "")  # restored at the end whatever the exporter sets (it sets os.environ)
        monkeypatch.delenv(var)
    return install(tmp_path / "proj")


def status(layout) -> dict:
    return json.loads((layout.state_dir / "telemetry" / "export-status.json").read_text())


def total(points, **attrs) -> float:
    return sum(p.value for p in points if all(p.attrs.get(k) == v for k, v in attrs.items()))


def test_metrics_and_incidents_reach_the_collector(layout, monkeypatch) -> None:
    loop_session(layout, monkeypatch)
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci,service.name=other")
        monkeypatch.setenv("LIFEGUARD_OTEL", "1")
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert not collector.rejected
        names = collector.metric_names()
        assert {"lifeguard.tool.calls", "lifeguard.tool.failures", "lifeguard.loops.warned", "lifeguard.loops.refused",
                "lifeguard.hook.duration", "lifeguard.state.query.duration", "lifeguard.session.init.duration",
                "lifeguard.state.disk_usage"} <= names
        calls, failures = collector.metric("lifeguard.tool.calls"), collector.metric("lifeguard.tool.failures")
        assert total(calls, **{"tool.name": "Bash"}) == 4 and total(calls, **{"tool.name": "Read"}) == 1
        assert total(failures, **{"tool.name": "Bash"}) == 4 and not total(failures, **{"tool.name": "Read"})
        assert all(p.kind == "sum" and p.monotonic and p.temporality == 1 for p in calls)  # delta sums
        refused = collector.metric("lifeguard.loops.refused")
        assert total(refused) == 1 and refused[0].attrs["lifeguard.rule"] == "repeated_failure"
        hooks = collector.metric("lifeguard.hook.duration")
        assert sum(p.count for p in hooks if p.attrs["hook.event"] == "PreToolUse") == 6
        assert {p.unit for p in hooks} == {"ms"}
        (init,) = collector.metric("lifeguard.session.init.duration")
        assert init.count == 1 and init.sum > 0
        resource = calls[0].resource
        workspace = str(layout.claude_dir.parent.absolute())
        assert resource["service.name"] == "lifeguard" and resource["session.id"] == LOOP_1
        assert resource["deployment.environment"] == "ci"  # OTEL_RESOURCE_ATTRIBUTES adds to ours
        assert resource["lifeguard.workspace.hash"] == hashlib.sha256(workspace.encode()).hexdigest()[:16]
        assert workspace not in json.dumps([p.resource for p in collector.points()])

        logs = collector.logs()
        blocked = [r for r in logs if r.attrs["lifeguard.code"] == "TOOL_LOOP_BLOCKED"]
        assert len(blocked) == 1 and blocked[0].severity_text == "ERROR" and blocked[0].severity_number == 17
        assert blocked[0].attrs["hook.event"] == "PreToolUse" and blocked[0].attrs["tool.name"] == "Bash"
        assert blocked[0].resource["session.id"] == LOOP_1 and blocked[0].time_unix_nano > 0
        warned = [r for r in logs if r.attrs["lifeguard.code"] == "TOOL_LOOP_DETECTED"]
        assert warned and warned[0].severity_text == "WARN"
        bodies = " ".join(str(r.body) for r in logs)
        assert "curl" in bodies and TOKEN not in bodies and "[REDACTED" in bodies

        # a second run sends no counter or incident twice
        before = len(collector.logs())
        assert export.run(str(layout.claude_dir)) == 0
        assert len(collector.logs()) == before
        assert total(collector.metric("lifeguard.tool.calls")) == 5


def test_nothing_is_sent_without_the_switch(layout, monkeypatch) -> None:
    loop_session(layout, monkeypatch)
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0
        monkeypatch.setenv("LIFEGUARD_OTEL", "0")
        config = json.loads(layout.config_file.read_text())
        config["telemetry"]["enabled"] = True
        layout.config_file.write_text(json.dumps(config))
        assert export.run(str(layout.claude_dir)) == 0  # LIFEGUARD_OTEL=0 wins over the file
        assert collector.received == []
        monkeypatch.delenv("LIFEGUARD_OTEL")
        assert export.run(str(layout.claude_dir)) == 0  # the file's switch alone
        assert collector.metric("lifeguard.tool.calls")


def test_a_dead_collector_loses_nothing(layout, monkeypatch) -> None:
    loop_session(layout, monkeypatch)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", dead_endpoint())
    assert export.run(str(layout.claude_dir)) == 1
    assert "not accepted" in status(layout)["error"]
    loop_session(layout, monkeypatch, LOOP_2)  # recorded while the collector is down
    with Collector(status=503) as failing:  # up, but refusing
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", failing.url)
        assert export.run(str(layout.claude_dir)) == 1
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        calls = collector.metric("lifeguard.tool.calls")
        assert {p.resource["session.id"] for p in calls} == {LOOP_1, LOOP_2}
        assert total(calls) == 10  # each session's 5 calls, once
        blocked = [r for r in collector.logs() if r.attrs["lifeguard.code"] == "TOOL_LOOP_BLOCKED"]
        assert sorted(r.resource["session.id"] for r in blocked) == [LOOP_1, LOOP_2]


def test_one_exporter_at_a_time_and_a_stuck_one_is_not_waited_on_forever(layout, monkeypatch) -> None:
    """The exporter's lock (core.toollock, filelock's): while another exporter holds it this one
    waits, at most LOCK_WAIT_SECONDS, then says so and sends nothing; the next run sends it all."""
    from lifeguard.core.locking import SessionLock

    loop_session(layout, monkeypatch)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    monkeypatch.setattr(export, "LOCK_WAIT_SECONDS", 0.3)
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        with SessionLock(layout.state_dir / "telemetry" / export.LOCK, 1):  # the same flock: another exporter's
            assert export.run(str(layout.claude_dir)) == 1
        assert "export.lock held for over 0.3s" in status(layout)["error"]
        assert collector.metric("lifeguard.tool.calls") == []
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert total(collector.metric("lifeguard.tool.calls")) == 5


def test_a_silent_collector_is_given_up_on_and_tried_again(layout, monkeypatch) -> None:
    loop_session(layout, monkeypatch)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    with Silent() as silent:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", silent.url)
        assert export.run(str(layout.claude_dir)) == 1
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0
        assert total(collector.metric("lifeguard.tool.calls")) == 5


def test_settings_the_standard_way(layout, monkeypatch) -> None:
    loop_session(layout, monkeypatch)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/nowhere")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", collector.url + "/v1/metrics")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", collector.url + "/v1/logs")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=platform,authorization=Bearer%20abc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        config = json.loads(layout.config_file.read_text())
        config["telemetry"]["include_paths"] = True
        layout.config_file.write_text(json.dumps(config))
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert {r.headers["x-team"] for r in collector.received} == {"platform"}
        assert {r.headers["content-encoding"] for r in collector.received} == {"gzip"}
        point = collector.metric("lifeguard.tool.calls")[0]
        assert point.resource["lifeguard.workspace.path"] == str(layout.claude_dir.parent.absolute())
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        loop_session(layout, monkeypatch, LOOP_2)
        sent = len(collector.received)
        assert export.run(str(layout.claude_dir)) == 1
        assert "http/protobuf" in status(layout)["error"] and len(collector.received) == sent


def test_hooks_start_the_exporter_and_the_session_arrives_by_its_end(layout, monkeypatch) -> None:
    """The real path: hooks start `uv run --script otel_export.py` detached; by Stop it has all."""
    pytest.importorskip("shutil").which("uv") or pytest.skip("uv not installed")
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        monkeypatch.setenv("LIFEGUARD_OTEL", "1")
        loop_session(layout, monkeypatch)

        def arrived(c: Collector) -> bool:
            stops = [p for p in c.metric("lifeguard.hook.duration") if p.attrs.get("hook.event") == "Stop"]
            return bool(stops) and any(r.attrs["lifeguard.code"] == "TOOL_LOOP_BLOCKED" for r in c.logs())

        assert collector.wait_for(arrived, timeout=120), sorted(p.name for p in (layout.state_dir / "telemetry").iterdir())
        assert total(collector.metric("lifeguard.tool.calls")) == 5
        assert not collector.rejected


def test_the_collector_named_in_lifeguard_json(layout, monkeypatch) -> None:
    """Claude Code keeps OTEL_EXPORTER_OTLP_* from hooks: telemetry.environment carries them instead."""
    loop_session(layout, monkeypatch)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    with Collector() as collector, Collector() as preferred:
        config = json.loads(layout.config_file.read_text())
        config["telemetry"].update(enabled=True, environment={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url})
        layout.config_file.write_text(json.dumps(config))
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert total(collector.metric("lifeguard.tool.calls")) == 5
        monkeypatch.setenv("LIFEGUARD_OTEL", "0")  # these hooks start no exporter of their own
        loop_session(layout, monkeypatch, LOOP_2)
        monkeypatch.delenv("LIFEGUARD_OTEL")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", preferred.url)  # the exporter's own environment wins
        assert export.run(str(layout.claude_dir)) == 0
        assert total(preferred.metric("lifeguard.tool.calls")) == 5 and total(collector.metric("lifeguard.tool.calls")) == 5


def test_the_workspace_path_stays_home(layout, monkeypatch) -> None:
    """A fault's message names a file in the workspace: the path is taken out unless include_paths."""
    from lifeguard.features.registry import FEATURES
    from lifeguard.store.session import SessionStore

    workspace = str(layout.claude_dir.parent.absolute())
    hook(layout, monkeypatch, {"session_id": "hurt", "hook_event_name": "SessionStart", "source": "startup"})
    with SessionStore(layout, "hurt", reducers=FEATURES).transaction() as txn:  # as runner.py records a fault
        txn.commit({"event": "LifeguardFault", "hook": "PreToolUse",
                    "fault": {"code": "PERSISTENCE_FAILED",
                              "message": f"No space left on device ({workspace}/.claude/state/session-hurt.json)"}})
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        (fault,) = [r for r in collector.logs() if r.attrs["lifeguard.code"] == "PERSISTENCE_FAILED"]
        assert fault.body == "No space left on device (<workspace>/.claude/state/session-hurt.json)"
        assert fault.attrs["lifeguard.kind"] == "fault" and fault.attrs["hook.event"] == "PreToolUse"
        assert all(workspace not in str(r.body) for r in collector.logs())


def test_doctor_says_how_the_export_goes(layout, monkeypatch) -> None:
    from lifeguard.commands.doctor import history

    assert history.check_telemetry(layout)[0][:2] == ("ok", "OpenTelemetry export off (telemetry.enabled in "
                                                              "lifeguard.json, or LIFEGUARD_OTEL=1)")
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    ((level, what, fix),) = history.check_telemetry(layout)
    assert level == "warn" and "no export has run yet" in what and "otel_export.py" in fix
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", dead_endpoint())
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    assert export.run(str(layout.claude_dir)) == 1
    ((level, what, fix),) = history.check_telemetry(layout)
    assert level == "warn" and "failed: metrics not accepted" in what and "nothing is lost" in fix
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0
    ((level, what, _fix),) = history.check_telemetry(layout)
    assert level == "ok" and "was accepted" in what
