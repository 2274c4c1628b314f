"""The sweep of a workspace's other sessions (upkeep/sweep.py): what SessionStart leaves for after
its answer. A workspace of 1,000 sessions; idle ones archived with all their files, live ones never;
the answer never waits for it (in the hook's own process, a detached child; in the helper, its worker
after answering)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from planted import install, many_sessions, session_paths, wait_until

from lifeguard.core import later
from lifeguard.core.locking import LockTimeout, SessionLock
from lifeguard.hook import helper
from lifeguard.hook.pipeline import handle
from lifeguard.store import eventlog
from lifeguard.upkeep import cleanup, sweep
from lifeguard.core.paths import safe_name

NEW = "starting-now"
DAY = 24 * 3600


def start(layout, session: str = NEW) -> dict:
    return handle("SessionStart", {"session_id": session, "hook_event_name": "SessionStart", "source": "startup",
                                   "cwd": str(layout.claude_dir.parent)}, layout)


def contents(paths: list[Path], archived: bool = False) -> dict[str, bytes]:
    """A session's files by where they sit in an archive folder (`spool/...`, `checkpoints/...` for
    its folders) -> their bytes; from the state folder, or (`archived`) from the archive folder."""
    out = {}
    for path in paths:
        if path.is_dir():
            prefix = path.name if archived else path.parent.name
            out.update({f"{prefix}/{f.relative_to(path)}": f.read_bytes() for f in path.rglob("*") if f.is_file()})
        else:
            out[path.name] = path.read_bytes()
    return out


def archived_folder(layout, sid: str) -> Path:
    found = sorted((layout.archive_dir / "sessions").glob(f"{safe_name(sid)}-*"))
    assert len(found) == 1, (sid, found)
    return found[0]


def settled(files: dict[str, bytes], sid: str) -> dict[str, bytes]:
    """A session's files without what bringing its spool into its log changes: the spool, the
    log the record went into, and the state that folded it in."""
    return {k: v for k, v in files.items()
            if k not in (f"session-{safe_name(sid)}.json", f"events-{safe_name(sid)}.jsonl") and not k.startswith("spool/")}


def drained_into(log: Path, files_before: dict[str, bytes]) -> bool:
    """Whether the records that waited in the spool (files_before) are now the log's last, once each."""
    waiting = [json.loads(v) for k, v in files_before.items() if k.startswith("spool/")]
    logged = [r for r in eventlog.iter_records(log) if r.get("spool")]
    return [r["spool"] for r in logged] == [w["spool"] for w in waiting]


def sweep_records(layout, session: str = NEW) -> list[dict]:
    return [r for r in eventlog.iter_records(layout.event_log(session)) if r.get("event") == "LifeguardSweep"]


def test_a_thousand_sessions_idle_ones_archived_with_all_their_files_live_ones_never(tmp_path: Path) -> None:
    layout = install(tmp_path / "proj")
    stale = many_sessions(layout, 500, idle_hours=25, prefix="stale")
    near = many_sessions(layout, 300, idle_hours=23, prefix="near")  # the near miss: not yet idle long enough
    live = many_sessions(layout, 200, idle_hours=0.05, prefix="live")
    for n in range(5):  # what older versions left after archiving: a lock file alone
        layout.lock_file(f"gone-{n}").touch()
    before = {sid: session_paths(layout, sid) for sid in stale + near + live}
    assert all(len(paths) == 6 for sid, paths in before.items() if sid.endswith("0"))  # with extras
    kept = {sid: contents([p for p in before[sid] if p != layout.lock_file(sid)]) for sid in stale[:30]}
    untouched = {sid: contents(before[sid]) for sid in near[:30] + live[:30]}

    answer = start(layout)

    # the answer is out, and the sweep has not run: nothing was archived yet; it waits in the queue
    assert isinstance(answer, dict) and "lifeguard repaired" not in json.dumps(answer)
    assert all(os.path.lexists(p) for paths in before.values() for p in paths)
    jobs = later.take()
    assert [fn.__name__ for fn, _ in jobs] == ["after_answer"]
    for fn, args in jobs:
        fn(*args)

    for sid in stale:
        assert not [p for p in before[sid] if os.path.lexists(p)], sid  # lock, spool, snapshot, checkpoints too
    # a record its last hook spooled (the lock was busy) went into its log first (issue 14)
    for sid, data in kept.items():
        folder = archived_folder(layout, sid)
        moved = contents([p for p in folder.iterdir() if p.name != "reason.txt"], archived=True)
        assert settled(moved, sid) == settled(data, sid), sid  # every other byte, in the archive
        assert drained_into(folder / f"events-{safe_name(sid)}.jsonl", data), sid
        assert "no event for 25." in (folder / "reason.txt").read_text()
    for sid in near + live:
        assert [p for p in before[sid] if os.path.lexists(p)] == before[sid], sid
    for sid, data in untouched.items():
        assert settled(contents(before[sid]), sid) == settled(data, sid)
        assert drained_into(layout.event_log(sid), data), sid
    gone = [f"gone-{n}" for n in range(5)]
    assert not [s for s in stale + gone if os.path.lexists(layout.session_file(s)) or os.path.lexists(layout.lock_file(s))]
    [record] = sweep_records(layout)
    assert record["archived"] == 500 and record["locks_removed"] == 5 and record["failed"] == []
    assert record["drained"] == 100  # every 10th session had a record waiting in its spool
    assert sweep.last_report(layout)["archived"] == sorted(safe_name(s) for s in stale)  # by file-name id

    # the next start finds nothing to do, and says nothing
    start(layout, "starting-later")
    for fn, args in later.take():
        fn(*args)
    assert sweep_records(layout, "starting-later") == []
    assert len(list((layout.archive_dir / "sessions").iterdir())) == 500


def test_a_session_in_use_or_back_in_use_is_not_archived(tmp_path: Path) -> None:
    layout = install(tmp_path / "proj")
    [held, woken] = many_sessions(layout, 2, idle_hours=30)
    now = time.time()
    with SessionLock(layout.lock_file(held), 1):  # a hook has it
        assert cleanup.archive_session(layout, held, "idle", DAY, now) is None
    with open(layout.event_log(woken), "ab"):
        os.utime(layout.event_log(woken))  # an event came after the sweep listed it
    assert cleanup.archive_session(layout, woken, "idle", DAY, now) is None
    assert all(p.exists() for sid in (held, woken) for p in session_paths(layout, sid))
    assert cleanup.archive_session(layout, held, "idle", DAY, now) == "archived"


def test_a_hook_waiting_on_a_lock_that_its_holder_removes_locks_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "session-x.lock"
    holder = SessionLock(path, 1)
    holder.acquire()
    got: list[SessionLock] = []
    waiter = threading.Thread(target=lambda: got.append(SessionLock(path, 10).__enter__()))
    waiter.start()
    holder.unlink()
    holder.release()
    waiter.join(10)
    assert got and path.exists()
    assert os.fstat(got[0]._fd).st_ino == os.stat(path).st_ino  # the new file, not the removed one
    with pytest.raises(LockTimeout):
        SessionLock(path, 0).acquire()  # and it is held
    got[0].release()


# -- the answer never waits for the sweep ---------------------------------------------------------


def run_session_start(ws: Path, session: str, **env: str) -> subprocess.CompletedProcess:
    data = json.dumps({"session_id": session, "hook_event_name": "SessionStart", "source": "startup",
                       "cwd": str(ws)}).encode()
    return subprocess.run([sys.executable, str(ws / ".claude" / "hooks" / "session_start.py")], input=data,
                          capture_output=True, cwd=ws, timeout=60,
                          env={**os.environ, "CLAUDE_PROJECT_DIR": str(ws), "LIFEGUARD_TIMEOUT": "10", **env})


@pytest.mark.parametrize("via", ["own process", "helper"])
def test_session_start_answers_while_its_sweep_is_held_back(tmp_path: Path, monkeypatch, via: str) -> None:
    ws = tmp_path / "ws"
    layout = install(ws)
    stale = many_sessions(layout, 20, idle_hours=48)
    if via == "helper":
        monkeypatch.setenv("LIFEGUARD_HELPER", "1")
        assert run_session_start(ws, "first").returncode == 0  # starts the helper (and sweeps)
        assert wait_until(lambda: helper.running(str(layout.claude_dir)))
        assert wait_until(lambda: len(sweep_records(layout, "first")) == 1)  # that sweep is over
        stale = many_sessions(layout, 20, idle_hours=48, prefix="later")
    try:
        sweeping = SessionLock(layout.state_dir / sweep.SWEEP_LOCK, 1)
        sweeping.acquire()  # another sweep is running: this one must wait for it
        try:
            proc = run_session_start(ws, NEW)
            # the hook has answered and ended (stdout closed), yet its sweep cannot have run
            assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
            assert isinstance(json.loads(proc.stdout), dict)
            assert all(layout.session_file(sid).exists() for sid in stale)
        finally:
            sweeping.release()
        assert wait_until(lambda: not any(os.path.lexists(p) for sid in stale for p in session_paths(layout, sid)))
        assert wait_until(lambda: len(sweep_records(layout)) == 1)
        assert sweep_records(layout)[0]["archived"] == 20
    finally:
        helper.stop(str(layout.claude_dir))


def test_files_of_an_old_plain_id_are_left_as_they_are(tmp_path: Path) -> None:
    """Older versions named files after a plain id (`session-old.json`); that name is no longer
    what the id maps to, so the sweep, analyze and repair leave those files alone: not archived,
    not repaired, nothing made beside them (README: Where it keeps things)."""
    from lifeguard.commands import analyze
    from lifeguard.upkeep import repair

    layout = install(tmp_path / "proj")
    many_sessions(layout, 1, idle_hours=25, prefix="stale")  # the near miss: a current idle session, archived
    old = {layout.state_dir / "session-old.json": b"{broken", layout.state_dir / "events-old.jsonl": b"",
           layout.state_dir / "session-old.lock": b"", layout.spool_dir / "old" / "1.json": b"{}"}
    for path, data in old.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (time.time() - 30 * 86400,) * 2)
    assert repair.session_ids(layout) == [safe_name("stale-00000")] == analyze.session_names(layout)
    start(layout)
    for fn, args in later.take():
        fn(*args)
    [record] = sweep_records(layout)
    assert record["archived"] == 1 and record["failed"] == [] and record["repairs"] == [], record
    assert {p: p.read_bytes() for p in old} == old
    assert not layout.session_file("old").exists() and not layout.event_log("old").exists()
