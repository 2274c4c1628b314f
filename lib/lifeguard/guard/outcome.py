"""What one guarded execution means, and what the guard answers Claude Code.

Pass-through is the rule: the command's exit code, stdout and stderr go back unchanged (exit 2
still blocks). The guard answers by itself only when the hook could not give an answer: it
timed out, could not start (missing, not executable), or was skipped (breaker, loop). Then
it exits 0 so the session continues (exit 2 with `--on-timeout block`), prints one stderr
line, and (on exit 0) tells the user in a systemMessage.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass

from .process import MAX_OUTPUT_BYTES, Execution
from ..alerts import codes

OK, BLOCKED, FAILED, TIMEOUT, MISSING, DENIED, SKIPPED = "ok", "blocked", "failed", "timeout", "missing", "denied", "skipped"
FAILURES = frozenset({FAILED, TIMEOUT, MISSING, DENIED})
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})
SETTINGS_HINT = "the command in .claude/settings.json"


@dataclass
class Answer:
    outcome: str
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    code: str | None = None  # error code (errors.py) when the guard, not the hook, answered
    message: str | None = None  # the guard's one line for the user
    verdict: str = "allow"  # the effective decision: "allow" or "block"
    command_exit: int | None = None  # what the command itself exited with, if it did


LABEL_CHARS = 60


def describe(argv: list[str], event: str = "") -> str:
    """The hook as the user knows it: "your PreToolUse hook `./check.sh --fast`"."""
    return f"your {event} hook `{label(argv)}`" if event else f"your hook `{label(argv)}`"


def label(argv: list[str]) -> str:
    """The command as the user wrote it in settings.json, secrets masked, a long one cut at a
    word. (The guard's `--name` stays an internal key, never shown.)"""
    from ..store.record import scrub  # the one redactor every record goes through

    text = " ".join((argv[2] if via_shell(argv) else " ".join(argv)).split())
    text = scrub(text)
    if len(text) > LABEL_CHARS:
        cut = text[:LABEL_CHARS].rsplit(" ", 1)[0]
        text = (cut if len(cut) > LABEL_CHARS // 2 else text[:LABEL_CHARS]) + "..."
    return text


def via_shell(argv: list[str]) -> bool:
    return len(argv) >= 3 and os.path.basename(argv[0]) in SHELLS and argv[1] == "-c"


def stdout_blocks(stdout: bytes) -> bool:
    """Whether an exit-0 answer refuses something (JSON decision fields), for loop replay."""
    text = stdout.strip()
    if not text.startswith(b"{") or len(text) > 1 << 20:
        return False
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    specific = data.get("hookSpecificOutput")
    decision = specific.get("permissionDecision") if isinstance(specific, dict) else None
    return data.get("decision") == "block" or data.get("continue") is False or decision in ("deny", "ask")


def guard_answer(outcome: str, code: str, message: str, block: bool) -> Answer:
    """The guard answering for a hook that gave no answer: exit 0 (or 2 when failing closed)."""
    if block:
        return Answer(outcome, 2, b"", (message + "\n").encode(), code, message, "block")
    out = json.dumps({"systemMessage": message}, ensure_ascii=True).encode() + b"\n"
    return Answer(outcome, 0, out, (message + "\n").encode(), code, message, "allow")


def classify(ex: Execution, argv: list[str], who: str, timeout: float, block: bool) -> Answer:
    """`who`: the hook as the user knows it (`describe`)."""
    if ex.spawn_error is not None:
        return _spawn_failure(ex.spawn_error, argv, who, block)
    if ex.timed_out:
        how = "this call is blocked (--on-timeout block)" if block else "the session continues"
        if ex.survivors:
            named = ", ".join(f"{pid} ({what})" for pid, what in ex.survivors[:5])
            more = f" and {len(ex.survivors) - 5} more" if len(ex.survivors) > 5 else ""
            ended = (f"ended its process group, but what it started outside that group is still running: "
                     f"pid {named}{more}")
        else:
            ended = "ended it and everything it started"
        message = (f"lifeguard: {who} did not finish within {timeout:g}s; {ended} [HOOK_TIMEOUT]; {how}. "
                   f"Fix: make it faster or raise its timeout in .claude/settings.json.")
        return guard_answer(TIMEOUT, codes.HOOK_TIMEOUT, message, block)
    answer = _passed_through(ex, argv, who, block)
    cut = ex.cut()
    if cut and answer.code not in (codes.HOOK_DEPENDENCY_MISSING, codes.HOOK_PERMISSION_DENIED):
        said = ", ".join(f"{size} bytes to {stream}" for stream, size in cut.items())
        note = (f"lifeguard: {who} wrote {said}; Claude Code was given only the first "
                f"{MAX_OUTPUT_BYTES >> 20} MiB.\n")
        answer.stderr = answer.stderr + (b"" if answer.stderr.endswith(b"\n") or not answer.stderr else b"\n") + note.encode()
    return answer


def _passed_through(ex: Execution, argv: list[str], who: str, block: bool) -> Answer:
    """The answer of a command that ran and exited by itself."""
    code = ex.exit_code if ex.exit_code is not None else 1
    if via_shell(argv) and code in (126, 127):
        detail = _first_line(ex.stderr) or argv[2][:120]
        if code == 127:
            message = (f"lifeguard: {who} could not run: command not found ({detail}) [HOOK_DEPENDENCY_MISSING]. "
                       f"Fix: install it, or correct {SETTINGS_HINT}.")
            answer = guard_answer(MISSING, codes.HOOK_DEPENDENCY_MISSING, message, block)
        else:
            message = (f"lifeguard: {who} could not run: not executable ({detail}) [HOOK_PERMISSION_DENIED]. "
                       f"Fix: chmod +x the script, or run it through its interpreter in {SETTINGS_HINT}.")
            answer = guard_answer(DENIED, codes.HOOK_PERMISSION_DENIED, message, block)
        answer.command_exit = code
        return answer
    if code == 0:
        verdict = "block" if stdout_blocks(ex.stdout) else "allow"
        return Answer(OK, 0, ex.stdout, ex.stderr, verdict=verdict, command_exit=0)
    if code == 2:
        return Answer(BLOCKED, 2, ex.stdout, ex.stderr, verdict="block", command_exit=2)
    return Answer(FAILED, code, ex.stdout, ex.stderr, codes.HOOK_EXECUTION_FAILED, verdict="allow", command_exit=code)


def _spawn_failure(exc: OSError, argv: list[str], who: str, block: bool) -> Answer:
    program = argv[0] if argv else "(no command)"
    if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
        message = (f"lifeguard: {who} could not run: {program} is not executable [HOOK_PERMISSION_DENIED]. "
                   f"Fix: chmod +x {program}, or run it through its interpreter in {SETTINGS_HINT}.")
        return guard_answer(DENIED, codes.HOOK_PERMISSION_DENIED, message, block)
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
        what = (f"{program} exists but its #! interpreter was not found" if os.path.exists(program)
                else f"{program} was not found")
        message = (f"lifeguard: {who} could not run: {what} [HOOK_DEPENDENCY_MISSING]. "
                   f"Fix: install it, or correct {SETTINGS_HINT}.")
        return guard_answer(MISSING, codes.HOOK_DEPENDENCY_MISSING, message, block)
    message = (f"lifeguard: {who} could not run: {program}: {exc.strerror or exc} [HOOK_EXECUTION_FAILED]. "
               f"Fix: check {SETTINGS_HINT}.")
    return guard_answer(FAILED, codes.HOOK_EXECUTION_FAILED, message, block)


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""
