"""A spare worker's rehearsal (lib/lifeguard/hook/rehearsal.py): the pipeline run once in a scratch
folder before the spare waits for a hook, so the pages a hook writes are copied then. It must run
the real pipeline, leave nothing behind anywhere, and leave no state a hook could inherit."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from lifeguard.core.paths import Layout
from lifeguard.hook import rehearsal
from lifeguard.store import eventlog, inflight
from lifeguard.telemetry import samples


@pytest.fixture
def scratch_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder a rehearsal's scratch goes in: here the temporary directory (TMPDIR), as where
    there is no /dev/shm."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.setattr(rehearsal, "MEMORY_FOLDER", str(tmp_path / "no-shm"))
    return root


def test_the_rehearsal_runs_the_pipeline_and_leaves_nothing_behind(scratch_root, tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))  # the helper's environment names the user's project
    monkeypatch.chdir(project)
    seen = []
    real_rmtree = shutil.rmtree

    def look_then_remove(path, *args, **kwargs):  # what the rehearsal wrote, just before it goes
        log = Layout(Path(path) / ".claude").event_log(rehearsal.SESSION)
        seen.extend(record["event"] for record in eventlog.iter_records(log))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", look_then_remove)
    rehearsal.rehearse()
    assert seen == ["PreToolUse"]  # the real pipeline ran, and logged its event
    assert list(scratch_root.iterdir()) == []  # its scratch folder is gone, and the private one
    assert list((project / ".claude").iterdir()) == []  # the user's workspace was never touched
    assert inflight.held() is None and not inflight.settled() and not inflight.attempted()
    assert samples.NOTE == {}
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()  # SIGTERM no longer held back


def test_a_rehearsal_that_cannot_make_its_scratch_folder_is_skipped_quietly(scratch_root, capsys, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(scratch_root / "missing"))  # tempfile then falls back elsewhere...
    import tempfile

    def refuse(*args, **kwargs):  # ...so refuse outright: a read-only or full /tmp
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    rehearsal.rehearse()
    assert capsys.readouterr() == ("", "")
    assert not inflight.settled() and inflight.held() is None
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()


def test_a_stop_during_the_rehearsal_waits_for_its_cleanup(scratch_root, monkeypatch):
    """SIGTERM (the helper ending its idle spares) arrives mid-rehearsal: it is held back until the
    scratch folder is gone, then delivered."""
    from lifeguard.hook import pipeline

    real_handle = pipeline.handle

    def handle_and_get_stopped(*args):
        os.kill(os.getpid(), signal.SIGTERM)  # held back: this process goes on
        return real_handle(*args)

    monkeypatch.setattr(pipeline, "handle", handle_and_get_stopped)
    got = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(list(scratch_root.iterdir())))
    try:
        rehearsal.rehearse()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert got == [[]]  # delivered once, after the scratch folder was removed


def test_what_a_killed_rehearsal_left_is_removed_by_the_next_once_its_process_is_gone(scratch_root):
    import subprocess

    private = scratch_root / f"lifeguard-rehearsal-{os.getuid()}"
    private.mkdir(mode=0o700)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that is certainly not running now
    (private / f"{gone.pid}-abandoned" / ".claude").mkdir(parents=True)
    (private / f"{os.getppid()}-busy").mkdir()  # a live process's: left alone
    rehearsal.rehearse()
    assert sorted(p.name for p in private.iterdir()) == [f"{os.getppid()}-busy"]


@pytest.mark.parametrize("planted", ["shared", "link"])
def test_no_rehearsal_in_a_folder_that_is_not_this_users_own(scratch_root, tmp_path, monkeypatch, planted):
    """The temporary directory is shared: a folder someone planted at the private name (open to
    others, or a link elsewhere) is not used; the rehearsal is skipped."""
    from lifeguard.hook import pipeline

    private = scratch_root / f"lifeguard-rehearsal-{os.getuid()}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if planted == "shared":
        private.mkdir()
        private.chmod(0o777)
    else:
        private.symlink_to(elsewhere)
    ran = []
    monkeypatch.setattr(pipeline, "handle", lambda *args: ran.append(args))
    rehearsal.rehearse()
    assert ran == [] and list(elsewhere.iterdir()) == []
    if planted == "shared":
        assert list(private.iterdir()) == []


# A spare (helper._spare) in a fresh Python, on a listening socket of its own, forked between
# hooks ("calm") or while hooks run ("busy"); a hook (a connection) is "waiting" before it starts,
# or comes when the spare rehearses (the rehearsal notes how long after the fork it began).
# Prints what happened, in order.
SPARE = r"""
import os, socket, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from lifeguard.hook import helper, rehearsal
calm, waiting = sys.argv[2] == "calm", sys.argv[3] == "waiting"
helper.REHEARSE_AFTER_SECONDS = float(sys.argv[4])
path = os.path.join(tempfile.mkdtemp(), "s")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(1)
listener.setblocking(False)

def hook():
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(path)

def rehearse():
    print(f"rehearsed after {time.monotonic() - forked:.3f} s", flush=True)
    hook()

rehearsal.rehearse = rehearse
if waiting:
    hook()
notify_r, notify_w = os.pipe()
life_r, life_w = os.pipe()
forked = time.monotonic()
pid = os.fork()
if pid == 0:
    helper._spare(listener, os.open(os.devnull, os.O_RDONLY), notify_w, life_r, "", None, {}, calm)
os.close(notify_w)
if os.read(notify_r, 5)[4:] == b"a":
    print("took the hook", flush=True)
os.waitpid(pid, 0)
"""
PAUSE = 2.0  # REHEARSE_AFTER_SECONDS in these tests


def spare_run(tmp_path: Path, forked: str, hook: str) -> tuple[list[str], float | None]:
    """(what happened, how long after its fork the spare rehearsed)."""
    import subprocess
    import sys

    lib = str(Path(__file__).resolve().parents[1] / "lib")
    proc = subprocess.run([sys.executable, "-c", SPARE, lib, forked, hook, str(PAUSE)], capture_output=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    after = [float(line.split()[2]) for line in lines if line.startswith("rehearsed")]
    return [line.split(" after")[0] for line in lines], (after[0] if after else None)


def test_a_spare_forked_between_hooks_rehearses_at_once(tmp_path):
    happened, after = spare_run(tmp_path, "calm", "later")
    assert happened == ["rehearsed", "took the hook"] and after < PAUSE


def test_a_spare_takes_a_hook_that_is_waiting_before_any_rehearsal(tmp_path):
    assert spare_run(tmp_path, "calm", "waiting") == (["took the hook"], None)


def test_a_spare_forked_while_hooks_run_rehearses_only_after_a_pause(tmp_path):
    """Forked because none was left (parallel tool calls): rehearsing at once would take CPU the
    running hooks wait for; it rehearses once no hook has come for REHEARSE_AFTER_SECONDS."""
    happened, after = spare_run(tmp_path, "busy", "later")
    assert happened == ["rehearsed", "took the hook"] and after >= PAUSE


@pytest.mark.parametrize("memory", ["there", "missing"])
def test_the_scratch_goes_in_memory_where_there_is_such_a_folder(scratch_root, tmp_path, monkeypatch, memory):
    """/dev/shm (a stand-in here) rather than the temporary directory: creating and syncing the
    scratch files on a disk was half of a rehearsal's cost. Without it, the temporary directory."""
    shm = tmp_path / "shm"
    if memory == "there":
        shm.mkdir(mode=0o1777)
    monkeypatch.setattr(rehearsal, "MEMORY_FOLDER", str(shm))
    real_rmtree, used = shutil.rmtree, []

    def note_then_remove(path, *args, **kwargs):
        used.append(Path(path).parent.parent)
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", note_then_remove)
    rehearsal.rehearse()
    assert used == [shm if memory == "there" else scratch_root]
    assert list(scratch_root.iterdir()) == [] and (memory == "missing" or list(shm.iterdir()) == [])
