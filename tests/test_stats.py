"""`state_recovery.py stats`: the numbers of a session recorded by real hook runs."""

from __future__ import annotations

import io
import json
import sys

from planted import install, run_json, run_tool

from lifeguard.hook import runner


def hook(layout, monkeypatch, payload: dict) -> None:
    monkeypatch.setenv("LIFEGUARD_HOME", str(layout.claude_dir))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(payload).encode())))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert runner.run(payload["hook_event_name"], __file__) == 0


SID = "5d1c9e7a-2b3f-4a6c-8d0e-1f2a3b4c5d6e"  # a Claude Code session id: used as is in file names
OTHER = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


def record_session(layout, monkeypatch, session: str = SID) -> None:
    def send(event: str, **fields) -> None:
        hook(layout, monkeypatch, {"session_id": session, "hook_event_name": event, **fields})

    send("SessionStart", source="startup", cwd=str(layout.claude_dir.parent))
    for n in range(10):
        call = {"tool_name": "Bash", "tool_input": {"command": f"pytest -k case{n}"}, "tool_use_id": f"b{n}"}
        send("PreToolUse", **call)
        if n in (3, 6, 7):
            send("PostToolUseFailure", **call, error=f"Exit code 1\ncase{n} failed")
        else:
            send("PostToolUse", **call, tool_response={"stdout": "ok"})
    for n in range(2):
        call = {"tool_name": "Read", "tool_input": {"file_path": f"/src/{n}.py"}, "tool_use_id": f"r{n}"}
        send("PreToolUse", **call)
        send("PostToolUse", **call, tool_response={"content": "x"})
    send("Stop", last_assistant_message="done")


def test_stats_of_a_recorded_session(tmp_path, monkeypatch) -> None:
    layout = install(tmp_path / "proj")
    record_session(layout, monkeypatch)
    record_session(layout, monkeypatch, OTHER)  # the last one active: the default
    code, report = run_json(layout, "stats", "--session", SID)
    assert code == 0
    logged = layout.event_log(SID).read_text().count("\n")  # 26 hooks, health's record, alerts
    assert report["session"] == SID and report["events"] == logged >= 27
    bash, read = report["tools"]["Bash"], report["tools"]["Read"]
    assert (bash["calls"], bash["failures"], bash["error_rate_percent"]) == (10, 3, 30.0)
    assert (read["calls"], read["failures"]) == (2, 0)
    assert bash["p50_ms"] is not None and bash["p95_ms"] >= bash["p50_ms"] >= 0
    hooks = report["hooks"]
    assert hooks["PreToolUse"]["count"] == 12 and hooks["PostToolUseFailure"]["count"] == 3
    assert hooks["SessionStart"]["count"] == 1 and hooks["Stop"]["count"] == 1
    assert 0 < hooks["PreToolUse"]["p50_ms"] <= hooks["PreToolUse"]["max_ms"]
    assert report["session_init"]["count"] == 1 and report["session_init"]["times_ms"][0] > 0
    assert report["state_query"]["count"] == 26  # every hook took the session's state
    series = report["error_rate"]["series"]
    assert len(series) == 12 and series[3] == 25.0 and series[-1] == 25.0  # 3 of 12 at the end
    assert report["state_folder_bytes"] > 0
    code, default = run_json(layout, "stats")
    assert default["session"] == OTHER


def test_stats_in_the_terminal_and_as_a_page(tmp_path, monkeypatch) -> None:
    layout = install(tmp_path / "proj")
    record_session(layout, monkeypatch)
    proc = run_tool(layout, "stats")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"Session {SID}: " in out and " events, " in out
    assert "Bash" in out and "30.0%" in out and "PostToolUseFailure" in out
    assert "Error rate over the session" in out and "  0% |" in out
    page = tmp_path / "stats.html"
    proc = run_tool(layout, "stats", "--html", str(page))
    assert proc.returncode == 0 and f"Wrote {page}" in proc.stdout
    text = page.read_text()
    assert text.startswith("<!doctype html>") and text.count("<svg") == 2 and "<polyline" in text
    assert "<script" not in text and "src=" not in text and "href=" not in text  # self-contained
    assert "warning 2%" in text  # the alert threshold drawn on the error-rate chart


def test_stats_unknown_session_and_empty_workspace(tmp_path) -> None:
    layout = install(tmp_path / "proj")
    proc = run_tool(layout, "stats")
    assert proc.returncode == 0 and "No sessions recorded" in proc.stdout
    proc = run_tool(layout, "stats", "--session", "nope")
    assert proc.returncode == 1 and "no event log for session nope" in proc.stderr


def test_what_a_record_counts_for() -> None:
    from lifeguard.telemetry import measures

    health = {"event": "LifeguardHealth", "repairs": [
        "the state file was unreadable", "rebuilt the state by replaying the event log (3 events)",
        "repair level: major", "session other: critical repair: restored a checkpoint"]}
    assert measures.counts(health) == [(measures.REPAIRS, {"lifeguard.repair.level": "major"}),
                                       (measures.REPAIRS, {"lifeguard.repair.level": "critical"})]
    torn = {"event": "LifeguardHealth", "repairs": ["quarantined 12 damaged bytes at the end of the event log"]}
    assert measures.counts(torn) == [(measures.REPAIRS, {"lifeguard.repair.level": "minor"})]
    refused = {"event": "PreToolUse", "tool": "Bash", "notices": [
        {"code": "TOOL_LOOP_BLOCKED", "kind": "deny", "rule": "cycle"},
        {"code": "CIRCUIT_OPEN", "kind": "deny"}]}  # a refusal while open is no trip
    assert measures.counts(refused) == [(measures.LOOPS_REFUSED, {"lifeguard.rule": "cycle"})]
    failed = {"event": "PostToolUseFailure", "tool": "mcp__db__query", "notices": [
        {"code": "CIRCUIT_OPEN", "kind": "context"}, {"code": "STOP_LOOP_DETECTED", "kind": "halt"}]}
    assert measures.counts(failed) == [
        (measures.TOOL_CALLS, {"tool.name": "mcp__db__query"}), (measures.TOOL_FAILURES, {"tool.name": "mcp__db__query"}),
        (measures.BREAKER_TRIPS, {"tool.name": "mcp__db__query"}), (measures.LOOPS_REFUSED, {"lifeguard.rule": "repeated_stop"})]
