"""Run the real Claude Code CLI against :mod:`tests.e2e.fakemodel`.

Typical use::

    from tests.e2e.fakemodel import bash, text
    from tests.e2e.harness import run_claude

    call = bash("echo hi")
    res = run_claude(tmp_path, "PROMPT", [[text("running"), call]],
                     allowed_tools=["Bash"])
    assert res.returncode == 0
    assert res.tool_result_text(call["id"]) == "hi"

The CLI binary is found via ``$CLAUDE_BIN``, else ``shutil.which("claude")``,
else ``/opt/cc/node_modules/.bin/claude``.  Tests call :func:`require_claude`
(or use the ``claude_bin`` fixture) to ``pytest.skip`` when none exists.  CI
installs it with ``npm install --prefix /opt/cc @anthropic-ai/claude-code@2.1.332``
(or sets ``CLAUDE_BIN``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .fakemodel import FakeModel, Recorded, Turn

__all__ = [
    "CLAUDE_VERSION",
    "DEFAULT_CLAUDE_PATH",
    "Result",
    "find_claude",
    "require_claude",
    "run_claude",
    "write_settings",
    "claude_env",
]

CLAUDE_VERSION = "2.1.332"
DEFAULT_CLAUDE_PATH = "/opt/cc/node_modules/.bin/claude"

# Variables from the outer environment that must not leak into the CLI under
# test (a developer may be running pytest from inside Claude Code itself).
_STRIP_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "CLAUDECODE", "OTEL_", "AWS_BEARER_TOKEN_BEDROCK")


def find_claude() -> str | None:
    """Path of the claude binary, or None if it is truly absent."""
    cand = os.environ.get("CLAUDE_BIN")
    if cand:
        return cand if os.path.exists(cand) else None
    found = shutil.which("claude")
    if found:
        return found
    return DEFAULT_CLAUDE_PATH if os.path.exists(DEFAULT_CLAUDE_PATH) else None


def require_claude() -> str:
    """Return the binary path or ``pytest.skip`` the calling test."""
    path = find_claude()
    if path is None:
        import pytest

        pytest.skip("claude CLI not installed (set CLAUDE_BIN or install @anthropic-ai/claude-code)")
    return path


def claude_env(base_url: str, home: str | os.PathLike[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for the CLI: outer ANTHROPIC_*/CLAUDE_* removed,
    private HOME, fake API key, non-essential traffic disabled."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIP_PREFIXES)}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(Path(home) / ".config"),
        XDG_CACHE_HOME=str(Path(home) / ".cache"),
        XDG_STATE_HOME=str(Path(home) / ".local" / "state"),
        XDG_DATA_HOME=str(Path(home) / ".local" / "share"),
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_API_KEY="sk-ant-test-fake-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        NO_COLOR="1",
    )
    if extra:
        env.update(extra)
    return env


def write_settings(workspace: str | os.PathLike[str], settings: Mapping[str, Any]) -> Path:
    """Write ``<workspace>/.claude/settings.json`` and return its path."""
    p = Path(workspace) / ".claude" / "settings.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(settings, indent=2))
    return p


@dataclass
class Result:
    """Outcome of one ``claude -p`` run."""

    returncode: int | None
    stdout: str
    stderr: str
    json: dict[str, Any] | None  # parsed --output-format json result (None if unparsable)
    model: FakeModel  # the (stopped) fake server: all recorded requests and helpers
    timed_out: bool = False
    home: Path | None = None  # the private HOME used (kept only if keep_home=True)
    helper_was_running: bool = False  # lifeguard's resident helper was up when the run ended

    @property
    def requests(self) -> list[Recorded]:
        """Recorded /v1/messages requests (all kinds), in arrival order."""
        return self.model.api_requests()

    @property
    def main_requests(self) -> list[Recorded]:
        return self.model.api_requests("main")

    @property
    def subagent_requests(self) -> list[Recorded]:
        return self.model.api_requests("subagent")

    @property
    def result_text(self) -> str | None:
        return (self.json or {}).get("result")

    @property
    def session_id(self) -> str | None:
        return (self.json or {}).get("session_id")

    def tool_result(self, tool_use_id: str) -> dict[str, Any] | None:
        return self.model.tool_result(tool_use_id)

    def tool_result_is_error(self, tool_use_id: str) -> bool | None:
        return self.model.tool_result_is_error(tool_use_id)

    def tool_result_text(self, tool_use_id: str) -> str | None:
        return self.model.tool_result_text(tool_use_id)

    def request_after(self, tool_use_id: str) -> Recorded | None:
        return self.model.request_after(tool_use_id)

    def shown_text(self, kind: str | None = None) -> str:
        return self.model.shown_text(kind)

    def describe(self) -> str:
        """Debug summary for assertion messages."""
        lines = [f"rc={self.returncode} timed_out={self.timed_out}",
                 f"stdout={self.stdout[-2000:]!r}", f"stderr={self.stderr[-2000:]!r}"]
        for r in self.requests:
            lines.append(f"  {r.kind:8} turn={r.turn_index} agent={r.agent_id} msgs={len(r.messages)}")
        return "\n".join(lines)


def _parse_json_output(stdout: str) -> dict[str, Any] | None:
    s = stdout.strip()
    if not s:
        return None
    try:
        obj = json.loads(s)
        return obj if isinstance(obj, dict) else None
    except ValueError:
        pass
    for line in reversed(s.splitlines()):
        try:
            obj = json.loads(line)
            if isinstance(obj, dict):
                return obj
        except ValueError:
            continue
    return None


def run_claude(
    workspace: str | os.PathLike[str],
    prompt: str,
    turns: Iterable[Turn] = (),
    *,
    allowed_tools: str | Sequence[str] = ("Bash",),
    extra_args: Sequence[str] = (),
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
    subagent_turns: Iterable[Turn] | Mapping[str, Iterable[Turn]] | None = None,
    model: FakeModel | None = None,
    home: str | os.PathLike[str] | None = None,
    keep_home: bool = False,
    output_format: str = "json",
    interrupt_when: str | os.PathLike[str] | None = None,
) -> Result:
    """Run ``claude -p PROMPT`` in ``workspace`` against a fresh fake model.

    ``turns`` / ``subagent_turns``: see :class:`FakeModel`.  ``allowed_tools``
    is joined with "," for ``--allowedTools``.  ``env`` entries are added on
    top of the clean environment.  Pass ``model`` to reuse a started server
    (it is then *not* stopped here), ``home`` to reuse a HOME directory (e.g.
    for ``--resume``).  ``interrupt_when``: a path; once it exists, the CLI gets
    SIGINT, as from a user pressing Ctrl-C (a scripted command creates it when it
    starts).  On timeout the whole process group is killed and
    ``Result.timed_out`` is set.
    """
    binary = require_claude()
    workspace = Path(workspace)
    workspace.mkdir(parents=True, exist_ok=True)

    own_model = model is None
    if model is None:
        model = FakeModel(turns, subagent_turns=subagent_turns, main_prompt=prompt)
        model.start()
    elif model.main_prompt is None:
        model.main_prompt = prompt

    own_home = home is None
    home_path = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="cc-home-"))
    home_path.mkdir(parents=True, exist_ok=True)

    if isinstance(allowed_tools, str):
        tools_arg = allowed_tools
    else:
        tools_arg = ",".join(allowed_tools)
    cmd = [binary, "-p", prompt, "--output-format", output_format]
    if tools_arg:
        cmd += ["--allowedTools", tools_arg]
    cmd += list(extra_args)

    proc_env = claude_env(model.url, home_path, env)
    # the installed hooks use lifeguard's resident helper, as for a user (tests/conftest.py turns
    # it off for the unit tests' own hook runs); it is stopped when the run is over
    if not (env and "LIFEGUARD_HELPER" in env):
        proc_env["LIFEGUARD_HELPER"] = "1"
    timed_out = False
    helper_was_running = False
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=str(workspace),
            env=proc_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        if interrupt_when is not None:
            _interrupt_when(proc, Path(interrupt_when), timeout)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            try:
                stdout, stderr = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                stdout, stderr = "", ""
        else:
            # Reap stray children (background hooks, shells) left in the group.
            _kill_group(proc, quiet=True)
        rc = proc.returncode
    finally:
        helper_was_running = stop_helper(workspace)
        if own_model:
            model.stop()
        if own_home and not keep_home:
            shutil.rmtree(home_path, ignore_errors=True)

    parsed = _parse_json_output(stdout) if output_format == "json" else None
    return Result(rc, stdout, stderr, parsed, model, timed_out,
                  home_path if (keep_home or not own_home) else None, helper_was_running)


def _interrupt_when(proc: subprocess.Popen[str], marker: Path, timeout: float) -> None:
    """SIGINT to the CLI (not its group: the user's Ctrl-C reaches the CLI) once `marker` exists."""
    deadline = time.monotonic() + timeout
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a file the scripted command creates; no other signal exists
    if proc.poll() is None and marker.exists():
        proc.send_signal(signal.SIGINT)


def stop_helper(workspace: str | os.PathLike[str]) -> bool:
    """Stop the resident helper a run left for ``workspace``; True if one was running."""
    import sys

    lib = str(Path(__file__).resolve().parents[2] / "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    from lifeguard.hook import helper

    claude = str(Path(workspace) / ".claude")
    was = helper.running(claude)
    helper.stop(claude)
    return was


def _kill_group(proc: subprocess.Popen[str], quiet: bool = False) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM if quiet else signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    if not quiet:
        return
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
