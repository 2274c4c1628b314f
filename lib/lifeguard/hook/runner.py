"""The fail-open runner every hook runs inside.

It reads stdin with a bound, runs the handler under an internal deadline well below the
`timeout` in settings.json, prints exactly one JSON object and exits 0. Any fault inside
lifeguard (bad input, a slow disk, a held lock, a bug) becomes: exit 0, `{}` on stdout,
one line on stderr, and a record in `.claude/state/faults.jsonl` (and in the session's
event log when it can be had). No traceback ever reaches the user or the model.
"""

from __future__ import annotations

import json
import os
import _signal  # the C module itself: `signal` costs a hook 0.5 ms more to import (its enums)
import sys
import time

from . import protocol
from ..config import switch
from .timeout import deadline_for, settings_timeout
from ..core.paths import Layout, find_claude_dir
from ..telemetry import samples, trigger
from ..alerts import codes


INPUT_RESERVE_SECONDS = 0.4  # of a late input's wait, kept to spool its event and note the fault


class DeadlineExceeded(Exception):
    pass


class HelperLost(Exception):
    """The resident helper's worker took the hook and ended without an exit code (client.py)."""


def _on_alarm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise DeadlineExceeded()


def _arm(seconds: float) -> None:
    _signal.signal(_signal.SIGALRM, _on_alarm)
    _signal.setitimer(_signal.ITIMER_REAL, seconds)


def _on_unraisable(unraisable) -> None:
    """An exception Python cannot raise (in a weakref callback or __del__): never a traceback.

    The deadline can strike inside such a callback (importlib's module locks have one); it is
    then swallowed, so it is fired again a moment later, where it can be raised.
    """
    if isinstance(unraisable.exc_value, DeadlineExceeded):
        _signal.setitimer(_signal.ITIMER_REAL, 0.01)


def _disarm() -> None:
    _signal.setitimer(_signal.ITIMER_REAL, 0)




def run(event: str, hook_file: str, handler=None, raw: bytes | None = None, invocation: str | None = None,
        started: float | None = None, on_written=None, budget: float | None = None, on_answered=None) -> int:
    """Run one hook invocation; returns the exit code (always 0). Through the helper, the client
    or worker passes the input it read (`raw`), the invocation's id and what to call once the
    event record is written (inflight.begin), and when the hook started (`started`,
    time.monotonic()): the deadlines count from then, unless `budget` gives the handler's
    seconds from now (a client finishing a hook its worker left). A worker also passes what
    hands the answer over (`on_answered`), called once it is printed: what follows it (the cost
    sample, the exporter) is then off the hook's time."""
    started = time.monotonic() if started is None else started
    claude = find_claude_dir(hook_file)  # once: resolving the hook's path costs a stat per folder
    off = _off_notice(event, claude)
    if off is not None:
        return off
    samples.NOTE.clear()  # this invocation's measures (a helper worker's module state is fresh anyway)
    out: dict = {}
    failure: BaseException | None = None
    inp: dict = {}
    chunks: list[bytes] = []  # stdin as read so far: kept when the deadline strikes mid-read
    layout: Layout | None = None
    previous_hook, sys.unraisablehook = sys.unraisablehook, _on_unraisable
    from ..store import inflight

    inflight.begin(invocation, on_written)
    try:
        if handler is None:
            # imported before the deadline is armed: a hook that ran out of time in the middle of
            # its imports would have to import them all again to keep its event (the fault path
            # builds the record with every feature), and on a crowded machine could not. The
            # import still counts against the budget, which runs from `started`.
            from .pipeline import handle as handler
        if budget is None:
            budget = deadline_for(settings_timeout()) - (time.monotonic() - started)
        _arm(max(0.01, budget))
        if raw is None:
            raw = _read_stdin(chunks, None)
        inp = protocol.parse(raw)
        event = inp.get("hook_event_name") or event
        layout = Layout(claude)
        out = handler(event, inp, layout)
        _disarm()
    except BaseException as exc:  # noqa: BLE001 - failing open is the point
        _disarm()
        out = {}
        failure = exc
        if isinstance(exc, DeadlineExceeded) and not inp and raw is None:
            inp = _input_after_deadline(chunks, started)
        _fail_open(event, inp, layout, hook_file, exc, time.monotonic() - started)
    _print(out if isinstance(out, dict) else {})
    if on_answered is not None:
        on_answered()
    _afterwards(event, inp, layout, started, failure)
    sys.unraisablehook = previous_hook
    return 0


def _read_stdin(chunks: list[bytes], wait: float | None) -> bytes:
    """stdin up to MAX_INPUT_BYTES + 1 bytes, into `chunks` as it comes. `wait`: at most that
    long for more (None: until it closes)."""
    import select

    from ..store import inflight

    buffer = sys.stdin.buffer
    until = None if wait is None else time.monotonic() + wait
    while sum(map(len, chunks)) <= protocol.MAX_INPUT_BYTES:
        # Wait for input where the deadline can strike, then read and keep it with the deadline
        # held back: struck between a read and keeping what it returned, the bytes were gone
        # (and with them the event, on a crowded machine).
        try:
            left = None if until is None else max(0.0, until - time.monotonic())
            if not select.select([buffer.fileno()], [], [], left)[0]:
                break
        except (OSError, ValueError, AttributeError):  # not a real file (tests): read what is there
            pass
        with inflight.durable():
            chunk = buffer.read1(1 << 20)
            chunks.append(chunk)
        if not chunk:
            break
    return b"".join(chunks)


def _input_after_deadline(chunks: list[bytes], started: float) -> dict:
    """Out of time before the input was read (a crowded machine: the hook started late, or its
    input was written late): the rest is waited for as long as lifeguard-run's `timeout` allows
    (the settings timeout less 1 s, less INPUT_RESERVE_SECONDS to keep the event; at least
    0.2 s) and parsed, so that the event is kept; {} when it is not complete by then."""
    wait = max(0.2, settings_timeout() - 1.0 - INPUT_RESERVE_SECONDS - (time.monotonic() - started))
    try:
        return protocol.parse(_read_stdin(chunks, wait))
    except Exception:  # noqa: BLE001 - no event to keep
        return {}


def _off_notice(event: str, claude) -> int | None:
    """When lifeguard is off (switch.py): exit 0 having written nothing; at SessionStart one line
    tells the user it is off and how to turn it on. None when lifeguard is on."""
    reason = switch.off_reason(claude)
    if reason is None:
        return None
    if event == "SessionStart":
        _print({"systemMessage": switch.off_message(reason)})
    return 0


def _print(out: dict) -> None:
    try:
        sys.stdout.write(protocol.dumps(out))
        sys.stdout.flush()
    except (OSError, ValueError):
        pass  # Claude Code went away; nothing to tell


def _afterwards(event: str, inp: dict, layout: Layout | None, started: float, failure: BaseException | None) -> None:
    """Once the answer is out: what this hook cost (telemetry/samples.py, for `stats` and the
    exporter), and the exporter started when due (telemetry/trigger.py). Best effort: neither is
    worth a fault."""
    session = inp.get("session_id") if isinstance(inp, dict) else None
    if layout is None or not isinstance(session, str):
        return
    from .trust import trusted_state

    if not trusted_state(layout.state):
        return  # a symlinked or shared state folder: nothing is created through it
    sample = {"ts": round(time.time(), 3), "s": session[:200], "e": event,
              "ms": round((time.monotonic() - started) * 1000, 2)}
    if "q" in samples.NOTE:
        sample["q"] = samples.NOTE["q"]
    if isinstance(inp.get("tool_name"), str):
        sample["tool"] = inp["tool_name"][:200]
    if isinstance(failure, DeadlineExceeded):
        sample["to"] = 1
    try:
        samples.append(layout.state, sample)
    except (OSError, ValueError):
        pass
    try:  # the OpenTelemetry exporter, when switched on and due (started detached; never waited for)
        trigger.after_hook(layout.claude, layout.state, event, samples.NOTE.get("telemetry"))
    except Exception:  # noqa: BLE001 - exporting is never worth a hook's failure
        pass


def fail_open(event: str, hook_file: str, exc: BaseException, started: float) -> None:
    """Fail open for a fault met outside `run` (client.py): one stderr line, the fault recorded."""
    _fail_open(event, {}, None, hook_file, exc, time.monotonic() - started)


def describe(exc: BaseException) -> tuple[str, str]:
    """(error code, one-line description) for a fault."""
    if isinstance(exc, HelperLost):
        return codes.HOOK_HELPER_LOST, str(exc)  # says whether the event was recorded
    if isinstance(exc, protocol.BadInput):
        return codes.HOOK_INPUT_INVALID, f"bad hook input: {exc}"
    if isinstance(exc, DeadlineExceeded):
        return codes.HOOK_TIMEOUT, "ran out of its time budget (slow disk or busy lock?)"
    if isinstance(exc, TimeoutError):
        return codes.SESSION_LOCKED, f"{exc}"
    if isinstance(exc, PermissionError):
        return codes.WORKSPACE_ACCESS_DENIED, f"permission denied: {exc.filename or exc}"
    if isinstance(exc, OSError):
        return codes.PERSISTENCE_FAILED, f"{exc.strerror or exc} ({exc.filename or 'state folder'})"
    if isinstance(exc, MemoryError):
        return codes.MEMORY_EXHAUSTION, "out of memory"
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return codes.INTERNAL_ERROR, f"{type(exc).__name__}: {first}".rstrip(": ")


def _fail_open(event: str, inp: dict, layout: Layout | None, hook_file: str, exc: BaseException, elapsed: float) -> None:
    code, text = describe(exc)
    try:
        layout = layout or Layout(find_claude_dir(hook_file))
        where = _record_fault(layout, event, inp, code, text, exc, elapsed)
    except BaseException:  # noqa: BLE001 - recording is best effort
        where = None
    suffix = f" (recorded in {where})" if where else ""
    try:
        sys.stderr.write(f"lifeguard: {event} hook failed open [{code}]: {text}{suffix}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _record_fault(layout: Layout, event: str, inp: dict, code: str, text: str, exc: BaseException, elapsed: float) -> str | None:
    from ..core import fsutil
    from ..core.clock import now_iso
    from ..store import inflight

    # recording a fault gets a budget of its own: what is left before lifeguard-run's `timeout`
    # kills the hook (the settings timeout less 1 s), and at least 1 s; keeping the event and
    # writing the fault line share it, the event first (the fault line is only a note)
    until = time.monotonic() + max(1.0, settings_timeout() - 1.0 - elapsed - 0.25)
    if code == codes.HOOK_TIMEOUT and not inflight.settled() and isinstance(inp, dict) and inp:
        _keep_unsaved(event, inp, layout, text, until)
    _arm(max(0.05, until - time.monotonic()))
    try:
        fault = {"ts": now_iso(), "event": event, "code": code, "message": text,
                 "exception": type(exc).__name__, "elapsed_ms": round(elapsed * 1000, 1),
                 "pid": os.getpid()}
        session_id = inp.get("session_id") if isinstance(inp, dict) else None
        if isinstance(session_id, str):
            fault["session"] = session_id
        if code not in (codes.HOOK_TIMEOUT, codes.HOOK_HELPER_LOST):  # fixed texts need no costly redactor
            from ..redact import redactor as redact

            if redact.active().state_dir != layout.state:  # failed before the handler set it up
                redact.configure(None, layout)
            fault = redact.scrub_value(fault)  # an exception's text can quote the input
            text = fault["message"]
        fsutil.ensure_private_dir(layout.state)
        fsutil.quarantine_planted(layout.quarantine, layout.faults_path)  # never append through a link
        line = json.dumps(fault, ensure_ascii=True, default=str) + "\n"
        fsutil.append_durable(layout.faults_path, line.encode("ascii"))
        # as the user finds it from the project folder: .claude/state/faults.jsonl
        where = os.path.join(os.path.basename(layout.claude), "state", "faults.jsonl") if os.path.isabs(layout.claude) else layout.faults_path
        if isinstance(session_id, str) and code not in (codes.SESSION_LOCKED, codes.HOOK_TIMEOUT, codes.PERSISTENCE_FAILED):
            from ..features.registry import FEATURES
            from ..store.session import SessionStore

            record = {"event": "LifeguardFault", "hook": event, "fault": {"code": code, "message": text}}
            try:
                with SessionStore(layout, session_id, lock_timeout=0.3, reducers=FEATURES).transaction() as txn:
                    txn.commit(record)
            except TimeoutError:
                SessionStore(layout, session_id, reducers=FEATURES).spool(record)
        return where
    finally:
        _disarm()


def _keep_unsaved(event: str, inp: dict, layout: Layout, text: str, until: float) -> None:
    """Out of time before the event was saved: keep it in the spool (no lock needed) for the next
    hook to commit, whatever happens meanwhile: a hook that exits 0 never loses its event. Only
    building the record the handler's way may be slow, so only that runs under a deadline
    (`until`, time.monotonic()); when it strikes, on a crowded machine even before the building began,
    the bare record is kept. The rest runs with no deadline armed: writing a spool file takes
    milliseconds (spooling folds nothing: no features)."""
    from ..store import inflight

    pending = inflight.held()
    if pending is None:
        _arm(max(0.01, until - time.monotonic()))
        try:
            pending = _unsaved_record(event, inp, layout)
        except DeadlineExceeded:
            pending = _bare_record(event, inp)
        finally:
            _disarm()
        inflight.tag(pending)
    pending.setdefault("notices", []).append({"code": codes.HOOK_TIMEOUT, "kind": "fault", "message": text[:300]})
    with inflight.durable():
        from ..store.session import SessionStore

        SessionStore(layout, inp.get("session_id") or "unknown", reducers=()).spool(pending)


def _unsaved_record(event: str, inp: dict, layout: Layout) -> dict:
    """The record of an event whose hook ran out of time before its handler held one. Built the
    handler's way only when the handler had not begun building it and that code is loaded (a
    warm worker): building is what may have been slow (a huge input, a slow redaction pattern),
    and importing it is what is slow under load, so neither is done a second time. Else a bare
    record of what is sure: the event, and the tool and call it was about (plain names only,
    so no unredacted text reaches the log)."""
    from ..store import inflight

    pipeline = sys.modules.get(__package__ + ".pipeline")
    if pipeline is not None and not inflight.attempted():
        try:
            return pipeline.prepare(event, inp, layout)[1]
        except DeadlineExceeded:  # slow after all: what is sure, below
            pass
    return _bare_record(event, inp)


def _bare_record(event: str, inp: dict) -> dict:
    """What is sure of an event: its name, and the tool and call it was about (plain names only)."""
    record: dict = {"event": event}
    for key, field in (("tool_name", "tool"), ("tool_use_id", "tuid"), ("agent_id", "agent")):
        value = inp.get(key)
        if isinstance(value, str) and 0 < len(value) <= 200 and value.replace("_", "").replace("-", "").isalnum():
            record[field] = value
    return record

