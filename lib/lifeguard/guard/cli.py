"""The guard's flow: read stdin, decide (re-entry, breaker, loop), run, answer, record.

Never hangs: stdin is read with a bound, the command runs under `--timeout`, and a SIGALRM
backstop a little later ends whatever is still running and answers anyway. Never breaks the
session: anything that goes wrong inside the guard itself exits 0 with one stderr line
(exit 2 with `--on-timeout block`, which asks the guard to fail closed).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import sys
import time
from dataclasses import dataclass

from . import environment, hookinput, outcome, policy, process
from .outcome import Answer, guard_answer
from ..alerts import codes

STDIN_SECONDS = 1.0
BACKSTOP_EXTRA = 2.5  # the guard's own deadline: --timeout plus the kill grace and recording
USAGE = "guard.py --timeout SECONDS [--on-timeout block|allow] [--name NAME] -- COMMAND [ARGS...]"


class UsageError(ValueError):
    pass


class Backstop(Exception):
    """The guard's own deadline."""


@dataclass
class Options:
    timeout: float
    block: bool
    name: str
    command: list[str]


def parse_args(argv: list[str]) -> Options:
    if "--" not in argv:
        raise UsageError("missing `--` before the command")
    split = argv.index("--")
    opts, command = argv[:split], argv[split + 1:]
    if not command:
        raise UsageError("no command after `--`")
    values = {"--timeout": None, "--on-timeout": "allow", "--name": None}
    i = 0
    while i < len(opts):
        key, _, inline = opts[i].partition("=")
        if key not in values:
            raise UsageError(f"unknown option {opts[i]!r}")
        if inline:
            values[key] = inline
        elif i + 1 < len(opts):
            values[key] = opts[i + 1]
            i += 1
        else:
            raise UsageError(f"{key} needs a value")
        i += 1
    try:
        timeout = float(values["--timeout"] or "")
    except ValueError:
        raise UsageError("--timeout SECONDS is required (a number)") from None
    if not 0 < timeout <= 3600:
        raise UsageError("--timeout must be between 0 and 3600 seconds")
    if values["--on-timeout"] not in ("block", "allow"):
        raise UsageError("--on-timeout takes block or allow")
    name = safe_hook_name(values["--name"]) if values["--name"] else default_name(command)
    return Options(timeout, values["--on-timeout"] == "block", name, command)


def safe_hook_name(raw: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)[:80] or "hook"


def default_name(command: list[str]) -> str:
    """A stable, readable name: the program's base name plus a hash of the whole command."""
    words = command
    if outcome.via_shell(command):
        try:
            words = shlex.split(command[2]) or command
        except ValueError:
            words = command[2].split() or command
    digest = hashlib.sha256("\0".join(command).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe_hook_name(os.path.basename(words[0]))[:40]}-{digest}"


def _wants_block(argv: list[str]) -> bool:
    """`--on-timeout block` honoured even when the rest of the arguments are broken."""
    opts = argv[: argv.index("--")] if "--" in argv else argv
    return "--on-timeout=block" in opts or any(a == "--on-timeout" and b == "block" for a, b in zip(opts, opts[1:]))


def _on_alarm(signum, frame):  # noqa: ARG001
    raise Backstop()


def main(argv: list[str], hook_file: str) -> int:
    """Run the guard; the exit status, with a deliberate 2 reported as `LIFEGUARD_BLOCK_STATUS`
    when hooks/guard-run asks for it (so uv's own exit 2 cannot pass for a block)."""
    code = _main(argv, hook_file)
    if code == 2:
        try:
            return int(os.environ.get("LIFEGUARD_BLOCK_STATUS", "2"))
        except ValueError:
            return 2
    return code


def _main(argv: list[str], hook_file: str) -> int:
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        message = f"lifeguard: guard.py: {exc}; the hook was not run. Fix its command in .claude/settings.json (usage: {USAGE})."
        return emit(guard_answer(outcome.FAILED, codes.HOOK_EXECUTION_FAILED, message, _wants_block(argv)))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, STDIN_SECONDS + opts.timeout + BACKSTOP_EXTRA)
    answer: Answer | None = None
    try:
        if _lifeguard_off(hook_file):
            return _unguarded(opts)
        run = GuardedRun(opts, hook_file)
        answer = run.execute()
        emit(answer)
        run.record(answer)
    except Backstop:
        if answer is None:
            answer = guard_answer(outcome.TIMEOUT, codes.HOOK_TIMEOUT, f"lifeguard: {_who(opts)} overran the guard's own "
                                  f"deadline; ended it [HOOK_TIMEOUT]. Fix: make it faster or raise its timeout.", opts.block)
            emit(answer)
    except Exception as exc:  # noqa: BLE001 - a fault in the guard must not break the session
        if answer is None:
            first = str(exc).splitlines()[0][:160] if str(exc) else ""
            answer = guard_answer(outcome.FAILED, codes.INTERNAL_ERROR, f"lifeguard: guard.py failed ({type(exc).__name__}: "
                                  f"{first}); {_who(opts)} was not run [INTERNAL_ERROR].", opts.block)
            emit(answer)
        else:
            _stderr(f"lifeguard: could not record the run of {_who(opts)} ({type(exc).__name__})\n")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return answer.exit_code


def _lifeguard_off(hook_file: str) -> bool:
    from ..core.paths import find_claude_dir
    from ..config.switch import off_reason

    return off_reason(find_claude_dir(hook_file)) is not None


def _unguarded(opts: Options) -> int:
    """Lifeguard is off (switch.py): the command runs as it would unguarded, its answer passed
    through, nothing recorded or added. Only the deadline stays (exit 124, as `timeout` says)."""
    raw = hookinput.read_bounded(0, seconds=min(STDIN_SECONDS, opts.timeout))
    env = {k: v for k, v in os.environ.items() if k != "LIFEGUARD_BLOCK_STATUS"}
    environment.undo_uv_run(env)
    ex = process.run(opts.command, raw, opts.timeout, env)
    if ex.spawn_error is not None:
        _stderr(f"{opts.command[0]}: {ex.spawn_error.strerror or ex.spawn_error}\n")
        return 127
    emit(Answer(outcome.OK, 0, ex.stdout, ex.stderr))
    return 124 if ex.timed_out else int(ex.exit_code or 0)


class GuardedRun:
    def __init__(self, opts: Options, hook_file: str):
        from ..core.paths import Layout, find_claude_dir

        self.opts = opts
        self.layout = Layout(find_claude_dir(hook_file))
        self.raw = hookinput.read_bounded(0, seconds=min(STDIN_SECONDS, opts.timeout))
        self.inp = hookinput.parse(self.raw)
        self.session_id = self.inp.get("session_id") if isinstance(self.inp.get("session_id"), str) else "unknown"
        self.event = str(self.inp.get("hook_event_name") or "")
        self.fingerprint = hookinput.fingerprint(self.inp, self.raw)
        self.limits = _limits(self.layout)
        self.now = time.time()
        self.who = outcome.describe(opts.command, self.event)
        self.entry: dict = {}  # this session's memory of the hook (loop window, warnings)
        self.shared: dict = {}  # the workspace's (breaker): guard/workspace.py
        self.duration = 0.0
        self.warned = False
        self.execution: process.Execution | None = None  # None: skipped, never ran

    def execute(self) -> Answer:
        from . import ledger, workspace

        opts = self.opts
        stack = environment.stack(dict(os.environ))
        if policy.reentered(opts.name, stack):
            return self._skip(codes.HOOK_INFINITE_LOOP, "re-entered itself (it started something that ran it again)",
                              always_warn=True)
        try:
            self.entry = ledger.read_entry(self.layout, self.session_id, opts.name)
        except Exception:  # noqa: BLE001 - no memory is better than no hook
            self.entry = {}
        self.shared = workspace.entry(self.layout, opts.name)
        if policy.breaker_open(self.shared, self.now):
            left = max(1, round(self.shared["open_until"] - self.now))
            return self._skip(codes.CIRCUIT_OPEN, f"failed {self.shared.get('failures_in_row')} times in a row; paused in "
                              f"this project for another {left}s, then tried again. Run it by hand to see why")
        reason = policy.loop_reason(self.entry, self.fingerprint, self.now, self.limits)
        if reason:
            return self._skip(codes.HOOK_INFINITE_LOOP, f"looks like a loop ({reason}); skipped this run")
        env = environment.clean_env(dict(os.environ), self.session_id, self._workspace(), opts.name)
        ex = process.run(opts.command, self.raw, opts.timeout, env, float(self.limits["kill_grace_seconds"]))
        answer = outcome.classify(ex, opts.command, self.who, opts.timeout, opts.block)
        self.duration = ex.duration
        self.execution = ex
        failed = answer.outcome in outcome.FAILURES
        if policy.trips_breaker(self.shared, failed, int(self.limits["failure_threshold"])):
            note = (f"lifeguard: {self.who} failed {int(self.shared.get('failures_in_row') or 0) + 1} times in a row; "
                    f"pausing it in this project for {float(self.limits['cooldown_seconds']):g}s, then trying again "
                    f"[CIRCUIT_OPEN].")
            answer = _with_note(answer, note)
            self.warned = answer.exit_code == 0 and answer.message is not None  # told in a systemMessage
        return answer

    def _skip(self, code: str, why: str, always_warn: bool = False) -> Answer:
        opts = self.opts
        verdict = "block" if opts.block else policy.replayed_verdict(self.entry, self.fingerprint, self.event)
        effect = "this call stays blocked, as the hook's last answer was" if verdict == "block" else "the session continues"
        message = f"lifeguard: {self.who} {why} [{code}]; {effect}."
        self.duration = 0.0
        warn = always_warn or policy.should_warn(self.entry, self.now, float(self.limits["warn_interval_seconds"]))
        self.warned = warn
        answer = guard_answer(outcome.SKIPPED, code, message, verdict == "block")
        if not warn and answer.exit_code == 0:
            answer.stdout = b""  # said recently: keep the stderr line, spare the user a repeat
        return answer

    def _workspace(self) -> str:
        return os.environ.get("CLAUDE_PROJECT_DIR") or str(self.inp.get("cwd") or "") or str(self.layout.claude_dir.parent)

    def record(self, answer: Answer) -> None:
        from ..store.record import summarize  # summarize scrubs secrets (lifeguard.redact)
        from . import ledger, workspace

        opts = self.opts
        command = " ".join(opts.command[2:3]) if outcome.via_shell(opts.command) else shlex.join(opts.command)
        rec = {
            "event": "GuardedHook", "hook": opts.name, "command": summarize(command, 400),
            "for_event": self.event or None, "for_tool": self.inp.get("tool_name") if isinstance(self.inp.get("tool_name"), str) else None,
            "outcome": answer.outcome, "code": answer.code, "exit": answer.command_exit,
            "duration_ms": round(self.duration * 1000, 1), "timeout_s": opts.timeout, "on_timeout": "block" if opts.block else "allow",
            "guard": {"t": round(self.now, 3), "input": self.fingerprint, "verdict": answer.verdict, "warned": self.warned},
        }
        ex = self.execution
        if ex is not None and ex.cut():
            rec["output_cut"] = ex.cut()  # bytes the hook wrote, of which the first 16 MiB were passed on
        if ex is not None and ex.survivors:
            rec["survivors"] = [{"pid": pid, "name": summarize(what, 40)} for pid, what in ex.survivors[:20]]
        if answer.message:
            rec["notices"] = [{"code": answer.code, "kind": "user", "message": summarize(answer.message, 300)}]
        ledger.record(self.layout, self.session_id, rec)
        failed = answer.outcome in outcome.FAILURES
        if answer.outcome != outcome.SKIPPED and workspace.needs_update(self.shared, failed):
            workspace.update(self.layout, opts.name, failed=failed, outcome=answer.outcome, code=answer.code,
                             threshold=int(self.limits["failure_threshold"]), cooldown=float(self.limits["cooldown_seconds"]),
                             now=self.now, label=outcome.label(opts.command), event=self.event, session=self.session_id)


def _who(opts: Options) -> str:
    try:
        return outcome.describe(opts.command)
    except Exception:  # noqa: BLE001 - only for a message; the internal name will do
        return f"hook {opts.name}"


def _with_note(answer: Answer, note: str) -> Answer:
    """Add the breaker's warning to an answer, on a line of its own: to stderr always, to the
    systemMessage when the guard owns stdout."""
    answer.stderr = answer.stderr + (b"" if not answer.stderr or answer.stderr.endswith(b"\n") else b"\n") + note.encode() + b"\n"
    if answer.code and answer.message and answer.exit_code == 0:
        answer.message = f"{answer.message}\n{note}"
        import json

        answer.stdout = json.dumps({"systemMessage": answer.message}, ensure_ascii=True).encode() + b"\n"
    return answer


def _limits(layout) -> dict:
    from ..config.load import load, section

    try:
        cfg = load(layout)
    except Exception:  # noqa: BLE001 - a broken config must not stop the guard: the defaults then
        cfg = None
    return section(cfg, "guard")


def emit(answer: Answer) -> int:
    for stream, data in ((sys.stdout, answer.stdout), (sys.stderr, answer.stderr)):
        if data:
            try:
                stream.buffer.write(data)
                stream.flush()
            except (OSError, ValueError):
                pass  # Claude Code went away
    return answer.exit_code


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
