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


def test_an_exporter_finding_another_waiting_its_turn_leaves_at_once(layout, monkeypatch) -> None:
    """Stop and SessionEnd start an exporter whatever runs: with one already waiting for the lock
    (it holds export.queue) the newcomer leaves without waiting, since the waiting one sends it
    all; nothing recorded is left behind."""
    from lifeguard.core.locking import SessionLock

    loop_session(layout, monkeypatch)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        with SessionLock(layout.state_dir / "telemetry" / export.QUEUE, 1):  # another exporter, waiting its turn
            assert export.run(str(layout.claude_dir)) == 0
        assert collector.received == [] and not (layout.state_dir / "telemetry" / export.STATUS).exists()
        # near miss: the one waiting (here, the next run) gets its turn and sends it all
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert total(collector.metric("lifeguard.tool.calls")) == 5
        with SessionLock(layout.state_dir / "telemetry" / export.QUEUE, 0):
            pass  # and left the queue free for the next


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
    assert f"the next try at {status(layout)['next_try']}" in what
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0
    ((level, what, _fix),) = history.check_telemetry(layout)
    assert level == "ok" and "was accepted" in what


# -- bounded runs, back-off, priority -----------------------------------------------------------------

SESSION = "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b"


def logged(layout, count: int, session: str = SESSION, pad: int = 0, ts: str = "2026-11-30T10:00:00.000Z") -> list[dict]:
    """`count` tool outcomes in `session`'s log, written as the store writes them; every fifth
    carries two loop warnings (two incidents in one record)."""
    from lifeguard.store import eventlog

    records = []
    for seq in range(1, count + 1):
        record = {"seq": seq, "ts": ts, "event": "PostToolUse", "tool": "Bash",
                  "hook": "PostToolUse", "pad": "p" * pad}
        if seq % 5 == 0:
            record["notices"] = [{"code": "TOOL_LOOP_DETECTED", "kind": "warn", "rule": "same_call",
                                  "message": f"call {seq} again ({n})"} for n in (1, 2)]
        records.append(record)
    with open(layout.event_log(session), "ab") as f:
        f.write(b"".join(eventlog.encode(r) for r in records))
    return records


def incident_seqs(collector: Collector) -> list[int]:
    return sorted(r.attrs["lifeguard.seq"] for r in collector.logs())


class AcceptsOnly(Collector):
    """Accepts its first `n` requests, then answers 503 (up, but failing mid-run)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def _handle(self, request) -> None:
        if len(self.received) >= self.n:
            self.status = 503
        super()._handle(request)


def test_a_backlog_is_sent_a_batch_at_a_time_each_record_once(layout, monkeypatch) -> None:
    logged(layout, 25)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    monkeypatch.setattr(export, "BATCH", 4)
    monkeypatch.setattr(export, "BATCHES_PER_RUN", 2)
    monkeypatch.setattr(export, "LOG_BATCH", 3)  # a record's two incidents are never split across requests
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert total(collector.metric("lifeguard.tool.calls")) == 8  # two batches of 4 records
        assert incident_seqs(collector) == [5, 5]
        assert status(layout)["backlog"] is True and status(layout)["metrics"]["records"] == 8
        for _ in range(3):
            assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert total(collector.metric("lifeguard.tool.calls")) == 25
        assert incident_seqs(collector) == sorted([5, 10, 15, 20, 25] * 2)
        assert "backlog" not in status(layout)
        assert len(collector.metric("lifeguard.state.disk_usage")) == 4  # once a run, not once a batch
        for request in collector.requests("/v1/logs"):
            seqs = [r.attributes for rl in request.message.resource_logs for sl in rl.scope_logs for r in sl.log_records]
            assert len(seqs) <= 4  # LOG_BATCH, overrun only to keep a record's incidents together
    # near miss: a run allowed enough batches sends the whole backlog at once
    monkeypatch.setattr(export, "BATCHES_PER_RUN", 10)
    logged(layout, 25, session=LOOP_1)
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0
        assert total(collector.metric("lifeguard.tool.calls")) == 25 and "backlog" not in status(layout)


def test_a_collector_failing_mid_run_keeps_what_it_did_not_accept(layout, monkeypatch) -> None:
    """Each cursor stands where the collector's acceptance put it: whatever request fails, the
    next run sends exactly the rest, nothing twice and nothing lost."""
    logged(layout, 30)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # the SDK retries a 503 until then
    monkeypatch.setattr(export, "BATCH", 10)  # two records with incidents in each batch ...
    monkeypatch.setattr(export, "LOG_BATCH", 1)  # ... each its own request (its two incidents together)
    for accepted in (1, 2, 5):  # a metrics batch, then a record's incidents, then more of each
        with AcceptsOnly(accepted) as flaky:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", flaky.url)
            assert export.run(str(layout.claude_dir)) == 1
            assert "not accepted" in status(layout)["error"]
        with Collector() as collector:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
            assert export.run(str(layout.claude_dir)) == 0, status(layout)
            assert total(flaky.metric("lifeguard.tool.calls")) + total(collector.metric("lifeguard.tool.calls")) == 30
            assert sorted(incident_seqs(flaky) + incident_seqs(collector)) == sorted([5, 10, 15, 20, 25, 30] * 2)
        (layout.state_dir / "telemetry" / export.CURSOR).unlink()  # the same again, failing later


def test_a_session_that_starts_over_is_sent_again_from_its_start(layout, monkeypatch) -> None:
    """A session archived while idle and then resumed starts a new log at seq 1: its events are
    new, although numbered below the cursor. The cursor keeps only the sessions present."""
    logged(layout, 10)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0
        layout.event_log(SESSION).unlink()  # archived
        logged(layout, 5, ts="2026-12-02T09:00:00.000Z")  # resumed two days later
        assert export.run(str(layout.claude_dir)) == 0
        assert total(collector.metric("lifeguard.tool.calls")) == 15 and incident_seqs(collector) == [5, 5, 5, 5, 10, 10]
        logged(layout, 2)  # near miss: more of the same log (seq 1 and 2 again: not new, by number)
        assert export.run(str(layout.claude_dir)) == 0
        assert total(collector.metric("lifeguard.tool.calls")) == 15
        logged(layout, 1, session=LOOP_1)
        assert export.run(str(layout.claude_dir)) == 0
        cursor = json.loads((layout.state_dir / "telemetry" / export.CURSOR).read_text())
        assert set(cursor["metrics"]["sessions"]) == set(cursor["logs"]["sessions"]) == {SESSION, LOOP_1}
        layout.event_log(SESSION).unlink()  # archived for good: its cursor goes, the other's stays
        assert export.run(str(layout.claude_dir)) == 0
        cursor = json.loads((layout.state_dir / "telemetry" / export.CURSOR).read_text())
        assert set(cursor["metrics"]["sessions"]) == set(cursor["logs"]["sessions"]) == {LOOP_1}


def test_a_cursor_left_mid_batch_still_tells_a_new_log(layout, monkeypatch) -> None:
    """A logs cursor moved after part of a batch keeps the log's first line too: when the session
    then starts over, its new log is read whole, not taken for the old one at the same offset."""
    logged(layout, 10)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    monkeypatch.setattr(export, "BATCH", 10)
    monkeypatch.setattr(export, "LOG_BATCH", 1)
    with AcceptsOnly(2) as flaky:  # the metrics, then record 5's incidents; record 10's refused
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", flaky.url)
        assert export.run(str(layout.claude_dir)) == 1
        assert incident_seqs(flaky) == [5, 5]
    layout.event_log(SESSION).unlink()
    logged(layout, 6, ts="2026-12-02T09:00:00.000Z")  # started over: its record 5 ends where the old one did
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0, status(layout)
        assert incident_seqs(collector) == [5, 5] and total(collector.metric("lifeguard.tool.calls")) == 6
        # near miss: the next run finds nothing new in it
        assert export.run(str(layout.claude_dir)) == 0
        assert incident_seqs(collector) == [5, 5] and total(collector.metric("lifeguard.tool.calls")) == 6


def test_the_memory_of_a_run_does_not_grow_with_the_log(layout, monkeypatch) -> None:
    import tracemalloc

    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    monkeypatch.setattr(export, "BATCH", 200)
    monkeypatch.setattr(export, "BATCHES_PER_RUN", 2)
    logged(layout, 10)
    peaks = {}
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0  # the SDK imported before measuring
        for count in (1_000, 20_000):
            cursor = layout.state_dir / "telemetry" / export.CURSOR
            cursor.unlink()
            layout.event_log(SESSION).unlink()
            logged(layout, count, pad=300)
            tracemalloc.start()
            try:
                assert export.run(str(layout.claude_dir)) == 0
                peaks[count] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert status(layout)["metrics"]["records"] == 400 and status(layout)["backlog"]
    size = layout.event_log(SESSION).stat().st_size
    assert peaks[20_000] < peaks[1_000] * 1.25 + 256 * 1024 < size / 4, (peaks, size)


def hook_starts(monkeypatch) -> list[list[str]]:
    """What the hooks' trigger would start, recorded instead of started."""
    import subprocess

    from lifeguard.telemetry import trigger

    started: list[list[str]] = []
    monkeypatch.setattr(trigger, "exporter_command", lambda claude_dir: ["otel_export.py"])
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kw: started.append(command))
    return started


def test_a_collector_that_is_down_is_backed_off_from(layout, monkeypatch) -> None:
    import time as real_time

    from lifeguard.core import clock
    from lifeguard.telemetry import trigger

    logged(layout, 3)
    (layout.state_dir / "telemetry").mkdir(mode=0o700)  # made by the hook's sample, before its trigger
    started = hook_starts(monkeypatch)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")

    def due(event: str, at: float | None = None) -> bool:
        if at is not None:
            monkeypatch.setattr(trigger, "time", type("Clock", (), {"time": staticmethod(lambda: at)}))
        try:
            return trigger.after_hook(layout.claude_dir, layout.state_dir, event, {})
        finally:
            monkeypatch.setattr(trigger, "time", real_time)

    # the usual schedule: once a minute, and always at Stop and SessionEnd
    assert due("PreToolUse") and not due("PreToolUse") and due("Stop") and due("SessionEnd")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", dead_endpoint())
    waits = []
    for failures in (1, 2, 3):
        before = real_time.time()
        assert export.run(str(layout.claude_dir)) == 1
        said = status(layout)
        next_try = clock.epoch(said["next_try"])
        assert said["failures"] == failures and "not accepted" in said["error"]
        waits.append(round(next_try - before, -1))
        for event in ("PreToolUse", "Stop", "SessionEnd"):  # none starts one before the next try ...
            assert not due(event, at=next_try - 1), (event, failures)
        assert due("Stop", at=next_try + 1)  # ... and the first due hook after it does
    assert waits == [120, 240, 480]  # doubling
    said["failures"] = 9
    (layout.state_dir / "telemetry" / export.STATUS).write_text(json.dumps(said))
    before = real_time.time()
    assert export.run(str(layout.claude_dir)) == 1
    assert round(clock.epoch(status(layout)["next_try"]) - before, -1) == export.BACKOFF_CAP_SECONDS
    with Collector() as collector:  # an accepted run: back to the usual schedule at once
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        assert export.run(str(layout.claude_dir)) == 0
        assert total(collector.metric("lifeguard.tool.calls")) == 3
    assert "failures" not in status(layout) and "next_try" not in status(layout)
    assert (layout.state_dir / "telemetry" / trigger.MARKER).stat().st_size == 0
    count = len(started)
    assert due("Stop") and not due("PreToolUse") and len(started) == count + 1


def test_an_exporter_that_waited_while_another_failed_does_not_knock_again(layout, monkeypatch) -> None:
    """Stop and SessionEnd start an exporter even while one runs; it waits for the lock. If the
    one it waited for failed meanwhile, its back-off holds: the collector is not tried again."""
    import os
    import time

    from lifeguard.core import clock

    logged(layout, 3)
    monkeypatch.setenv("LIFEGUARD_OTEL", "1")
    path = layout.state_dir / "telemetry" / export.STATUS
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        failed = {"ts": clock.now_iso(), "error": "metrics not accepted: down", "failures": 1,
                  "next_try": clock.iso(time.time() + 120)}
        path.write_text(json.dumps(failed))
        later = time.time() + 5  # written after this run began (as while it waited for the lock)
        os.utime(path, (later, later))
        assert export.run(str(layout.claude_dir)) == 1
        assert collector.received == [] and status(layout) == failed
        # near miss: the same failure, written before this run began: this run tries
        os.utime(path, (time.time() - 5,) * 2)
        assert export.run(str(layout.claude_dir)) == 0
        assert total(collector.metric("lifeguard.tool.calls")) == 3


def test_the_exporter_runs_at_the_lowest_priority(layout, monkeypatch) -> None:
    import os
    import subprocess
    from pathlib import Path

    logged(layout, 3)
    script = Path(export.__file__).resolve().parents[3] / "scripts" / "otel_export.py"
    with Silent() as silent:
        env = {**os.environ, "LIFEGUARD_OTEL": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": silent.url,
               "OTEL_EXPORTER_OTLP_TIMEOUT": "30"}
        proc = subprocess.Popen([sys.executable, str(script), "--workspace", str(layout.claude_dir)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            connection = silent.accept(timeout=60)  # the exporter is sending: long past lowering its priority
            with open(f"/proc/{proc.pid}/stat", "rb") as f:
                nice = int(f.read().rpartition(b")")[2].split()[16])
            connection.close()
        finally:
            proc.kill()
            proc.wait()
    assert nice == 19
    assert os.nice(0) == 0  # near miss: whoever started it keeps its own
