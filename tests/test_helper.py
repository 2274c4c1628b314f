"""The resident helper (lib/lifeguard/hook/helper.py, client.py): installed hooks hand their run to
a warm process that forks a worker per hook. These run the installed hook scripts for real,
with the helper on (tests/conftest.py turns it off for every other test)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from planted import wait_until

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lifeguard.hook import client, helper, launch, timeout
from lifeguard.store import eventlog
from lifeguard.commands.install import command as installer  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402

SESSION = "helper-1"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LIFEGUARD_HELPER", "1")
    monkeypatch.delenv("LIFEGUARD_HOME", raising=False)
    target = tmp_path / "ws"
    target.mkdir()
    installer.install(target, warm=False)
    try:
        yield target
    finally:
        helper.stop(str(target / ".claude"))


def run_helper_main(ws: Path) -> subprocess.CompletedProcess:
    """The helper's main, run to its end in the foreground: a helper that must give way (another
    one has the lock, the state folder is not trusted) returns at once, so the test waits on
    its exit, not on a guess of how long giving way takes."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); from lifeguard.hook.helper import main; sys.exit(main(sys.argv[2]))"
    return subprocess.run([sys.executable, "-c", code, str(ws / ".claude" / "lib"), claude_of(ws)],
                          capture_output=True, timeout=30)


def claude_of(ws: Path) -> str:
    return str(ws / ".claude")


def event(n: int, command: str = "ls -la", session: str = SESSION, name: str = "PreToolUse") -> bytes:
    data = {"session_id": session, "hook_event_name": name, "tool_name": "Bash",
            "tool_input": {"command": command}, "tool_use_id": f"toolu_{n:04d}", "cwd": "/tmp"}
    if name == "PostToolUseFailure":
        data["error"] = "Exit code 1\nFAILED tests/test_a.py::test_x - assert 1 == 2"
    return json.dumps(data).encode()


def hook_cmd(ws: Path, script: str = "pre_tool_use") -> list[str]:
    return [sys.executable, str(ws / ".claude" / "hooks" / f"{script}.py")]


def hook_env(ws: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CLAUDE_PROJECT_DIR": str(ws), "LIFEGUARD_TIMEOUT": "10", **extra}


def run_hook(ws: Path, data: bytes, script: str = "pre_tool_use", **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(hook_cmd(ws, script), input=data, capture_output=True, env=hook_env(ws, **extra), cwd=ws,
                          timeout=60)


def helper_up(ws: Path) -> bool:
    return helper.running(claude_of(ws)) and (ws / ".claude" / "state" / client.SOCKET).exists()


def logged_ids(ws: Path, session: str = SESSION) -> list[str]:
    path = Layout(ws / ".claude").event_log(session)
    if not path.exists():
        return []
    return [r.get("tuid") for r in eventlog.iter_records(path) if r.get("event") == "PreToolUse"]


def helper_served(ws: Path, session: str = SESSION) -> int:
    """How many of the session's records a helper's worker wrote: they carry the invocation's id."""
    path = Layout(ws / ".claude").event_log(session)
    return sum(1 for r in eventlog.iter_records(path) if r.get("inv")) if path.exists() else 0


def faults(ws: Path) -> list[dict]:
    path = Layout(ws / ".claude").faults_log
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def start_helper(ws: Path) -> None:
    res = run_hook(ws, event(0))
    assert res.returncode == 0 and res.stderr == b""
    assert wait_until(lambda: helper_up(ws), 60), "the first hook did not start a helper"  # slow under load


SERVED = """
import sys
sys.path.insert(0, sys.argv[1])
from lifeguard.hook import client
code = client.via_helper(sys.argv[2], sys.argv[4], sys.argv[3])
sys.exit(99 if code is None else code)
"""


def run_via_helper_only(ws: Path, data: bytes, script: str = "pre_tool_use",
                        name: str = "PreToolUse") -> subprocess.CompletedProcess:
    """The client's helper path alone: exit 99 when the helper did not take the hook."""
    hook_file = str(ws / ".claude" / "hooks" / f"{script}.py")
    return subprocess.run([sys.executable, "-c", SERVED, str(ws / ".claude" / "lib"), claude_of(ws), hook_file, name],
                          input=data, capture_output=True, env=hook_env(ws), cwd=ws, timeout=60)


# -- the helper serves hooks ------------------------------------------------------------------


def test_the_first_hook_starts_a_helper_and_the_helper_serves_the_next(ws: Path) -> None:
    start_helper(ws)
    assert logged_ids(ws) == ["toolu_0000"]  # the first ran in its own process
    res = run_via_helper_only(ws, event(1))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert res.stderr == b""
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001"]
    state = json.loads(Layout(ws / ".claude").session_file(SESSION).read_text())
    assert state["session"]["id"] == SESSION
    mode = os.stat(ws / ".claude" / "state" / client.SOCKET).st_mode & 0o777
    assert mode == 0o600


def test_hooks_answer_the_same_through_the_helper_as_in_their_own_process(tmp_path: Path, ws: Path) -> None:
    """A repeating command is warned about, then refused: the same answers either way."""
    plain = tmp_path / "plain"
    plain.mkdir()
    installer.install(plain, warm=False)
    start_helper(ws)
    through_helper, in_process = [], []
    steps = [("pre_tool_use", "PreToolUse"), ("post_tool_use_failure", "PostToolUseFailure")]
    for n in range(1, 8):
        for script, name in steps:
            data = event(n, "pytest -x tests/test_a.py", name=name)
            res = run_via_helper_only(ws, data, script, name)
            assert res.returncode == 0
            through_helper.append(json.loads(res.stdout))
            res = run_hook(plain, data, script, LIFEGUARD_HELPER="0")
            assert res.returncode == 0
            in_process.append(json.loads(res.stdout))
    assert not helper.running(str(plain / ".claude"))
    assert through_helper == in_process
    decisions = [o.get("hookSpecificOutput", {}).get("permissionDecision") for o in through_helper]
    assert "deny" in decisions  # the scenario did reach a refusal


def test_parallel_hooks_through_the_helper_are_each_recorded_once(ws: Path) -> None:
    start_helper(ws)
    procs = [subprocess.Popen(hook_cmd(ws), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=hook_env(ws), cwd=ws) for _ in range(16)]
    for n, proc in enumerate(procs, start=1):
        proc.stdin.write(event(n, f"echo {n}"))
        proc.stdin.close()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
        assert json.loads(proc.stdout.read())["hookSpecificOutput"]["hookEventName"] == "PreToolUse"
        assert proc.stderr.read() == b""
    ids = logged_ids(ws)
    assert sorted(ids) == [f"toolu_{n:04d}" for n in range(17)]


def test_the_worker_gets_the_hooks_environment_and_folder(ws: Path) -> None:
    """The deadline comes from the client's LIFEGUARD_TIMEOUT: a stdin that never closes is cut
    off by the worker's own deadline (0.6 x 3 s), not the helper's."""
    start_helper(ws)
    hook_file = str(ws / ".claude" / "hooks" / "pre_tool_use.py")
    env = hook_env(ws, LIFEGUARD_TIMEOUT="3")
    proc = subprocess.Popen([sys.executable, "-c", SERVED, str(ws / ".claude" / "lib"), claude_of(ws), hook_file,
                             "PreToolUse"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ws)
    started = time.monotonic()
    proc.wait(timeout=30)  # stdin stays open: the worker gives up on it
    took = time.monotonic() - started
    err = proc.stderr.read()
    proc.stdin.close()
    assert proc.returncode == 0 and b"HOOK_TIMEOUT" in err, err
    # the worker's own deadline for a 3 s hook (1 s), never the helper's default (6 s for 10 s)
    assert timeout.deadline_for(3.0) <= took < timeout.deadline_for(timeout.DEFAULT_TIMEOUT), took
    assert [f["code"] for f in faults(ws)] == ["HOOK_TIMEOUT"]


def test_the_worker_has_exactly_the_hooks_variables_not_the_helpers(ws: Path) -> None:
    """A helper started by a hook with LIFEGUARD_SKIP set: a later hook without it runs with
    nothing skipped, one with another value skips that; one with the same value skips the same."""
    res = run_hook(ws, event(0), LIFEGUARD_SKIP="loops")
    assert res.returncode == 0 and res.stderr == b""
    assert wait_until(lambda: helper_up(ws), 60)
    hook_file = str(ws / ".claude" / "hooks" / "session_start.py")
    start = json.dumps({"session_id": "s", "hook_event_name": "SessionStart", "source": "startup", "cwd": "/tmp"})

    def session_start(**extra: str) -> str:
        env = {k: v for k, v in hook_env(ws, **extra).items() if k != "LIFEGUARD_SKIP" or "LIFEGUARD_SKIP" in extra}
        res = subprocess.run([sys.executable, "-c", SERVED, str(ws / ".claude" / "lib"), claude_of(ws), hook_file,
                              "SessionStart"], input=start.encode(), capture_output=True, env=env, cwd=ws, timeout=60)
        assert res.returncode == 0, res.stderr  # 99: the helper did not take it
        return json.loads(res.stdout).get("systemMessage", "")

    assert "turned off by LIFEGUARD_SKIP" not in session_start()
    assert "coordination turned off by LIFEGUARD_SKIP" in session_start(LIFEGUARD_SKIP="coordination")
    assert "loops turned off by LIFEGUARD_SKIP" in session_start(LIFEGUARD_SKIP="loops")


# -- failures around the helper ---------------------------------------------------------------


class FakeHelper:
    """A socket at state/helper.sock that misbehaves: `mode` "silent" never answers; "dies" takes
    the hook (A, then the input with G) and closes without a word; "records" takes it, writes
    its event record (with the invocation's id, as a worker does) and closes before saying "C".
    The pid it gives is a stand-in process's, which the client may kill."""

    def __init__(self, ws: Path, mode: str):
        self.mode, self.connections = mode, 0
        self.layout = Layout(ws / ".claude")
        state = ws / ".claude" / "state"
        state.mkdir(mode=0o700, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        here = os.getcwd()
        os.chdir(state)  # a relative address: tmp paths can be longer than a socket address
        try:
            self.sock.bind(client.SOCKET)
        finally:
            os.chdir(here)
        self.sock.listen(8)
        self.held: list[socket.socket] = []
        self.standin = subprocess.Popen(["sleep", "60"])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from lifeguard.hook import pipeline, protocol, wire
        from lifeguard.store import inflight

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.mode == "silent":
                self.held.append(conn)
                continue
            _event, _hook, _cwd, invocation, _env = wire.read_request(conn)
            if self.mode == "late":
                time.sleep(1.5)  # answers past the hook's deadline (1 s for a 3 s timeout), then dies
            conn.sendall(wire.accept(self.standin.pid))
            assert conn.recv(1) == wire.GO
            data = wire.recv_sized(conn, wire.MAX_INPUT_BYTES + 1)
            if self.mode == "records":
                inp = protocol.parse(data)
                inflight.begin(invocation)
                try:
                    pipeline.handle(inp["hook_event_name"], inp, self.layout)
                finally:
                    inflight.begin(None)
            conn.close()

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept() (close alone does not): no thread may
        # outlive the test, or a later test's SIGALRM could be delivered to it
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        for conn in self.held:
            conn.close()
        self.standin.kill()
        self.standin.wait()


def test_a_worker_that_dies_before_writing_the_event_leaves_the_hook_to_the_client(ws: Path) -> None:
    """Nothing acknowledged that no one wrote: the client runs the hook itself, once, quietly."""
    fake = FakeHelper(ws, "dies")
    try:
        res = run_hook(ws, event(1))
        assert fake.standin.wait(timeout=10) == -9  # the client made sure its worker was gone
    finally:
        fake.close()
    assert fake.connections == 1
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert logged_ids(ws) == ["toolu_0001"]
    assert faults(ws) == []


def test_a_helper_that_answers_late_still_gets_the_input_that_was_there(ws: Path) -> None:
    """The hook's deadline passed while the helper was slow to answer: stdin (closed long ago) is
    still read, and the hook finishes with its event, not as if stdin had never closed."""
    fake = FakeHelper(ws, "late")
    try:
        res = run_hook(ws, event(1), LIFEGUARD_TIMEOUT="3")
    finally:
        fake.close()
    assert res.returncode == 0 and isinstance(json.loads(res.stdout), dict)  # answered, or out of time ...
    assert run_hook(ws, event(2), LIFEGUARD_HELPER="0").returncode == 0
    assert logged_ids(ws) == ["toolu_0001", "toolu_0002"]  # ... but its event kept either way


def test_a_worker_that_wrote_the_event_and_died_before_saying_so_is_not_run_again(ws: Path) -> None:
    fake = FakeHelper(ws, "records")
    try:
        res = run_hook(ws, event(1))
    finally:
        fake.close()
    assert res.returncode == 0
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "HOOK_HELPER_LOST" in lines[0] and "after recording the event" in lines[0], lines
    assert json.loads(res.stdout) == {}
    assert logged_ids(ws) == ["toolu_0001"]  # once: found by its invocation id, not run again
    (record,) = [r for r in eventlog.iter_records(Layout(ws / ".claude").event_log(SESSION))]
    assert len(record["inv"]) == 16


def lock_openers(path: Path) -> set[int]:
    """Pids of the processes that have `path` open (from /proc/*/fd)."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    found.add(int(pid))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_a_worker_lost_before_writing_the_event_leaves_the_hook_to_the_client(ws: Path, how: str) -> None:
    """The worker waits for the session lock (held here) when it is killed, or stopped: its
    client ends it and runs the hook itself; the event is logged exactly once."""
    import fcntl
    import signal

    start_helper(ws)
    lock_path = Layout(ws / ".claude").lock_file(SESSION)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = subprocess.Popen(hook_cmd(ws), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=hook_env(ws, LIFEGUARD_TIMEOUT="4"), cwd=ws)
        proc.stdin.write(event(1))
        proc.stdin.close()
        assert wait_until(lambda: lock_openers(lock_path) - {proc.pid}), "the worker never reached the lock"
        (worker,) = lock_openers(lock_path) - {proc.pid}
        os.kill(worker, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        if how == "killed":
            assert wait_until(lambda: worker not in lock_openers(lock_path))
        else:
            time.sleep(0.2)  # let the stop take effect before the lock is free
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    started = time.monotonic()
    assert proc.wait(timeout=30) == 0
    took = time.monotonic() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    assert err == b"", err
    assert json.loads(out) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert took < 3.0  # a stopped worker is given its deadline (2 s + 0.5 s), not the whole timeout
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001"]
    assert not Path(f"/proc/{worker}").exists() or b"Z" in Path(f"/proc/{worker}/stat").read_bytes().split()[2]


def test_a_hook_that_runs_out_of_time_in_its_worker_is_reported_as_a_timeout(ws: Path) -> None:
    """The worker's deadline strikes while it waits for the lock: the event goes to the spool,
    once, and the client says what the worker said (HOOK_TIMEOUT), not that it lost the worker."""
    import fcntl

    config = ws / ".claude" / "lifeguard.json"
    data = json.loads(config.read_text())
    data["locks"]["timeout_seconds"] = 5  # longer than the hook's deadline (1 s for a 3 s timeout)
    config.write_text(json.dumps(data))
    start_helper(ws)
    layout = Layout(ws / ".claude")
    fd = os.open(layout.lock_file(SESSION), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        res = subprocess.run(hook_cmd(ws), input=event(1), capture_output=True, env=hook_env(ws, LIFEGUARD_TIMEOUT="3"),
                             cwd=ws, timeout=30)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert res.returncode == 0 and json.loads(res.stdout) == {}
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "[HOOK_TIMEOUT]" in lines[0], lines
    assert [f["code"] for f in faults(ws)] == ["HOOK_TIMEOUT"]
    assert run_hook(ws, event(2)).returncode == 0  # the next hook commits the spooled event
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001", "toolu_0002"]


def test_a_helper_that_does_not_answer_leaves_the_hook_to_run_here_once(ws: Path) -> None:
    fake = FakeHelper(ws, "silent")
    try:
        started = time.monotonic()
        res = run_hook(ws, event(1))
        took = time.monotonic() - started
    finally:
        fake.close()
    assert fake.connections == 1
    assert res.returncode == 0 and res.stderr == b""
    assert json.loads(res.stdout)["hookSpecificOutput"]["hookEventName"] == "PreToolUse"
    assert took >= client.ACK_SECONDS
    assert logged_ids(ws) == ["toolu_0001"]


def test_a_socket_in_a_folder_others_can_write_is_not_used(ws: Path) -> None:
    fake = FakeHelper(ws, "dies")
    state = ws / ".claude" / "state"
    os.chmod(state, 0o777)
    try:
        assert not client.trusted_socket(str(state))
        res = run_hook(ws, event(1))
    finally:
        fake.close()
        os.chmod(state, 0o700)
    assert fake.connections == 0
    assert res.returncode == 0
    assert logged_ids(ws) == ["toolu_0001"]


@pytest.mark.parametrize("kind", ["file", "fifo", "symlink", "folder"])
def test_anything_but_a_socket_at_the_socket_path_is_moved_aside_and_a_helper_starts(ws: Path, kind: str) -> None:
    state = ws / ".claude" / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    sock, target = state / client.SOCKET, ws / "target.txt"
    target.write_text("keep me")
    if kind == "file":
        sock.write_text("not a socket")
    elif kind == "fifo":
        os.mkfifo(sock)
    elif kind == "symlink":
        sock.symlink_to(target)
    else:
        sock.mkdir()
    res = run_hook(ws, event(1))
    assert res.returncode == 0
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "moved it to" in lines[0] and "quarantine" in lines[0], lines
    assert wait_until(lambda: helper_up(ws)), "no helper started once the path was free"
    moved = [p for p in (state / "quarantine").iterdir() if p.name.endswith(client.SOCKET)]
    assert len(moved) == 1 and os.path.lexists(moved[0])
    assert target.read_text() == "keep me"  # a link is moved, never followed
    assert run_via_helper_only(ws, event(2)).returncode == 0
    assert logged_ids(ws) == ["toolu_0001", "toolu_0002"]


def test_nothing_of_the_helper_is_created_through_a_symlinked_state_folder(ws: Path, tmp_path: Path) -> None:
    import shutil

    elsewhere = tmp_path / "elsewhere"
    shutil.move(ws / ".claude" / "state", elsewhere)  # what install made, now behind a link
    (ws / ".claude" / "state").symlink_to(elsewhere)
    before = sorted(p.relative_to(elsewhere) for p in elsewhere.rglob("*"))
    for n in range(2):
        assert run_hook(ws, event(n)).returncode == 0
    assert run_helper_main(ws).returncode == 0  # and a helper started anyway gives up at once
    assert not helper.running(claude_of(ws))
    assert sorted(p.relative_to(elsewhere) for p in elsewhere.rglob("*")) == before  # helper files, samples: nothing


def test_a_stopped_helper_is_replaced_after_one_hook_waited_for_it(ws: Path) -> None:
    """The helper and its spares stopped: one hook waits for an answer (2 s) and runs itself;
    it finds the lock holder is this workspace's helper, stopped, ends it and starts a fresh
    one, which serves the next hooks at once."""
    import signal

    start_helper(ws)
    old = int((ws / ".claude" / "state" / helper.PID).read_text())
    from lifeguard.core import proc

    stopped = [old, *proc.children(old)]
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        res = run_hook(ws, event(1))
        assert res.returncode == 0 and res.stderr == b"", res.stderr
        assert wait_until(lambda: helper_up(ws) and (ws / ".claude" / "state" / helper.PID).read_text().strip()
                          != str(old)), "no fresh helper"
        res = run_via_helper_only(ws, event(2))
        assert res.returncode == 0  # taken by the fresh helper (99: not taken)
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not Path(f"/proc/{old}").exists() or b" Z " in Path(f"/proc/{old}/stat").read_bytes()
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001", "toolu_0002"]


HOLDER = """import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("whose", ["lifeguard's", "another program's"])
def test_a_session_lock_held_by_a_stopped_process(ws: Path, whose: str) -> None:
    """A stopped lifeguard process of this workspace (here a hook script in .claude/hooks/) holding
    the session lock is killed by the next hook, which then records its event at once; a stopped
    process of anyone else is left alone, and the hook spools after its bounded wait (2 s)."""
    import signal

    folder = ws / ".claude" / "hooks" if whose == "lifeguard's" else ws
    script = folder / "holder_test.py"
    script.write_text(HOLDER)
    lock_path = Layout(ws / ".claude").lock_file(SESSION)
    (ws / ".claude" / "state").mkdir(mode=0o700, exist_ok=True)
    holder = subprocess.Popen([sys.executable, str(script), str(lock_path)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        started = time.monotonic()
        res = run_hook(ws, event(1), LIFEGUARD_HELPER="0")
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 0
    if whose == "lifeguard's":
        assert res.stderr == b""
        assert logged_ids(ws) == ["toolu_0001"]  # committed by the hook itself, not spooled
        assert holder.returncode == -signal.SIGKILL
    else:
        assert b"event kept in the spool" in res.stderr and took >= 2.0
        assert logged_ids(ws) == []


# -- the helper's lifetime ---------------------------------------------------------------------


def test_an_upgrade_stops_the_helper_and_the_hook_in_hand_runs_with_the_new_code(ws: Path) -> None:
    start_helper(ws)
    manifest = ws / ".claude" / installer.MANIFEST
    manifest.write_text(manifest.read_text() + "\n")  # what an install of new code does
    res = run_via_helper_only(ws, event(1))
    assert res.returncode == 99  # turned away unrun
    assert wait_until(lambda: not helper.running(claude_of(ws)), 10)
    assert not (ws / ".claude" / "state" / client.SOCKET).exists()
    res = run_hook(ws, event(2))
    assert res.returncode == 0 and logged_ids(ws) == ["toolu_0000", "toolu_0002"]


def test_reinstalling_and_uninstalling_stop_the_helper(ws: Path) -> None:
    start_helper(ws)
    installer.install(ws, warm=False)
    assert not helper.running(claude_of(ws))
    start_helper_again = run_hook(ws, event(1))
    assert start_helper_again.returncode == 0
    (ws / ".claude" / "state" / launch.STARTED).unlink()  # else the retry pause holds the next start
    assert run_hook(ws, event(2)).returncode == 0
    assert wait_until(lambda: helper_up(ws))
    installer.uninstall(ws)
    assert not helper.running(claude_of(ws))
    assert not (ws / ".claude" / "state" / helper.PID).exists()


def test_an_idle_helper_exits_by_itself(ws: Path) -> None:
    config = ws / ".claude" / "lifeguard.json"
    data = json.loads(config.read_text())
    data["helper"]["idle_minutes"] = 0.02  # 1.2 s
    config.write_text(json.dumps(data))
    start_helper(ws)
    assert wait_until(lambda: not helper.running(claude_of(ws)), 15)
    assert not (ws / ".claude" / "state" / client.SOCKET).exists()


def test_a_helper_turned_off_in_settings_is_never_started(ws: Path) -> None:
    config = ws / ".claude" / "lifeguard.json"
    data = json.loads(config.read_text())
    data["helper"]["enabled"] = False
    config.write_text(json.dumps(data))
    for n in range(3):
        assert run_hook(ws, event(n)).returncode == 0
    # a hook that starts a helper marks it (helper.started) before it returns: none did
    assert not (ws / ".claude" / "state" / launch.STARTED).exists()
    assert not helper.running(claude_of(ws))
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001", "toolu_0002"]


def test_the_environment_switch_turns_the_helper_off(ws: Path) -> None:
    assert run_hook(ws, event(1), LIFEGUARD_HELPER="0").returncode == 0
    # a hook that starts a helper marks it (helper.started) before it returns: this one did not
    assert not (ws / ".claude" / "state" / launch.STARTED).exists()
    assert not helper.running(claude_of(ws))


def test_only_one_helper_runs_per_workspace(ws: Path) -> None:
    start_helper(ws)
    pid = (ws / ".claude" / "state" / helper.PID).read_text().strip()
    assert run_helper_main(ws).returncode == 0  # a second one gives way at once
    assert (ws / ".claude" / "state" / helper.PID).read_text().strip() == pid
    assert run_via_helper_only(ws, event(1)).returncode == 0


def test_removing_the_socket_stops_the_helper(ws: Path) -> None:
    start_helper(ws)
    (ws / ".claude" / "state" / client.SOCKET).unlink()
    assert wait_until(lambda: not helper.running(claude_of(ws)), 10)


def test_a_hook_served_by_the_helper_imports_next_to_nothing(ws: Path) -> None:
    """The point of the helper: the hook's own process loads none of the costly modules
    (json, pathlib, re, the handlers); the warm worker has them already."""
    start_helper(ws)
    res = subprocess.run([sys.executable, "-X", "importtime", *hook_cmd(ws)[1:]], input=event(1),
                         capture_output=True, env=hook_env(ws), cwd=ws, timeout=60)
    assert res.returncode == 0
    assert json.loads(res.stdout)["hookSpecificOutput"]["hookEventName"] == "PreToolUse"
    lines = [line for line in res.stderr.decode().splitlines() if line.startswith("import time:")]
    names = [line.split("|")[-1] for line in lines]
    # what the hook imported: after `site` (whose .pth files vary from machine to machine)
    after_site = names[max(i for i, n in enumerate(names) if n == " site") + 1:] if " site" in names else names
    imported = {n.strip() for n in after_site}
    assert "lifeguard.hook.client" in imported and "_socket" in imported
    for costly in ("json", "pathlib", "re", "lifeguard.hook.runner", "lifeguard.hook.pipeline", "typing", "__future__"):
        assert costly not in imported, costly
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001"]


# what a worker imports for the hot hooks that the warm helper has not (a fresh Python: the
# helper's warm(), then hooks of a new session and of one with a history), printed as JSON
WORKER_IMPORTS = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from lifeguard.hook import helper
helper.WARM_MODULES = tuple(m for m in helper.WARM_MODULES if m != sys.argv[3])
helper.warm()
warm = set(sys.modules)
from lifeguard.core.paths import Layout
from lifeguard.hook import pipeline, protocol
project = sys.argv[2]
layout = Layout(os.path.join(project, ".claude"))
os.makedirs(layout.state_dir)
call = {"tool_name": "Bash", "tool_input": {"command": "ls"}, "cwd": project, "transcript_path": ""}
for n, (session, event, extra) in enumerate([
        ("new-1", "PreToolUse", {}), ("new-2", "PostToolUse", {"tool_response": {"stdout": "a"}}),
        ("new-3", "PostToolUseFailure", {"error": "Exit code 1"}), ("new-4", "UserPromptSubmit", {"prompt": "go"}),
        ("new-1", "PostToolUse", {"tool_response": {"stdout": "a"}}), ("new-1", "PreToolUse", {})]):
    inp = {**call, "session_id": session, "hook_event_name": event, "tool_use_id": f"toolu_{n}", **extra}
    pipeline.handle(event, protocol.parse(json.dumps(inp).encode()), layout)
print(json.dumps(sorted(m for m in set(sys.modules) - warm if m.startswith("lifeguard"))))
"""


def worker_imports(tmp_path: Path, unwarmed: str = "") -> list[str]:
    project = tmp_path / f"project{unwarmed}"
    res = subprocess.run([sys.executable, "-c", WORKER_IMPORTS, str(ROOT / "lib"), str(project), unwarmed],
                         capture_output=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_the_helper_has_imported_all_a_hot_hook_imports(tmp_path: Path) -> None:
    """A module a worker imports is imported again for every hook (a worker is a fresh fork):
    warm() must import all that the hot hooks import, lazily or not, in a new session and a
    going one. A module left out of WARM_MODULES (here the snapshot a new session's replay looks
    for) is seen."""
    assert worker_imports(tmp_path) == []
    assert worker_imports(tmp_path, "lifeguard.store.snapshot") == ["lifeguard.store.snapshot"]


# -- lifeguard-run's fast path: no uv while the helper is up ------------------------------------


FAKE_UV = """#!/bin/sh
echo called >>"$0.calls"
exec {real} "$@"
"""


def fast_path_ws(ws: Path) -> Path:
    """`ws` with its hooks' Python recorded (python.path) and a uv that notes each call."""
    import shutil

    hooks = ws / ".claude" / "hooks"
    (hooks / "python.path").write_text(sys.executable + "\n")
    fake = ws / "fake-uv"
    fake.write_text(FAKE_UV.format(real=shutil.which("uv")))
    fake.chmod(0o755)
    (hooks / "uv.path").write_text(f"{fake}\n")
    return fake


def run_launcher(ws: Path, data: bytes, script: str = "pre_tool_use", **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ws / ".claude" / "hooks" / "lifeguard-run"), script, "10"], input=data,
                          capture_output=True, env=hook_env(ws, **extra), cwd=ws, timeout=60)


def uv_calls(fake: Path) -> int:
    calls = Path(f"{fake}.calls")
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_lifeguard_run_hands_a_hook_to_the_helper_without_uv(ws: Path) -> None:
    fake = fast_path_ws(ws)
    start_helper(ws)
    res = run_launcher(ws, event(1))
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert uv_calls(fake) == 0
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001"]
    served = helper_served(ws)
    res = run_launcher(ws, event(2), LIFEGUARD_HELPER="0")  # helper off: run in lifeguard-run's Python, no uv
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert uv_calls(fake) == 0 and helper_served(ws) == served
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001", "toolu_0002"]


def test_the_fast_path_hands_a_hook_to_the_helper_without_importing_os(ws: Path, tmp_path: Path) -> None:
    """lifeguard-run's own Python on its way to the helper: no `os` (1 ms of every hook under
    `-I -S`), only posix; the near miss beside it: the same fast path with the helper off runs
    the hook itself, and that does import os, as this check would see."""
    fast_path_ws(ws)
    traced = tmp_path / "python-importtime"
    traced.write_text(f'#!/bin/sh\nexec {sys.executable} -X importtime "$@"\n')
    traced.chmod(0o755)
    (ws / ".claude" / "hooks" / "python.path").write_text(f"{traced}\n")
    start_helper(ws)

    def imported(res: subprocess.CompletedProcess) -> set[str]:
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
        return {line.split("|")[-1].strip() for line in res.stderr.decode().splitlines()
                if line.startswith("import time:")}

    served = helper_served(ws)
    through_helper = imported(run_launcher(ws, event(1)))
    assert helper_served(ws) == served + 1
    assert "lifeguard.hook.client" in through_helper and "_socket" in through_helper
    assert "os" not in through_helper and "stat" not in through_helper
    here = imported(run_launcher(ws, event(2), LIFEGUARD_HELPER="0"))
    assert helper_served(ws) == served + 1
    assert "os" in here and "lifeguard.hook.runner" in here
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001", "toolu_0002"]


def test_a_hook_that_runs_itself_and_starts_the_helper_imports_no_pathlib(ws: Path, tmp_path: Path) -> None:
    """The first hook of a session, no helper up yet: it runs in lifeguard-run's Python, answers,
    then starts a helper (launch.py), all before its process ends, which Claude Code waits for;
    starting one must not cost it pathlib (3.6 ms). The near miss: with the helper off no helper
    is started and launch is never imported, so its presence here shows the start was made."""
    fast_path_ws(ws)
    traced = tmp_path / "python-importtime"
    traced.write_text(f'#!/bin/sh\nexec {sys.executable} -X importtime "$@"\n')
    traced.chmod(0o755)
    (ws / ".claude" / "hooks" / "python.path").write_text(f"{traced}\n")

    def imported(res: subprocess.CompletedProcess) -> set[str]:
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
        return {line.split("|")[-1].strip() for line in res.stderr.decode().splitlines()
                if line.startswith("import time:")}

    imported(run_launcher(ws, event(0), LIFEGUARD_HELPER="0"))  # validates and caches lifeguard.json (pydantic)
    off = imported(run_launcher(ws, event(1), LIFEGUARD_HELPER="0"))
    assert "lifeguard.hook.runner" in off and "lifeguard.hook.launch" not in off and "pathlib" not in off
    first = imported(run_launcher(ws, event(2)))
    assert "lifeguard.hook.launch" in first and "lifeguard.hook.runner" in first
    assert "pathlib" not in first
    assert wait_until(lambda: helper_up(ws), 60), "the hook did not start a helper"
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001", "toolu_0002"]


def test_lifeguard_run_runs_the_hook_itself_when_the_helper_does_not_take_it(ws: Path) -> None:
    """A helper turning the hook away (its code changed): stdin untouched, so the fast path's
    Python runs the hook itself, still without uv."""
    fake = fast_path_ws(ws)
    start_helper(ws)
    manifest = ws / ".claude" / installer.MANIFEST
    manifest.write_text(manifest.read_text() + "\n")
    res = run_launcher(ws, event(1))
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert uv_calls(fake) == 0
    assert logged_ids(ws) == ["toolu_0000", "toolu_0001"]


def test_lifeguard_run_leaves_a_hook_to_uv_when_the_environment_lacks_a_pinned_package(ws: Path, tmp_path: Path) -> None:
    """The recorded environment holds none of the packages the hooks pin: the fast path runs
    nothing (stdin untouched) and uv runs the hook, installing them there; the next hook then
    runs without uv."""
    import shutil

    fake = fast_path_ws(ws)
    venv = tmp_path / "bare-env"
    subprocess.run([shutil.which("uv"), "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    (ws / ".claude" / "hooks" / "python.path").write_text(f"{venv}/bin/python\n")
    res = run_launcher(ws, event(1), LIFEGUARD_HELPER="0")
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert uv_calls(fake) == 1 and logged_ids(ws) == ["toolu_0001"]
    res = run_launcher(ws, event(2), LIFEGUARD_HELPER="0")
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert uv_calls(fake) == 1 and logged_ids(ws) == ["toolu_0001", "toolu_0002"]


def test_a_broken_fast_path_leaves_the_hook_to_uv(ws: Path) -> None:
    """The fast path's Python cannot import the client (a damaged library copy): it exits before
    reading stdin and uv runs the hook, which says what is wrong. Nothing is run twice."""
    fake = fast_path_ws(ws)
    (ws / ".claude" / "lib" / "lifeguard" / "hook" / "client.py").write_text("raise ImportError('damaged')\n")
    res = run_launcher(ws, event(1), LIFEGUARD_HELPER="0")
    assert uv_calls(fake) == 1 and res.returncode == 0
    assert b"could not start (uv exit 1)" in res.stderr, res.stderr
    assert logged_ids(ws) == []


def test_the_fast_path_finishes_a_hook_whose_worker_died(ws: Path) -> None:
    """Under `python -I -S` the client loads site-packages only now, and runs the hook itself."""
    fake = fast_path_ws(ws)
    helper_fake = FakeHelper(ws, "dies")
    try:
        res = run_launcher(ws, event(1))
    finally:
        helper_fake.close()
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert uv_calls(fake) == 0
    assert logged_ids(ws) == ["toolu_0001"]


def test_a_fast_path_that_fails_after_taking_the_hook_is_reported_not_run_again(ws: Path) -> None:
    """The fast path's Python took the hook and then failed outside the runner's fail-open (here a
    damaged runner module): exit 0 with a message; uv does not run the hook a second time."""
    fake = fast_path_ws(ws)
    (ws / ".claude" / "lib" / "lifeguard" / "hook" / "runner.py").write_text("raise ImportError('damaged')\n")
    res = run_launcher(ws, event(1), LIFEGUARD_HELPER="0")
    assert res.returncode == 0 and uv_calls(fake) == 0
    assert b"the pre_tool_use hook failed in lifeguard's own Python (exit 1); skipped it" in res.stderr, res.stderr
    assert json.loads(res.stdout.splitlines()[-1])["systemMessage"].startswith("lifeguard: the pre_tool_use hook failed")


def test_a_helper_that_does_not_answer_the_fast_path_is_not_asked_twice(ws: Path) -> None:
    """lifeguard-run's client waited 2 s for no answer: the hook then runs in that same process,
    without asking the helper again (one wait, not two) and without uv."""
    fake = fast_path_ws(ws)
    helper_fake = FakeHelper(ws, "silent")
    try:
        res = run_launcher(ws, event(1))
    finally:
        helper_fake.close()
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    assert json.loads(res.stdout) == {"hookSpecificOutput": {"hookEventName": "PreToolUse"}}
    assert helper_fake.connections == 1 and uv_calls(fake) == 0
    assert logged_ids(ws) == ["toolu_0001"]


def test_the_fast_path_runs_only_lifeguards_entry_points_whose_pins_are_installed(ws: Path, tmp_path: Path) -> None:
    """client.can_run_here, on this interpreter (whose environment has the pinned packages), with
    a near miss beside each way of saying no."""
    hook = ws / ".claude" / "hooks" / "pre_tool_use.py"
    text = hook.read_text()
    assert client.can_run_here("PreToolUse", str(hook))
    assert not client.can_run_here("PostToolUse", str(hook))  # another event's entry point

    def variant(name: str, body: str) -> str:
        path = tmp_path / name
        path.write_text(body)
        return str(path)

    pin = next(line for line in text.splitlines() if line.startswith("# dependencies = ["))
    first = pin.split('"')[1]  # e.g. pydantic==2.14.4
    assert client.can_run_here("PreToolUse", variant("same.py", text))
    assert not client.can_run_here("PreToolUse", variant("version.py", text.replace(first, first + ".1")))
    assert not client.can_run_here("PreToolUse", variant("range.py", text.replace(first, first.replace("==", ">="))))
    assert not client.can_run_here("PreToolUse", variant("missing.py", text.replace(first, "not-installed-pkg==1.0")))
    assert not client.can_run_here("PreToolUse", variant("headless.py", text.replace(pin, "# no dependencies here")))
    assert not client.can_run_here("PreToolUse", variant("other.py", text.replace('run_hook("PreToolUse", __file__)',
                                                                                  'print("{}")')))
    assert not client.can_run_here("PreToolUse", str(tmp_path / "absent.py"))


def test_the_client_finds_the_claude_folder_as_realpath_would_without_os(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """client.installed_claude_dir and client._absolute skip os.path when the path is already
    absolute and plain (no symlink, `.`, `..` or empty part): the same answers as
    os.path.realpath and os.path.abspath, for those paths and for each near miss beside them."""
    monkeypatch.delenv("LIFEGUARD_HOME", raising=False)
    project = tmp_path / "project"
    hooks = project / ".claude" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "pre_tool_use.py").write_text("")
    elsewhere = tmp_path / "elsewhere" / ".claude" / "hooks"
    elsewhere.mkdir(parents=True)
    (elsewhere / "pre_tool_use.py").write_text("")
    (tmp_path / "linked").symlink_to(project)  # a symlinked project folder: the same .claude
    (project / "sub").mkdir()
    other = tmp_path / "other" / ".claude"
    other.mkdir(parents=True)
    (other / "hooks").symlink_to(elsewhere)  # a symlinked hooks folder: its target's .claude
    (hooks / "linked.py").symlink_to(elsewhere / "pre_tool_use.py")  # a symlinked hook file
    plain = str(hooks / "pre_tool_use.py")
    cases = [plain, f"{tmp_path}/linked/.claude/hooks/pre_tool_use.py", f"{other}/hooks/pre_tool_use.py",
             str(hooks / "linked.py"), f"{project}/sub/../.claude/hooks/pre_tool_use.py",
             f"{project}/./.claude/hooks/pre_tool_use.py", f"{project}//.claude/hooks/pre_tool_use.py",
             f"{project}/.claude/hooks/absent.py", f"{tmp_path}/no-claude/hooks/pre_tool_use.py", "/pre_tool_use.py"]
    monkeypatch.chdir(project)
    cases.append(".claude/hooks/pre_tool_use.py")
    for path in cases:
        real = os.path.dirname(os.path.dirname(os.path.realpath(path)))
        assert client.installed_claude_dir(path) == (real if os.path.basename(real) == ".claude" else None), path
        assert client._absolute(path) == os.path.abspath(path), path
    assert client.installed_claude_dir(plain) == str(project / ".claude")
    assert client.installed_claude_dir(f"{other}/hooks/pre_tool_use.py") == str(elsewhere.parent)
    assert client.installed_claude_dir(str(hooks / "linked.py")) == str(elsewhere.parent)
    assert client._normal(plain) and not client._has_link(plain)
    assert client._has_link(f"{tmp_path}/linked/.claude/hooks/pre_tool_use.py")
