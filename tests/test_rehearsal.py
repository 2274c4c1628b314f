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
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
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
