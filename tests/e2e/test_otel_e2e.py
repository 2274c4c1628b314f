"""OpenTelemetry export, end to end: the real Claude Code CLI, lifeguard installed with install.sh and
switched to export (LIFEGUARD_OTEL=1; the collector in lifeguard.json's telemetry.environment, since
Claude Code keeps OTEL_EXPORTER_OTLP_* from its hooks), a scripted model that repeats a failing
command until lifeguard refuses it. By the end of the session the loopback collector has lifeguard's
metrics on /v1/metrics and the refusal on /v1/logs."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from otlp_collector import Collector

from .fakemodel import bash, text
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
FAILING = "echo run >> runs.log; echo 'error: widget not found' >&2; exit 1"


def test_a_refused_loop_reaches_the_collector(workspace: Path, tmp_path: Path) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(workspace)], check=True, capture_output=True,
                   timeout=120)
    calls = [bash(FAILING, description=f"attempt {i}") for i in range(7)]
    with Collector() as collector:
        settings = workspace / ".claude" / "lifeguard.json"
        config = json.loads(settings.read_text())
        config["telemetry"]["environment"] = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                                              "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=e2e"}
        settings.write_text(json.dumps(config, indent=2))
        env = {"LIFEGUARD_OTEL": "1"}
        # a HOME of the test's own: the exporter, still running after the CLI exits, keeps its uv
        # environment in that HOME's cache, which run_claude would delete with a HOME of its own
        res = run_claude(workspace, "E2E otel: fix the widget", [[text("trying"), c] for c in calls], env=env,
                         home=tmp_path / "home", timeout=150)
        assert res.returncode == 0, res.describe()
        assert any("lifeguard refused" in (res.tool_result_text(c["id"]) or "") for c in calls), res.describe()
        session = res.session_id

        def complete(c: Collector) -> bool:
            ended = [p for p in c.metric("lifeguard.hook.duration")
                     if p.attrs.get("hook.event") == "SessionEnd" and p.resource.get("session.id") == session]
            refused = [r for r in c.logs() if r.attrs.get("lifeguard.code") == "TOOL_LOOP_BLOCKED"]
            return bool(ended and refused)

        # the last export starts at SessionEnd, detached; it may still be building its uv environment
        assert collector.wait_for(complete, timeout=180), (collector.metric_names(), [r.attrs for r in collector.logs()])
        assert not collector.rejected

        ours = [p for p in collector.points() if p.resource.get("session.id") == session]
        names = {p.name for p in ours}
        assert {"lifeguard.tool.calls", "lifeguard.tool.failures", "lifeguard.loops.warned", "lifeguard.loops.refused",
                "lifeguard.hook.duration", "lifeguard.session.init.duration"} <= names, names
        runs = len((workspace / "runs.log").read_text().splitlines())
        calls_sent = sum(p.value for p in ours if p.name == "lifeguard.tool.calls" and p.attrs["tool.name"] == "Bash")
        assert calls_sent == runs  # every real run counted once, none of the refused ones
        resource = ours[0].resource
        assert resource["service.name"] == "lifeguard" and resource["deployment.environment"] == "e2e"
        path = str(workspace.absolute())
        assert resource["lifeguard.workspace.hash"] == hashlib.sha256(path.encode()).hexdigest()[:16]
        refused = [r for r in collector.logs() if r.attrs.get("lifeguard.code") == "TOOL_LOOP_BLOCKED"]
        assert refused[0].resource["session.id"] == session and refused[0].severity_text == "ERROR"
        assert "widget" in str(refused[0].body) and refused[0].attrs["tool.name"] == "Bash"

    # the same session's numbers, locally
    proc = subprocess.run([str(workspace / ".claude" / "lifeguard"), "stats", "--session", session, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["tools"]["Bash"]["calls"] == runs == report["tools"]["Bash"]["failures"]
    assert report["loops_refused"] and sum(report["loops_refused"].values()) >= 1
    assert {"SessionStart", "PreToolUse", "PostToolUseFailure", "Stop", "SessionEnd"} <= set(report["hooks"])
    assert report["session_init"]["count"] == 1 and report["error_rate"]["series"][-1] == 100.0
