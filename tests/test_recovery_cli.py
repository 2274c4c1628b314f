"""state_recovery.py, installed, on a workspace with planted healthy, stale and corrupted sessions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planted import BROKEN, CORRUPT, HEALTHY, STALE, event, install, plant, run_json, run_tool

from lifeguard.features.registry import FEATURES
from lifeguard.store.session import SessionStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def layout(tmp_path: Path):
    layout = install(tmp_path / "proj")
    plant(layout)
    return layout


def by_session(report: dict) -> dict:
    return {d["session"]: d for d in report["details"]}


# -- analyze -----------------------------------------------------------------------------------


def test_analyze_counts_and_lists_sessions_needing_attention(layout):
    proc = run_tool(layout, "analyze")
    assert proc.returncode == 1, proc.stderr  # a corrupted session
    out = proc.stdout
    assert "Total sessions            3" in out and "Corrupted                 1" in out
    assert "Stale (no activity 24 h)  1" in out and "Healthy                   1" in out
    attention = out.split("Sessions needing attention", 1)[1]
    assert f"session-{CORRUPT}.json" in attention and f"session-{STALE}.json" in attention
    assert f"session-{HEALTHY}.json" not in attention
    assert "not valid JSON" in attention and "no activity for" in attention
    assert f"{layout.claude_dir}/lifeguard repair --all" in out


def test_analyze_json(layout):
    code, report = run_json(layout, "analyze")
    assert code == 1
    assert (report["total_sessions"], report["healthy_sessions"], report["corrupted_sessions"],
            report["stale_sessions"], report["large_sessions"]) == (3, 1, 1, 1, 0)
    sessions = by_session(report)
    assert {k: v["status"] for k, v in sessions.items()} == {HEALTHY: "healthy", STALE: "stale", CORRUPT: "corrupted"}
    assert sessions[HEALTHY]["issues"] == []


def test_analyze_flags_damaged_log_lines_and_large_sessions(layout):
    log = layout.event_log(HEALTHY)
    lines = log.read_bytes().split(b"\n")
    lines[0] = lines[0].replace(b'"SessionStart"', b'"SessionStorm"')  # CRC no longer matches
    log.write_bytes(b"\n".join(lines))
    with SessionStore(layout, STALE, reducers=FEATURES).transaction() as txn:  # 11 MB of old events: large
        for i in range(110):
            txn.commit({"event": "PostToolUse", "tool": "Bash", "result": "x" * 100_000,
                        "ts": f"2020-01-01T01:{i // 60:02d}:{i % 60:02d}.000Z"})
    code, report = run_json(layout, "analyze")
    sessions = by_session(report)
    assert sessions[HEALTHY]["status"] == "corrupted"
    assert any("damaged line" in issue for issue in sessions[HEALTHY]["issues"])
    assert sessions[STALE]["large"] is True and report["large_sessions"] == 1
    assert sessions[STALE]["status"] == "stale"  # large is a flag on top of the status


def test_analyze_ok_when_nothing_is_corrupted(layout):
    layout.session_file(CORRUPT).unlink()
    layout.event_log(CORRUPT).unlink()
    proc = run_tool(layout, "analyze")
    assert proc.returncode == 0 and "No corrupted sessions." in proc.stdout


# -- repair ------------------------------------------------------------------------------------


def test_repair_all_fixes_and_keeps_what_it_replaced(layout):
    healthy_before = layout.session_file(HEALTHY).read_bytes()
    proc = run_tool(layout, "repair", "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 session(s) repaired, 2 already healthy." in proc.stdout
    assert "Backup taken before repairing:" in proc.stdout
    kept = [p.read_bytes() for p in layout.quarantine_dir.glob(f"*session-{CORRUPT}.json")]
    assert BROKEN in kept
    assert layout.session_file(HEALTHY).read_bytes() == healthy_before
    backups = [m for m in (layout.backup_dir).iterdir() if m.name.endswith("-pre-repair")]
    assert len(backups) == 1 and (backups[0] / f"session-{CORRUPT}.json").read_bytes() == BROKEN
    code, report = run_json(layout, "analyze")
    assert code == 0 and report["corrupted_sessions"] == 0


def test_repair_one_session_file(layout):
    proc = run_tool(layout, "repair", str(layout.session_file(CORRUPT)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert CORRUPT in proc.stdout and STALE not in proc.stdout
    code, reports = run_json(layout, "repair", f"session-{CORRUPT}.json")
    assert code == 0 and [r["session_id"] for r in reports] == [CORRUPT] and reports[0]["level"] == "none"


def test_repair_usage_errors(layout):
    assert run_tool(layout, "repair").returncode == 2
    proc = run_tool(layout, "repair", "session-nosuch.json")
    assert proc.returncode == 2 and "no session 'nosuch'" in proc.stderr


# -- backup / restore --------------------------------------------------------------------------


def test_backup_and_list(layout):
    proc = run_tool(layout, "backup", "--name", "before-upgrade")
    assert proc.returncode == 0, proc.stderr
    code, items = run_json(layout, "backups")
    assert code == 0 and len(items) == 1
    folder = Path(items[0]["path"])
    assert folder.name.endswith("-before-upgrade") and items[0]["files"] >= 5
    assert (folder / f"session-{HEALTHY}.json").read_bytes() == layout.session_file(HEALTHY).read_bytes()
    assert f"restore {folder.name}" in proc.stdout
    assert run_tool(layout, "backup", "--name", "../escape").returncode == 2


def test_restore_round_trip(layout):
    run_tool(layout, "backup", "--name", "good")
    (backup_id,) = [m["id"] for m in run_json(layout, "backups")[1]]
    saved_state = layout.session_file(HEALTHY).read_bytes()
    saved_log = layout.event_log(HEALTHY).read_bytes()
    event(layout, HEALTHY, "Stop")  # the state moves on after the backup
    changed_state = layout.session_file(HEALTHY).read_bytes()
    assert changed_state != saved_state

    proc = run_tool(layout, "restore", backup_id, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert layout.session_file(HEALTHY).read_bytes() == saved_state
    assert layout.event_log(HEALTHY).read_bytes() == saved_log
    pre = [m for m in run_json(layout, "backups")[1] if m["name"] == "pre-restore"]
    assert len(pre) == 1 and (Path(pre[0]["path"]) / f"session-{HEALTHY}.json").read_bytes() == changed_state
    assert f"restore {pre[0]['id']} --yes" in proc.stdout  # how to undo


def test_restore_refuses_without_yes_when_it_cannot_ask(layout):
    run_tool(layout, "backup")
    (backup_id,) = [m["id"] for m in run_json(layout, "backups")[1]]
    event(layout, HEALTHY, "Stop")
    before = layout.session_file(HEALTHY).read_bytes()
    proc = run_tool(layout, "restore", backup_id)  # stdin is /dev/null
    assert proc.returncode == 2 and "--yes" in proc.stderr
    assert layout.session_file(HEALTHY).read_bytes() == before
    assert not [m for m in run_json(layout, "backups")[1] if m["name"] == "pre-restore"]  # nothing was done


def test_restore_unknown_backup(layout):
    proc = run_tool(layout, "restore", "20200101T000000000000-nope", "--yes")
    assert proc.returncode == 2 and "no complete backup" in proc.stderr


# -- incidents ---------------------------------------------------------------------------------


def test_incidents_newest_first_from_logs_and_faults(layout):
    event(layout, CORRUPT, "SessionStart", source="resume")  # the hook repairs it: an incident
    fault = {"ts": "2099-01-01T00:00:00.000Z", "event": "PreToolUse", "code": "HOOK_TIMEOUT",
             "message": "ran out of its time budget", "elapsed_ms": 6000.0, "session": HEALTHY}
    with open(layout.faults_log, "a") as f:
        f.write(json.dumps(fault) + "\n")
    code, items = run_json(layout, "incidents")
    assert code == 0
    assert items[0]["code"] == "HOOK_TIMEOUT" and items[0]["session"] == HEALTHY  # newest first
    repair = [i for i in items if i["code"] == "STATE_REPAIRED"]  # rebuilt from its log: nothing lost
    assert repair and repair[0]["session"] == CORRUPT and "repaired" in repair[0]["message"]
    code, only = run_json(layout, "incidents", "--session", CORRUPT)
    assert {i["session"] for i in only} == {CORRUPT}
    proc = run_tool(layout, "incidents")
    assert proc.returncode == 0 and "HOOK_TIMEOUT" in proc.stdout and "STATE_REPAIRED" in proc.stdout


def test_incidents_when_there_are_none(layout):
    proc = run_tool(layout, "incidents", "--session", STALE)
    assert proc.returncode == 0 and f"No incidents recorded for session {STALE}" in proc.stdout


# -- doctor ------------------------------------------------------------------------------------

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv not installed")


def findings(layout, *extra) -> tuple[int, list[dict]]:
    return run_json(layout, "doctor", "--quick", *extra)


def problems(items: list[dict]) -> list[str]:
    return [f"{i['what']} => {i['fix']}" for i in items if i["level"] == "fail"]


def edit_settings(layout, change) -> None:
    path = layout.claude_dir / "settings.json"
    settings = json.loads(path.read_text())
    change(settings["hooks"])
    path.write_text(json.dumps(settings, indent=2))


@needs_uv
def test_doctor_clean_install(layout):
    code, items = findings(layout)
    assert code == 0, problems(items)
    checks = {i["check"] for i in items}
    assert {"settings.json", "installed files", "config", "state folder", "uv", "python"} <= checks


def test_doctor_finds_a_missing_hook_script(layout):
    (layout.claude_dir / "hooks" / "stop.py").unlink()
    code, items = findings(layout)
    assert code == 1
    found = problems(items)
    assert any("hook script" in p and "stop.py is missing" in p and "install.sh" in p for p in found), found


def test_doctor_finds_a_bad_timeout(layout):
    edit_settings(layout, lambda hooks: hooks["PreToolUse"][0]["hooks"][0].update(timeout=10000))
    code, items = findings(layout)
    assert code == 1
    found = problems(items)
    assert any("PreToolUse" in p and "timeout 10000" in p and "milliseconds" in p for p in found), found


def test_doctor_finds_an_entry_with_a_wrong_path(layout):
    def wrong(hooks):
        hooks["Stop"][0]["hooks"][0]["command"] = "/nonexistent/place/.claude/hooks/lifeguard-run stop 30"
    edit_settings(layout, wrong)
    code, items = findings(layout)
    assert code == 1
    found = problems(items)
    assert any("Stop hook" in p and "/nonexistent/place/.claude/hooks/lifeguard-run does not exist" in p for p in found), found


def test_doctor_finds_invalid_config(layout):
    (layout.config_file).write_text('{"alerts": {"emergency_stop": {"critical_count": 0}}}')
    code, items = findings(layout)
    assert code == 1 and any("critical_count" in p for p in problems(items))


@needs_uv
def test_doctor_runs_every_hook_on_a_sample_event(layout):
    before = sorted(p.name for p in layout.state_dir.iterdir())
    code, items = run_json(layout, "doctor")
    assert code == 0, problems(items)
    answered = [i["what"] for i in items if i["check"] == "hooks"]
    assert len(answered) == 10 and all("answered in" in a for a in answered)
    assert sorted(p.name for p in layout.state_dir.iterdir()) == before  # real state untouched


def test_doctor_says_what_it_checks_as_it_goes(layout):
    proc = run_tool(layout, "--plain", "doctor", "--quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    order = [next(i for i, line in enumerate(lines) if f"  {name}: " in line)
             for name in ("on/off", "settings.json", "installed files", "config", "state folder", "sweep", "uv", "python")]
    assert order == sorted(order), lines  # one line per check, in the order they run
    assert lines[-1] == "No problems found."


def test_doctor_names_a_failed_step_of_the_last_sweep(layout):
    from lifeguard.commands.doctor import history
    from lifeguard.core import fsutil
    from lifeguard.upkeep import sweep

    assert history.check_sweep(layout)[0][0] == "ok"  # none yet
    report = {"archived": ["a", "b"], "repairs": [], "locks_removed": 1, "quarantined": 0, "finished": time.time(),
              "failed": ["repair changed sessions: PermissionError: denied"]}
    fsutil.atomic_write(layout.state_dir / sweep.SWEEP_FILE, json.dumps({"fingerprints": {}, "last": report}).encode())
    [(level, what, fix)] = history.check_sweep(layout)
    assert level == "warn" and "archived 2 idle session(s)" in what and "PermissionError: denied" in what and fix


# -- the script itself ---------------------------------------------------------------------------


def test_help_on_every_verb(layout):
    for verb in ("analyze", "backup", "backups", "restore", "repair", "doctor", "incidents"):
        proc = run_tool(layout, verb, "--help")
        assert proc.returncode == 0 and f"state_recovery.py {verb}" in proc.stdout


def test_finds_its_workspace_from_the_install_location(layout, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    script = layout.claude_dir / "scripts" / "state_recovery.py"
    proc = subprocess.run([sys.executable, str(script), "analyze", "--json"], cwd=other, capture_output=True, text=True)
    assert json.loads(proc.stdout)["state_dir"] == str(layout.state_dir)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "state_recovery.py"), "--workspace",
                           str(layout.claude_dir.parent), "analyze", "--json"], capture_output=True, text=True)
    assert json.loads(proc.stdout)["total_sessions"] == 3


@needs_uv
def test_runs_under_uv_with_rich_tables(layout):
    proc = subprocess.run(["uv", "run", "-q", "--script", str(layout.claude_dir / "scripts" / "state_recovery.py"),
                           "analyze"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Sessions needing attention" in proc.stdout and f"session-{CORRUPT}" in proc.stdout  # rich may wrap the name
    assert "┃" in proc.stdout or "│" in proc.stdout  # a rich table, not the plain fallback
