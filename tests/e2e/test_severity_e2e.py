"""Severity follows consequence, end to end (docs/severity.md): the real Claude Code CLI, lifeguard
installed with install.sh. A session's state file is truncated between two runs; on
`claude -p --resume` lifeguard rebuilds it from the event log. Nothing was lost, so this is info:
no critical or urgent alert, no urgent_alerts.txt, nothing for the model (its next step does not
change), one quiet line for the user, and the incident recorded as STATE_REPAIRED."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .fakemodel import bash, text
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
METRICS = ("PERFORMANCE_DEGRADED", "ERROR_RATE_HIGH", "METRIC_RECOVERED")  # live thresholds, not repairs


def test_a_truncated_state_rebuilt_on_resume_is_info(workspace: Path, tmp_path: Path) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(workspace)], check=True, capture_output=True,
                   timeout=120)
    home = tmp_path / "home"
    first = run_claude(workspace, "E2E severity: first run", [[text("working"), bash("echo one")], [text("done")]],
                       home=home, timeout=90)
    assert first.returncode == 0, first.describe()
    sid = first.session_id
    claude = workspace / ".claude"
    state_path = claude / "state" / f"session-{sid}.json"
    raw = state_path.read_bytes()
    state_path.write_bytes(raw[: len(raw) // 2])

    second = run_claude(workspace, "E2E severity: resumed", [[text("resumed fine")]], home=home, timeout=90,
                        extra_args=["--resume", sid, "--verbose"], output_format="stream-json")
    assert second.returncode == 0, second.describe()

    # the user: one quiet line, nothing loud
    shown = second.stdout
    assert "repaired this session's state" in shown, shown[-3000:]
    for loud in ("URGENT", "CRITICAL", "urgent_alerts", "manual intervention"):
        assert loud not in shown, loud
    assert not (claude / "urgent_alerts.txt").exists()

    # the model: told nothing about lifeguard's own bookkeeping
    seen = "\n".join(r.system_text + "\n" + r.user_text() for r in second.main_requests)
    assert second.main_requests and "repair" not in seen and "lifeguard" not in seen, seen[-2000:]

    # the record: the incident's code says what happened, at info
    alerts = [json.loads(line) for line in (claude / "alerts.log").read_text().splitlines()]
    assert not [a for a in alerts if a["level"] in ("CRITICAL", "HIGH")], alerts
    alerts = [a for a in alerts if a["code"] not in METRICS]  # a slow machine may cross a time threshold
    assert [(a["code"], a["level"], a["severity"], a["session"]) for a in alerts] == [("STATE_REPAIRED", "INFO", "info", sid)]
    log = claude / "state" / f"events-{sid}.jsonl"
    notices = [n for line in log.read_text().splitlines() for n in json.loads(line).get("notices") or ()
               if n["code"] not in METRICS]
    assert [(n["code"], n.get("severity")) for n in notices] == [("STATE_REPAIRED", "info")]
