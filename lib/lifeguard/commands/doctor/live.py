"""Each hook answers a sample event within its budget: one per core at a time, each its own
session, in a scratch folder with the default settings (so the real state is never touched)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from ...core.paths import Layout
from ..install.common import REPO
from .findings import Finding, fail, ok
from .settings import enabled_plugin, lifeguard_entries, plugin_entries

SAMPLE_SESSION = "lifeguard-doctor"


SAMPLES: dict[str, dict] = {
    "SessionStart": {"source": "startup"},
    "UserPromptSubmit": {"prompt": "lifeguard doctor sample prompt"},
    "PreToolUse": {"tool_name": "Bash", "tool_input": {"command": "true"}, "tool_use_id": "doctor-1"},
    "PostToolUse": {"tool_name": "Bash", "tool_input": {"command": "true"}, "tool_use_id": "doctor-1",
                    "tool_response": {"stdout": "", "stderr": "", "interrupted": False}},
    "PostToolUseFailure": {"tool_name": "Bash", "tool_input": {"command": "false"}, "tool_use_id": "doctor-2",
                           "error": "Exit code 1"},
    "Stop": {"stop_hook_active": False, "last_assistant_message": "done"},
    "SubagentStart": {"agent_id": "doctor-agent", "agent_type": "general-purpose"},
    "SubagentStop": {"agent_id": "doctor-agent", "agent_type": "general-purpose", "stop_hook_active": False},
    "PreCompact": {"trigger": "manual", "custom_instructions": ""},
    "SessionEnd": {"reason": "other"},
}


def sample_event(event: str, cwd: str) -> dict:
    return {"session_id": f"{SAMPLE_SESSION}-{event}", "transcript_path": "", "cwd": cwd, "hook_event_name": event,
            "permission_mode": "default", **SAMPLES.get(event, {})}


def check_hooks_live(layout: Layout, ui) -> list[Finding]:
    """Run each lifeguard hook of settings.json on a sample event, as Claude Code would: one per
    core at a time (each its own session, so none waits for another's lock), in a scratch folder."""
    from concurrent.futures import ThreadPoolExecutor

    try:
        settings = json.loads((layout.claude_dir / "settings.json").read_bytes())
    except FileNotFoundError:
        settings = {}  # a plugin enabled for the user, not the project; else check_settings reports it
    except (OSError, ValueError):
        return []  # check_settings reports it
    entries = lifeguard_entries(settings) or (plugin_entries() if enabled_plugin(layout) else [])
    if not entries:
        return []
    project = str(layout.claude_dir.parent)
    with tempfile.TemporaryDirectory(prefix="lifeguard-doctor-") as scratch:
        home = Path(scratch) / ".claude"
        home.mkdir()
        env = {**os.environ, "CLAUDE_PROJECT_DIR": project, "LIFEGUARD_HOME": str(home),
               "CLAUDE_PLUGIN_ROOT": str(REPO)}
        # as many at once as there are cores: more would only queue for them (and for uv's cache)
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            results = list(pool.map(lambda entry: run_hook(*entry, env, project), entries))
        _await_sweep(Layout(home))
    return [finding for found in results for finding in found]


def _await_sweep(scratch: Layout, seconds: float = 3.0) -> None:
    """SessionStart's sweep runs after its answer (core/later.py): let the scratch's finish before
    the folder goes, so that it does not make the folder again."""
    from ...core.locking import LockTimeout
    from ...core.toollock import ToolLock
    from ...upkeep import sweep

    session = f"{SAMPLE_SESSION}-SessionStart"
    if not scratch.event_log(session).exists():
        return  # no SessionStart ran its course (lifeguard off, no such hook): no sweep to wait for
    deadline = time.monotonic() + seconds
    while sweep.last_report(scratch) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        with ToolLock(scratch.lock_file(session), max(0.0, deadline - time.monotonic())):
            pass  # its last step records what it did in that session
    except (LockTimeout, OSError):
        pass


def run_hook(event: str, hook: dict, env: dict, project: str) -> list[Finding]:
    timeout = hook.get("timeout")
    budget = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0 else 60.0
    command = str(hook.get("command", ""))
    payload = json.dumps(sample_event(event, project)).encode()
    started = time.monotonic()
    try:
        proc = subprocess.run(["/bin/sh", "-c", command], input=payload, capture_output=True, env=env,
                              cwd=project, timeout=budget)
    except subprocess.TimeoutExpired:
        return [fail(f"{event} hook did not answer within its {budget:g} s budget",
                     "see why with: the same command by hand; a cold uv cache may need: install.sh (it prepares uv's cache)")]
    elapsed = time.monotonic() - started
    label = f"{event} hook"
    if proc.returncode != 0:
        return [fail(f"{label} exited {proc.returncode}: {_last_line(proc.stderr)}", "reinstall lifeguard with install.sh")]
    out = proc.stdout.decode("utf-8", "replace").strip()
    try:
        answer = json.loads(out) if out else {}
    except ValueError:
        return [fail(f"{label} printed something that is not JSON: {out[:120]!r}", "reinstall lifeguard with install.sh")]
    stderr = proc.stderr.decode("utf-8", "replace")
    message = str(answer.get("systemMessage", "")) if isinstance(answer, dict) else ""
    if "could not start" in message or "was not found" in message or "did not finish" in message:
        return [fail(f"{label}: {message}", "follow the message; then run doctor again")]
    if "failed open" in stderr:
        return [fail(f"{label} failed open: {_last_line(proc.stderr)}", "see the faults with: state_recovery.py incidents")]
    return [ok(f"{label} answered in {elapsed * 1000:.0f} ms")]


def _last_line(data: bytes) -> str:
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return lines[-1][:200] if lines else "(no output)"
