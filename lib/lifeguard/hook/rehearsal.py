"""A spare worker's rehearsal: a PreToolUse and a PostToolUse run through the pipeline in a
scratch workspace, before the spare waits for a hook.

A worker is forked from the resident helper (helper.py), so every page of the helper it writes
to (a reference count going up is a write) is copied on first touch: about 600 page faults in
a hook's first run, 2 ms on a small machine, where a second run has about 60. Rehearsing takes
those faults while nobody waits, and costs each spare 2 to 3 MB of memory of its own.

The scratch workspace is a private temporary folder, removed at once (SIGTERM is held back
meanwhile, so a helper that stops does not leave it behind); nothing is read from or written to
the user's workspace. What the rehearsal leaves in module state is what every hook sets for
itself anyway (the redactor, the inflight slot, the notes: runner.run sets them again).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile

from ..core import later
from ..core.paths import Layout
from ..store import inflight
from ..telemetry import samples
from . import pipeline, protocol

SESSION = "rehearsal"


def rehearse() -> None:
    """Run the rehearsal here; any failure is ignored (it only saves time)."""
    try:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except (AttributeError, ValueError, OSError):
        return  # without a mask a stop could leave the scratch folder behind: no rehearsal
    scratch = None
    try:
        scratch = tempfile.mkdtemp(prefix="lifeguard-rehearsal-")
        layout = Layout(os.path.join(scratch, ".claude"))
        os.mkdir(layout.claude_dir, 0o700)
        os.mkdir(layout.state_dir, 0o700)
        transcript = os.path.join(scratch, "transcript.jsonl")
        call = {"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_rehearsal"}
        for event, extra in (("PreToolUse", {}), ("PostToolUse", {"tool_response": {"stdout": "README.md"}})):
            _transcribe(transcript, event, call)
            inp = {"session_id": SESSION, "transcript_path": transcript, "cwd": scratch, "hook_event_name": event,
                   **call, **extra}
            protocol.dumps(pipeline.handle(event, protocol.parse(json.dumps(inp).encode()), layout))
    except Exception:  # noqa: BLE001 - only an optimisation: the hook runs all the same
        pass
    finally:
        inflight.begin(None)
        samples.NOTE.clear()
        later.take()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _transcribe(path: str, event: str, call: dict) -> None:
    """The transcript line Claude Code writes before this event's hook, as the loop rules read it."""
    if event == "PreToolUse":
        line = {"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "tool_use", "id": call["tool_use_id"], "name": call["tool_name"], "input": call["tool_input"]}]}}
    else:
        line = {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call["tool_use_id"], "content": "README.md"}]}}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
