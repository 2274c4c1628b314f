"""Injected I/O errors (ENOSPC, EIO, EACCES) at the N-th file operation, for every N.

Each case fails the N-th call to os.open / write / fsync / fdatasync / replace / rename /
ftruncate / mkdir either once or from then on, runs a piece of lifeguard, then lets the
disk work again and checks: no hang (an alarm guards every case), no exception other than
the OSError a hook fails open on, the state opens, validates and equals a replay of its
log, sequence numbers are contiguous, and every acknowledged event is in the log.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.upkeep import cleanup, repair
from lifeguard.store import state as state_mod
from lifeguard.hook.pipeline import handle
from lifeguard.core.paths import Layout
from lifeguard.upkeep.schema import validate_state
from lifeguard.store.session import SessionStore

SID = "faulty"
OPS = ("open", "write", "fsync", "fdatasync", "replace", "rename", "ftruncate", "mkdir")


def _no_sync(fd: int) -> None:
    os.fstat(fd)  # still fails on a bad descriptor, like the real call


class Injector:
    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        self.fail_at: int | None = None
        self.forever = False
        self.err = errno.ENOSPC
        self.armed = False
        self.failed = 0
        for name in OPS:
            real = getattr(os, name)
            if name in ("fsync", "fdatasync"):  # durability is not under test here, speed is welcome
                real = _no_sync
            monkeypatch.setattr(os, name, self._wrap(real))

    def _wrap(self, real):
        def op(*args, **kwargs):
            if self.armed:
                self.count += 1
                if self.fail_at is not None and (self.count == self.fail_at or (self.forever and self.count > self.fail_at)):
                    self.failed += 1
                    raise OSError(self.err, os.strerror(self.err))
            return real(*args, **kwargs)

        return op

    def arm(self, fail_at: int | None, forever: bool, err: int) -> None:
        self.count, self.fail_at, self.forever, self.err, self.failed, self.armed = 0, fail_at, forever, err, 0, True

    def disarm(self) -> None:
        self.armed = False


def _alarm(signum, frame):
    raise TimeoutError("hung")


def guarded(fn, seconds: int = 20):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        return fn()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def verify(layout: Layout, acked: set[int]) -> None:
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:  # writing works again: it must open
        opened = txn.state
        last = txn.last_seq
    state = state_mod.load(layout.session_file(SID))
    assert state is not None and validate_state(state) == []
    view = repair.LogView(layout, SID, FEATURES)
    assert view.complete, view.problems()
    assert view.replay == state == opened and view.last_seq == last
    seqs = {r["seq"] for r in view.after} | set(range(1, view.base + 1))
    assert acked <= seqs, f"acknowledged events missing: {sorted(acked - seqs)}"


def store_work(layout: Layout, acked: set[int]) -> None:
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
        for i in range(3):
            acked.add(txn.commit({"event": "PostToolUse", "tool": "Bash", "input": {"n": i}}))
        cleanup.compact(layout, SID, txn.state, txn.last_seq)
        acked.add(txn.commit({"event": "Stop"}))


def baseline(tmp_path: Path, name: str) -> Layout:
    layout = Layout(tmp_path / name / ".claude")
    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
        txn.commit({"event": "SessionStart"})
        txn.commit({"event": "PostToolUse", "tool": "Read"})
    return layout


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO, errno.EACCES])
@pytest.mark.parametrize("forever", [False, True], ids=["once", "forever"])
def test_store_survives_a_fault_at_every_operation(tmp_path, monkeypatch, err, forever):
    inj = Injector(monkeypatch)
    layout = baseline(tmp_path, "count")
    inj.arm(None, False, err)
    store_work(layout, set())
    inj.disarm()
    total = inj.count
    assert total > 20  # the work really does touch the disk many times
    for n in range(1, total + 1):
        layout = baseline(tmp_path, f"{n}")
        acked = {1, 2}
        inj.arm(n, forever, err)
        try:
            guarded(lambda: store_work(layout, acked))
        except OSError as exc:
            assert exc.errno == err
        finally:
            inj.disarm()
        assert inj.failed >= 1, f"op {n} was never reached"
        verify(layout, acked)


def hook(layout: Layout, event: str, **extra) -> dict:
    return handle(event, {"session_id": SID, "hook_event_name": event, "cwd": "/w", **extra}, layout)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EACCES])
def test_hooks_fail_open_from_memory_and_catch_up(tmp_path, monkeypatch, err):
    inj = Injector(monkeypatch)
    layout = baseline(tmp_path, "count")
    inj.arm(None, False, err)
    hook(layout, "PostToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_response={})
    inj.disarm()
    told = 0
    for n in range(1, inj.count + 1):
        layout = baseline(tmp_path, f"{n}")
        inj.arm(n, True, err)
        try:
            out = guarded(lambda: hook(layout, "PostToolUse", tool_name="Bash", tool_input={"command": "ls"},
                                       tool_response={}))
            assert isinstance(out, dict)
            told += "cannot write its state" in out.get("systemMessage", "")
        except OSError:
            pass  # outside the transaction: the runner fails open with {}
        finally:
            inj.disarm()
        verify(layout, {1, 2})
        # writing works again: the next hook catches up (a spooled event is folded in)
        hook(layout, "PostToolUse", tool_name="Read", tool_input={}, tool_response={})
        verify(layout, {1, 2})
    assert told >= 1  # the user was told about memory-only mode


def test_memory_only_notice_once_per_session_and_event_kept_in_spool(tmp_path, monkeypatch):
    layout = baseline(tmp_path, "ws")
    from lifeguard.store import eventlog

    real_append = eventlog.append

    def full_disk(path, record):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(eventlog, "append", full_disk)
    first = hook(layout, "PostToolUse", tool_name="Bash", tool_input={}, tool_response={})
    second = hook(layout, "PostToolUse", tool_name="Bash", tool_input={}, tool_response={})
    assert "cannot write its state" in first["systemMessage"] and "spool" in first["systemMessage"]
    assert "cannot write its state" not in second.get("systemMessage", "")
    assert len(list(layout.session_spool(SID).iterdir())) == 2
    monkeypatch.setattr(eventlog, "append", real_append)
    hook(layout, "PostToolUse", tool_name="Read", tool_input={}, tool_response={})
    state = state_mod.load(layout.session_file(SID))
    assert state["execution"]["tools"]["by_name"]["Bash"]["calls"] == 2  # caught up from the spool
    assert state_mod.sequence(state) == 5
    verify(layout, {1, 2, 3, 4, 5})


def test_failed_fsync_is_not_committed_and_not_retried(tmp_path, monkeypatch):
    layout = baseline(tmp_path, "ws")
    size = layout.event_log(SID).stat().st_size
    calls = []

    def bad_fdatasync(fd):
        calls.append(fd)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", bad_fdatasync)
    with pytest.raises(OSError):
        with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:
            txn.commit({"event": "Stop"})
    assert len(calls) == 1  # never retried
    monkeypatch.undo()
    assert layout.event_log(SID).stat().st_size == size  # the line was cut off again
    verify(layout, {1, 2})


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "somewhere")


@pytest.mark.parametrize("fails, said, told", [
    # only the snapshot could not be written: the event IS in the log
    (("snapshot",), "event logged; the state snapshot was not updated",
     "this event is in the log; only the state snapshot is behind"),
    # the log could not be written, the spool could
    (("log",), "event not logged; kept in the spool for the next hook",
     "this event is kept in the spool and is added to the log later"),
    (("log", "spool"), "event not saved: neither the log nor the spool could be written",
     "events are not being recorded until then"),
])
def test_a_full_disk_says_exactly_what_was_saved(tmp_path, monkeypatch, capsys, fails, said, told):
    from lifeguard.core import fsutil
    from lifeguard.store import eventlog

    layout = baseline(tmp_path, "ws")
    capsys.readouterr()
    if "snapshot" in fails:
        monkeypatch.setattr(state_mod, "save", _no_space)
    if "log" in fails:
        monkeypatch.setattr(eventlog, "append", _no_space)
    if "spool" in fails:
        monkeypatch.setattr(fsutil, "atomic_write", _no_space)
    out = hook(layout, "PostToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_response={})
    err = capsys.readouterr().err
    assert f"lifeguard: {said} (No space left on device" in err
    assert "state not saved" not in err and "working from memory" not in err
    assert told in out["systemMessage"]
    monkeypatch.undo()
    logged = [r["event"] for r in eventlog.iter_records(layout.event_log(SID))]
    assert logged.count("PostToolUse") == (1 if "log" in fails else 2)
