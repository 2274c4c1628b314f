"""Every event hook, run for real (`uv run -q --script`), fed bad input: it fails open, cleanly.

Each bad input must give: exit 0, a JSON object on stdout, exactly one stderr line and no
traceback, one more line in state/faults.jsonl, and the session state already on disk still
loads, validates and equals a replay of its log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.commands.install.settings import HOOKS
from lifeguard.store import reducer, state as state_mod
from lifeguard.upkeep import schema
from lifeguard.core.paths import Layout
from lifeguard.store.session import SessionStore

REPO = Path(__file__).resolve().parents[1]
UV = shutil.which("uv")
SID = "existing-session"

BAD_INPUTS = {
    "empty": b"",
    "not-json": b"this is not json {",
    "wrong-types": json.dumps({"session_id": SID, "hook_event_name": "PostToolUse", "tool_name": ["Bash"],
                               "tool_input": "rm -rf /", "stop_hook_active": "yes"}).encode(),
    "huge": b'{"session_id":"' + SID.encode() + b'","prompt":"' + b"x" * (9 * 1024 * 1024) + b'"}',
    "deeply-nested": b'{"session_id":"' + SID.encode() + b'","tool_input":' + b'{"a":' * 100_000 + b"1"
                     + b"}" * 100_001,
    "invalid-utf8": b'{"session_id":"' + SID.encode() + b'","prompt":"\xff\xfe\xc3("}',
    "json-array": json.dumps([{"session_id": SID, "hook_event_name": "Stop"}]).encode(),
}

EVENT_HOOKS = [(event, script) for event, script, _timeout, _matcher in HOOKS]


@pytest.fixture
def home(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path / ".claude")
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:  # a session with some history
        txn.commit({"event": "SessionStart", "source": "startup"})
        txn.commit({"event": "PostToolUse", "tool": "Bash", "input": {"command": "ls"}})
    return layout


def fault_lines(layout: Layout) -> list[dict]:
    if not layout.faults_log.exists():
        return []
    return [json.loads(line) for line in layout.faults_log.read_text().splitlines()]


@pytest.mark.skipif(UV is None, reason="uv is not installed")
@pytest.mark.parametrize("event, script", EVENT_HOOKS, ids=[s for _e, s in EVENT_HOOKS])
def test_hook_fails_open_on_bad_input(home, event, script):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "LIFEGUARD"))}
    env["LIFEGUARD_HOME"] = str(home.claude_dir)
    state_before = state_mod.load(home.session_file(SID))
    for name, data in BAD_INPUTS.items():
        faults_before = len(fault_lines(home))
        proc = subprocess.run([UV, "run", "-q", "--script", str(REPO / "hooks" / f"{script}.py")], input=data,
                              capture_output=True, env=env, timeout=120)
        what = f"{script} <- {name}"
        stderr = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode == 0, (what, stderr)
        assert isinstance(json.loads(proc.stdout), dict), what
        assert proc.stdout.count(b"\n") <= 1, what
        assert "Traceback" not in stderr, (what, stderr)
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("lifeguard: "), (what, stderr)
        assert "HOOK_INPUT_INVALID" in lines[0], (what, stderr)
        faults = fault_lines(home)
        assert len(faults) == faults_before + 1, what
        assert faults[-1]["code"] == "HOOK_INPUT_INVALID" and faults[-1]["event"] == event, what
    state = state_mod.load(home.session_file(SID))
    assert state == state_before  # bad input never reaches a session
    assert schema.validate_state(state) == []
    assert state == reducer.replay_log(home.event_log(SID), SID, FEATURES)
