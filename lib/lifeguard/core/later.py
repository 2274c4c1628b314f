"""Work a hook leaves for after it has answered (SessionStart's sweep of the other sessions).

Claude Code waits for a hook until its stdout closes, so work the answer does not need is queued
here while the hook runs (`add`) and done once the answer is out:
- by the resident helper's worker, after it has sent the exit code and let go of the hook's
  stdio (hook/helper.py);
- by a detached grandchild of a hook that ran in its own process (`spawn`, from hook/client.py):
  a new session, stdio on /dev/null, so neither Claude Code nor lifeguard-run's `timeout` waits.
Each job is bounded by its own locks; all of them together by RUN_SECONDS, past which the process
is ended by SIGALRM (a job must leave things so that the next run can go on: the sweep does).
A job that raises is skipped: it runs detached, with no one to tell, so it records its own
failures where the user can see them (the sweep: `state/sweep.json`).
"""

from __future__ import annotations

import os
import sys

RUN_SECONDS = 300

_jobs: list = []


def add(fn, *args) -> None:
    """Do `fn(*args)` once this hook has answered."""
    _jobs.append((fn, args))


def take() -> list:
    """The queued jobs, removed from the queue."""
    jobs = _jobs[:]
    _jobs.clear()
    return jobs


def run() -> None:
    """Do the queued jobs here and now (stdio must already be let go), within RUN_SECONDS."""
    jobs = take()
    if not jobs:
        return
    import signal  # here, in the detached process: a hook imports this module on every call

    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, RUN_SECONDS)
    for fn, args in jobs:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - detached: each job records its own failures
            pass
    signal.setitimer(signal.ITIMER_REAL, 0)


def spawn() -> None:
    """Do the queued jobs in a detached grandchild; returns at once. Nothing queued: nothing."""
    if _jobs:
        detached(run)
    _jobs.clear()


def detached(fn) -> None:
    """Call `fn()` in a grandchild detached from this process: a new session (no signal meant for
    the hook's process group reaches it), stdio on /dev/null and no other inherited descriptor
    (Claude Code waits for the hook's stdout to close). Returns once the intermediate child is
    reaped, at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:  # the child: a new session, and a grandchild (not a session leader) does the work
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 65536)
            fn()
    finally:
        os._exit(0)
