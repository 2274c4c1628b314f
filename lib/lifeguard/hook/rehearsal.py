"""A spare worker's rehearsal: a PreToolUse run through the pipeline in a scratch workspace,
before the spare waits for a hook.

A worker is forked from the resident helper (helper.py), so every page of the helper it writes
to (a reference count going up is a write) is copied on first touch: about 600 page faults in
a hook's first run, 2 ms on a small machine, where a second run has about 60. Rehearsing takes
those faults while nobody waits; a spare then holds about 3 MB of its own while it waits (what
serving a hook would cost it anyway).

The scratch workspace is a folder in this user's private `lifeguard-rehearsal-UID` folder in
/dev/shm (memory: on a disk, creating and syncing its files was half a rehearsal's cost), else in
the temporary directory, both removed at once (SIGTERM is held back meanwhile, so a helper that
stops does not leave them behind); what a SIGKILL left is removed by the next rehearsal, once its
process is gone. Nothing is read from or written to the user's workspace. What the rehearsal leaves in
module state is what every hook sets for itself anyway (the redactor, the inflight slot, the
notes: runner.run sets them again).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import tempfile

from ..core import later
from ..core.paths import Layout
from ..store import inflight
from ..telemetry import samples
from . import pipeline, protocol

SESSION = "rehearsal"
MEMORY_FOLDER = "/dev/shm"  # Linux's in-memory file system, open to every user like /tmp


def rehearse() -> None:
    """Run the rehearsal here; any failure is ignored (it only saves time)."""
    try:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    except (AttributeError, ValueError, OSError):
        return  # without a mask a stop could leave the scratch folder behind: no rehearsal
    scratch = None
    try:
        scratch = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=_private_root())
        layout = Layout(os.path.join(scratch, ".claude"))
        os.mkdir(layout.claude_dir, 0o700)
        os.mkdir(layout.state_dir, 0o700)
        transcript = os.path.join(scratch, "transcript.jsonl")
        call = {"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_rehearsal"}
        # PreToolUse alone: a PostToolUse after it copies next to nothing more (measured)
        _transcribe(transcript, call)
        inp = {"session_id": SESSION, "transcript_path": transcript, "cwd": scratch, "hook_event_name": "PreToolUse",
               **call}
        protocol.dumps(pipeline.handle("PreToolUse", protocol.parse(json.dumps(inp).encode()), layout))
    except Exception:  # noqa: BLE001 - only an optimisation: the hook runs all the same
        pass
    finally:
        inflight.begin(None)
        samples.NOTE.clear()
        later.take()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            try:
                os.rmdir(os.path.dirname(scratch))  # the private folder too, unless another spare uses it
            except OSError:
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _private_root() -> str:
    """This user's folder for scratch workspaces (0700, not a link, ours), in MEMORY_FOLDER when
    this user can write there, else in the temporary directory, with what a killed rehearsal left
    there removed; OSError when it cannot be had safely."""
    base = MEMORY_FOLDER if os.access(MEMORY_FOLDER, os.W_OK | os.X_OK) else tempfile.gettempdir()
    root = os.path.join(base, f"lifeguard-rehearsal-{os.getuid()}")
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise OSError(f"{root} is not a private folder of this user")
    for name in os.listdir(root):
        pid = name.partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's: alive
        pass
    return True


def _transcribe(path: str, call: dict) -> None:
    """The transcript line Claude Code writes before a PreToolUse hook, as the loop rules read it."""
    line = {"type": "assistant", "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": call["tool_use_id"], "name": call["tool_name"], "input": call["tool_input"]}]}}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
