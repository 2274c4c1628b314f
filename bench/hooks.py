#!/usr/bin/env python3
"""What lifeguard costs, against the floor of any `uv run --script` hook measured in the same run.

    python3 bench/hooks.py [--runs N] [--quick]

Builds temporary workspaces, installs lifeguard into them with the installer, and times, each
exactly as users run it (the settings.json command through `sh -c`, with CLAUDE_PROJECT_DIR set
and a realistic event on stdin; the tools through `uv run --script`):
- floor: an empty stdlib-only `uv run --script` hook (reads stdin, prints `{}`);
- PreToolUse and PostToolUse on a fresh session, and with 50,000 events already logged for the
  session (log and state generated through the library, not by 50,000 hook processes) and a
  20 MB transcript. Every call is written to its session's transcript before its hook runs, as
  Claude Code does (the assistant line with the tool_use before PreToolUse, the tool_result
  line before PostToolUse), so the hooks read a growing transcript as in a real session;
- SessionStart of a new session in a workspace with 0, 100 and 1,000 earlier sessions (idle
  for hours, not stale), and the first SessionStart facing 1,000 stale ones (idle for 2 days:
  a fresh copy of them before each run; the bench waits, untimed, until they are archived); after
  every SessionStart the bench waits, untimed, for the sweep it leaves for after its answer, as a
  user's next session starts long after it is done;
- `state_recovery.py doctor`, and `analyze` on 1,000 sessions as lifeguard keeps them (swept once, none
  running: a session changed since the last sweep gets the deep checks, which load pydantic);
- PreToolUse with the OpenTelemetry export switched on (LIFEGUARD_OTEL=1) and the collector down
  (nothing listens at OTEL_EXPORTER_OTLP_ENDPOINT), in the workspace of the 50,000-event session
  (the exporters these hooks start face its whole backlog): at most 1.10x PreToolUse fresh, since
  hooks only start the detached exporter (at most once a minute, less while it backs off) and
  never wait for it. When a run is due to start one (known before it runs, from the marker the
  hook checks) the bench waits afterwards, untimed, until that exporter is done, so that it does
  not run into the rows after it;
- one exporter run (scripts/otel_export.py) facing the 50,000 events with the collector down (a
  copy of the session in a workspace of its own, its export cursor removed before each run), against
  one with nothing to send: its CPU time at most 2.5x, its peak RSS at most 1.5x (what a run does
  is bounded: it must not grow with the backlog);
- PreToolUse and PostToolUse with the resident helper turned off (LIFEGUARD_HELPER=0: the hooks'
  Python runs the hook itself, no uv; the first hooks of a session, before the helper is up, cost
  this): at most 1.5x the floor; with it up (lifeguard-run's fast path: the hooks' Python runs
  only the stdlib client, no uv) at most 0.6x;
- for reference (no goal): SessionStart with the resident helper turned off;
- the memory of the resident helper and its workers together (proportional set size, from
  /proc/PID/smaps_rollup, after the runs): at most 20 MB;
- install.sh into a fresh project with uv's cache warm (the bench's own install warmed it).
The hooks run as installed, so through the resident helper (lib/lifeguard/helper.py) that the
warm-up runs start; the benchmark waits for it before timing.

Runs are interleaved (so a busy machine slows every kind alike), each round in a new order (so no
row always follows the same others, which would always leave it the helper in the same state),
and medians compared. Every goal
is a row of GOALS: its median, its ratio to the floor, and the goal (a ratio to the floor, to
another row, or a time). Exits 1 when a goal is missed. `--quick` runs fewer of each (CI).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

sys.path.insert(0, str(REPO / "tests"))

from lifeguard.commands.install import command as installer  # noqa: E402
from lifeguard.config import load as config  # noqa: E402
from lifeguard.core.proc import children  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402
from lifeguard.features.registry import FEATURES  # noqa: E402
from lifeguard.hook import helper  # noqa: E402
from lifeguard.store import eventlog, reducer, state as state_mod  # noqa: E402
from lifeguard.telemetry import export, trigger  # noqa: E402
from lifeguard.upkeep import sweep  # noqa: E402
from planted import many_sessions, session_paths  # noqa: E402

HISTORY_EVENTS = 50_000
HOT_GOAL = 0.6  # PreToolUse / PostToolUse with the helper up: lifeguard-run's fast path, no uv
HOT_OFF_GOAL = 1.5  # the same with the helper off (LIFEGUARD_HELPER=0): a cold Python importing lifeguard
HELPER_PSS_GOAL_MB = 20.0  # the helper and its workers together, proportional set size
INSTALL_GOAL_MS = 3000
EXPORT_CPU_GOAL = 2.5  # an exporter run facing 50,000 events, to one with nothing to send
EXPORT_RSS_GOAL = 1.5
QUIET_FLOOR_MS = 34  # the floor on this 2-core machine when nothing else runs (doctor's and analyze's goals)
OLD_SESSIONS_IDLE_HOURS = 5  # earlier sessions: finished hours ago, not yet stale
STALE_IDLE_HOURS = 48  # over limits.archive_idle_hours (24)

FLOOR_SCRIPT = """#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
import sys

sys.stdin.buffer.read()
print("{}")
"""


# runs a command and prints what it and its children cost: CPU seconds and peak RSS (of the largest)
RUSAGE = """import json, resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "cpu": use.ru_utime + use.ru_stime, "rss_mb": use.ru_maxrss / 1024}))
"""


def hook_input(event: str, session: str, ws: Path, n: int) -> dict:
    """What Claude Code 2.1.332 sends (docs/claude-code-hooks-notes.md), for call number n."""
    if event == "SessionStart":
        return {"session_id": session, "transcript_path": str(transcript_path(ws, session)),
                "cwd": str(ws), "hook_event_name": event, "source": "startup"}
    command = f"ls -la src/module_{n % 97}/ && grep -rn 'def handler_{n}' src | head -20"
    data = {
        "session_id": session, "transcript_path": str(transcript_path(ws, session)), "cwd": str(ws),
        "prompt_id": "5d1c6a4e-0000-4000-8000-000000000000", "permission_mode": "default",
        "effort": {"level": "medium"}, "hook_event_name": event, "tool_name": "Bash",
        "tool_input": {"command": command, "description": f"look at module {n % 97}"},
        "tool_use_id": f"toolu_01{n:022d}",
    }
    if event == "PostToolUse":
        data["tool_response"] = {"stdout": "\n".join(f"src/module_{n % 97}/file_{i}.py:{i * 7}: def handler_{n}():"
                                                     for i in range(20)),
                                 "stderr": "", "interrupted": False, "isImage": False, "noOutputExpected": False}
        data["duration_ms"] = 41
    return data


def transcript_path(ws: Path, session: str) -> Path:
    return ws / "transcripts" / f"{session}.jsonl"


def transcript_line(data: dict) -> bytes:
    """The transcript line Claude Code has written by the time this tool event's hook runs."""
    if data["hook_event_name"] == "PreToolUse":
        content = [{"type": "tool_use", "id": data["tool_use_id"], "name": data["tool_name"], "input": data["tool_input"]}]
        rec = {"type": "assistant", "message": {"role": "assistant", "content": content}}
    else:
        content = [{"type": "tool_result", "tool_use_id": data["tool_use_id"], "content": data["tool_response"]["stdout"]}]
        rec = {"type": "user", "message": {"role": "user", "content": content}}
    return (json.dumps({**rec, "sessionId": data["session_id"], "timestamp": "2026-11-30T10:00:00.000Z"}) + "\n").encode()


def add_to_transcript(data: dict, ws: Path) -> None:
    path = transcript_path(ws, data["session_id"])
    path.parent.mkdir(exist_ok=True)
    with open(path, "ab") as f:
        f.write(transcript_line(data))


def make_transcript(ws: Path, session: str, size: int) -> None:
    path = transcript_path(ws, session)
    path.parent.mkdir(exist_ok=True)
    with open(path, "wb") as f:
        n = 0
        while f.tell() < size:
            for event in ("PreToolUse", "PostToolUse"):
                f.write(transcript_line(hook_input(event, session, ws, n)))
            n += 1


def make_history(ws: Path, session: str, count: int) -> None:
    """A session with `count` events, built through the library like hooks build them."""
    from lifeguard.hook.pipeline import prepare

    layout = Layout(ws / ".claude")
    records, ts0 = [], time.time() - count
    for n in range(count):
        event = "PreToolUse" if n % 2 == 0 else "PostToolUse"
        _cfg, record = prepare(event, hook_input(event, session, ws, n // 2), layout)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts0 + n)) + ".000Z"
        records.append({"seq": n + 1, "ts": ts, **record})
    with open(layout.event_log(session), "wb") as f:
        f.write(b"".join(eventlog.encode(r) for r in records))
    state = reducer.replay(records, session, FEATURES)
    state_mod.save(layout.session_file(session), state)


class Case:
    """One thing timed: a shell command in a workspace, `runs` times (after `warmups` untimed).

    `session` None gives each run a new session id: a UUID, as Claude Code's session ids are (any
    other id is hashed for file names, which costs a hook without the helper hashlib's import);
    `setup(case)` runs untimed before each run and `settle(case)` untimed after it;
    `check(stdout)` says whether the output is right."""

    def __init__(self, name: str, command: str, ws: Path, env: dict, runs: int, *, event: str | None = None,
                 session: str | None = None, warmups: int = 2, setup=None, settle=None, check=None):
        self.name, self.command, self.ws, self.env, self.runs = name, command, ws, env, runs
        self.event, self.session, self.warmups = event, session, warmups
        self.setup, self.settle = setup, settle
        self.check = check or (lambda out: isinstance(json.loads(out or b"null"), dict))
        self.times: list[float] = []
        self.count = 0

    def run(self, timed: bool = True) -> None:
        self.count += 1
        if self.setup is not None:
            self.setup(self)
        payload = b""
        if self.event is not None:
            session = self.session or str(uuid.uuid4())  # a new session, named as Claude Code names one
            data = hook_input(self.event, session, self.ws, 10_000 + self.count)
            if self.event in ("PreToolUse", "PostToolUse"):
                add_to_transcript(data, self.ws)
            payload = json.dumps(data).encode()
        started = time.perf_counter()
        proc = subprocess.run(["sh", "-c", self.command], input=payload, capture_output=True, cwd=self.ws,
                              env=self.env, timeout=120)
        took = time.perf_counter() - started
        if proc.returncode != 0 or not self.check(proc.stdout) or proc.stderr.strip():
            raise SystemExit(f"{self.name}: exit {proc.returncode}, stdout {proc.stdout[:300]!r}, "
                             f"stderr {proc.stderr[:500]!r}")
        if timed:
            self.times.append(took)
        if self.settle is not None:
            self.settle(self)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000


def dead_endpoint() -> str:
    """An OTLP endpoint on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class Goal:
    """One row of the report. `ratio` bounds median / the floor's median (or, with `against`, /
    that case's median); `ms` bounds the median itself; `quiet_ms`, a time set for a quiet machine,
    bounds the ratio to the floor it is there (QUIET_FLOOR_MS), so a busy machine does not fail it
    and a fast one is held to more; none: a reference figure."""

    def __init__(self, case: Case, ratio: float | None = None, against: Case | None = None,
                 ms: float | None = None, quiet_ms: float | None = None):
        self.case, self.ratio, self.against, self.ms = case, ratio, against, ms
        self.quiet_ms = quiet_ms
        if quiet_ms is not None:
            self.ratio = round(quiet_ms / QUIET_FLOOR_MS)

    def judge(self, floor_ms: float) -> tuple[str, str]:
        """(the goal, the verdict: "ok (measured)", "MISSED (measured)" or "" for a reference)."""
        median = self.case.median_ms
        if self.ms is not None:
            wanted, got, met = f"<= {self.ms:g} ms", f"{median:.0f} ms", median <= self.ms
        elif self.ratio is not None:
            base = self.against.median_ms if self.against else floor_ms
            where = f" {self.against.name}" if self.against else " floor"
            wanted, got = f"<= {self.ratio:g}x{where}", f"{median / base:.2f}x"
            if self.quiet_ms is not None:
                wanted += f" ({self.quiet_ms / 1000:g} s when quiet)"
            met = median / base <= self.ratio
        else:
            return "", ""
        return wanted, f"{'ok' if met else 'MISSED'} ({got})"


def helper_pss_mb(claude: Path) -> float | None:
    """The proportional set size of the resident helper of `claude` and its workers (the spares
    waiting for hooks), in MB: shared pages counted once across them. None without /proc."""
    pid = int((claude / "state" / helper.PID).read_text())
    total_kb = 0
    for one in [pid, *children(pid)]:
        try:
            with open(f"/proc/{one}/smaps_rollup") as f:
                total_kb += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            if one == pid:
                return None
    return total_kb / 1024


def exporters(claude: Path) -> list[int]:
    """The OpenTelemetry exporters running for `claude` (uv's process and the script's), as /proc
    tells; none without /proc."""
    found, real = [], os.path.realpath(claude)
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    args = [os.fsdecode(a) for a in f.read().split(b"\0")]
            except OSError:
                continue
            if any(a.endswith(trigger.SCRIPT) for a in args) and any(os.path.realpath(a) == real for a in args if a):
                found.append(int(name))
    return found


def quietly(fn, *args, **kwargs):
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            return fn(*args, **kwargs)
        finally:
            sys.stdout = stdout


def workspace(tmp: Path, name: str) -> tuple[Path, dict]:
    """An installed workspace and its settings.json hook commands by event."""
    ws = tmp / name
    ws.mkdir()
    quietly(installer.install, ws, warm=True)  # as install.sh does: the hooks' shared environment
    settings = json.loads((ws / ".claude" / "settings.json").read_text())
    return ws, {event: groups[0]["hooks"][0]["command"] for event, groups in settings["hooks"].items()}


def wait_for(what: str, done, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen within {seconds:g}s")
        time.sleep(0.05)


def archived(layout: Layout, sessions: list[str]) -> bool:
    """None of these sessions has anything left in the state folder: state, log, snapshot, lock,
    spool, checkpoints."""
    return not any(session_paths(layout, sid) for sid in sessions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each hook case (default 30)")
    parser.add_argument("--quick", action="store_true", help="fewer runs (10 of each hook, 3 of the slow cases), for CI")
    parser.add_argument("--events", type=int, default=HISTORY_EVENTS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30),
                        help="the order of the interleaved runs (printed; default: a new one each time)")
    args = parser.parse_args(argv)
    runs = 10 if args.quick else args.runs
    slow_runs = 3 if args.quick else max(3, runs // 6)  # cases that cost seconds: tools, 1,000 stale sessions
    uv = shutil.which("uv")
    if not uv:
        print("bench: uv is not installed", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="lifeguard-bench-"))
    workspaces: list[Path] = []
    try:
        print(f"bench: installing lifeguard into workspaces under {tmp}", flush=True)
        ws, commands = workspace(tmp, "ws")
        workspaces.append(ws)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "LIFEGUARD"))}
        env["CLAUDE_PROJECT_DIR"] = str(ws)
        floor = tmp / "floor.py"
        floor.write_text(FLOOR_SCRIPT)

        long_session = "0b5e55ed-1000-4000-8000-000000050000"  # a UUID, as every Claude Code session id is
        started = time.perf_counter()
        make_history(ws, long_session, args.events)
        make_transcript(ws, long_session, 20 * 1024 * 1024)
        export_ws, empty_ws = workspace(tmp, "ws-export")[0], workspace(tmp, "ws-export-none")[0]
        export_layout = Layout(export_ws / ".claude")
        shutil.copyfile(Layout(ws / ".claude").event_log(long_session), export_layout.event_log(long_session))
        print(f"bench: generated {args.events} logged events in {time.perf_counter() - started:.1f}s", flush=True)

        starts: dict[str, tuple[Path, dict, dict]] = {}  # SessionStart workspaces by how many earlier sessions
        started = time.perf_counter()
        for label, count in (("0", 0), ("100", 100), ("1,000", 1000)):
            where, cmds = workspace(tmp, f"ws-{count}")
            many_sessions(Layout(where / ".claude"), count, OLD_SESSIONS_IDLE_HOURS)
            starts[label] = (where, cmds, {**env, "CLAUDE_PROJECT_DIR": str(where)})
            workspaces.append(where)
        # analyze's: a copy of the 1,000 earlier sessions as lifeguard keeps them, swept once (as the next
        # SessionStart would), with no session running: one that changed since is checked deeply
        quiet = Layout(workspace(tmp, "ws-analyze")[0] / ".claude")
        shutil.copytree(Layout(starts["1,000"][0] / ".claude").state_dir, quiet.state_dir, dirs_exist_ok=True)
        sweep.run(quiet, "-", {}, FEATURES)
        stale_ws, stale_cmds = workspace(tmp, "ws-stale")
        workspaces.append(stale_ws)
        stale_layout = Layout(stale_ws / ".claude")
        template = Layout(tmp / "stale-template" / ".claude")
        stale_ids = many_sessions(template, 1000, STALE_IDLE_HOURS, prefix="stale")
        for name in os.listdir(template.state_dir):  # the sessions only: not the salt or the config cache
            if not name.startswith(("session-", "events-", "spool", "backups")):
                os.unlink(template.state_dir / name)
        print(f"bench: generated 1,100 earlier and 1,000 stale sessions in {time.perf_counter() - started:.1f}s",
              flush=True)

        def fresh_stale_sessions(case: Case) -> None:
            """The workspace's sessions replaced by a copy of the 1,000 stale ones (helper files kept)."""
            shutil.rmtree(stale_layout.archive_dir, ignore_errors=True)
            for name in os.listdir(stale_layout.state_dir):
                if name.startswith(("session-", "events-", "health-", "sweep")):
                    os.unlink(stale_layout.state_dir / name)
            for folder in ("spool", "backups"):
                shutil.rmtree(stale_layout.state_dir / folder, ignore_errors=True)
            shutil.copytree(template.state_dir, stale_layout.state_dir, dirs_exist_ok=True, symlinks=True)

        def sweep_waits(where: Path):
            """(setup, settle) for a SessionStart: note when it began; afterwards wait, untimed, for
            the sweep it left for after its answer (long done before a user starts the next
            session), so that its work does not slow whichever rows run next."""
            layout = Layout(where / ".claude")

            def began(case: Case) -> None:
                case.began = time.time()

            def swept(case: Case) -> None:
                wait_for(f"the sweep after {case.name}",
                         lambda: (sweep.last_report(layout) or {}).get("finished", 0) >= case.began)

            return began, swept

        def exporter_waits(where: Path):
            """(setup, settle) for a hook with the export on: whether it starts the exporter is known
            before it runs (the marker's mtime, the hook's own check: telemetry/trigger.py); when it
            does, wait afterwards, untimed, until that exporter is done (at nice 19 it would still
            take the idle CPU of the rows after it)."""
            claude = where / ".claude"
            telemetry = Layout(claude).state_dir / "telemetry"
            interval = trigger.interval_of(config.load(Layout(claude)).get("telemetry"))

            def since() -> float:
                try:
                    return time.time() - os.stat(telemetry / trigger.MARKER).st_mtime
                except FileNotFoundError:
                    return interval

            def due(case: Case) -> None:
                if interval - 2 < since() < interval:  # about to be due: let it be, so the hook cannot judge otherwise
                    wait_for("the exporter's interval", lambda: since() >= interval, 3)
                case.began, case.exporting = time.time(), since() >= interval

            def done(case: Case) -> None:
                if not case.exporting:
                    return

                def finished() -> bool:
                    try:
                        ended = os.stat(telemetry / export.STATUS).st_mtime >= case.began
                    except FileNotFoundError:
                        return False
                    return ended and not exporters(claude)

                wait_for(f"the exporter started by {case.name}", finished, 300)  # the first builds its environment
                case.exporters = getattr(case, "exporters", 0) + 1

            return due, done

        costs: dict[str, list[dict]] = {}

        def cost_of(label: str):
            """check(): the exporter run failed to send (the collector is down), as it should; its
            figures kept under `label`."""
            def check(out: bytes) -> bool:
                figures = json.loads(out)
                costs.setdefault(label, []).append(figures)
                return figures["rc"] == 1

            return check

        def fresh_backlog(case: Case) -> None:
            """Each run faces the whole 50,000 events: the export cursor and status removed."""
            for name in (export.CURSOR, export.STATUS):
                (export_layout.state_dir / "telemetry" / name).unlink(missing_ok=True)

        def stale_archived(case: Case) -> None:
            wait_for("archiving the 1,000 stale sessions", lambda: archived(stale_layout, stale_ids))

        def new_project(case: Case) -> None:
            project = tmp / f"install-{case.count}"
            project.mkdir()
            case.command = f"{REPO / 'install.sh'} {project}"

        def shared_environment(case: Case) -> None:
            if not (tmp / f"install-{case.count}" / ".claude" / installer.PYTHON_PATH_FILE).exists():
                raise SystemExit("install.sh: no shared environment recorded")

        tools = f"{uv} run -q --script {ws / '.claude' / 'scripts' / 'state_recovery.py'}"
        exporter = f"{sys.executable} -c '{RUSAGE}' {uv} run -q --script {REPO / 'scripts' / trigger.SCRIPT} --workspace"
        down = {**env, "LIFEGUARD_OTEL": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": dead_endpoint(),
                "OTEL_EXPORTER_OTLP_TIMEOUT": "1"}  # the SDK's retries until its timeout are idle: not what is measured
        otel_due, otel_done = exporter_waits(ws)
        cases = {
            "floor": Case("floor", f"{uv} run -q --script {floor}", ws, env, runs, event="PreToolUse"),
            "pre": Case("PreToolUse fresh", commands["PreToolUse"], ws, env, runs, event="PreToolUse"),
            "post": Case("PostToolUse fresh", commands["PostToolUse"], ws, env, runs, event="PostToolUse"),
            "pre-long": Case(f"PreToolUse {args.events // 1000}k", commands["PreToolUse"], ws, env, runs,
                             event="PreToolUse", session=long_session),
            "post-long": Case(f"PostToolUse {args.events // 1000}k", commands["PostToolUse"], ws, env, runs,
                              event="PostToolUse", session=long_session),
            "pre-off": Case("PreToolUse, helper off", commands["PreToolUse"], ws, {**env, "LIFEGUARD_HELPER": "0"},
                            runs, event="PreToolUse"),
            "post-off": Case("PostToolUse, helper off", commands["PostToolUse"], ws, {**env, "LIFEGUARD_HELPER": "0"},
                             runs, event="PostToolUse"),
            "pre-otel-down": Case("PreToolUse, OTel on, collector down", commands["PreToolUse"], ws,
                                  {**env, "LIFEGUARD_OTEL": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": dead_endpoint()},
                                  runs, event="PreToolUse", setup=otel_due, settle=otel_done),
            "export-50k": Case(f"OTel exporter, {args.events // 1000}k events, down", f"{exporter} {export_ws / '.claude'}",
                               export_ws, down, slow_runs, warmups=1, setup=fresh_backlog, check=cost_of("50k")),
            "export-none": Case("OTel exporter, nothing to send, down", f"{exporter} {empty_ws / '.claude'}",
                                empty_ws, down, slow_runs, warmups=1, check=cost_of("none")),
        }
        for label, (where, cmds, start_env) in starts.items():
            began, swept = sweep_waits(where)
            cases[f"start-{label}"] = Case(f"SessionStart, {label} earlier sessions", cmds["SessionStart"], where,
                                           start_env, runs, event="SessionStart", setup=began, settle=swept)
        cases["start-stale"] = Case("SessionStart, first facing 1,000 stale", stale_cmds["SessionStart"], stale_ws,
                                    {**env, "CLAUDE_PROJECT_DIR": str(stale_ws)}, slow_runs, event="SessionStart",
                                    warmups=1, setup=fresh_stale_sessions, settle=stale_archived)
        began, swept = sweep_waits(starts["0"][0])
        cases["start-off"] = Case("SessionStart, helper off", starts["0"][1]["SessionStart"], starts["0"][0],
                                  {**starts["0"][2], "LIFEGUARD_HELPER": "0"}, runs, event="SessionStart",
                                  setup=began, settle=swept)
        cases["doctor"] = Case("doctor", f"{tools} doctor --json", ws, env, slow_runs, warmups=1,
                               check=lambda out: isinstance(json.loads(out), list))
        cases["analyze"] = Case("analyze, 1,000 sessions", f"{tools} --workspace {quiet.claude_dir} analyze --json",
                                ws, env, slow_runs, warmups=1,
                                check=lambda out: json.loads(out)["total_sessions"] >= 1000)
        cases["install"] = Case("install.sh, uv cache warm", "", ws, env, slow_runs, warmups=0, setup=new_project,
                                settle=shared_environment, check=lambda out: True)
        c = cases
        goals = [
            Goal(c["floor"]),
            Goal(c["pre"], ratio=HOT_GOAL), Goal(c["pre-long"], ratio=1.15, against=c["pre"]),
            Goal(c["post"], ratio=HOT_GOAL), Goal(c["post-long"], ratio=1.15, against=c["post"]),
            Goal(c["pre-off"], ratio=HOT_OFF_GOAL), Goal(c["post-off"], ratio=HOT_OFF_GOAL),
            Goal(c["pre-otel-down"], ratio=1.10, against=c["pre"]),
            Goal(c["start-0"], ratio=2.0), Goal(c["start-100"], ratio=2.0), Goal(c["start-1,000"], ratio=2.0),
            Goal(c["start-stale"], ratio=3.0),
            Goal(c["start-off"]),
            Goal(c["doctor"], quiet_ms=2000), Goal(c["analyze"], quiet_ms=1000),
            Goal(c["install"], ms=INSTALL_GOAL_MS),
        ]

        order = list(cases.values())
        for case in order:  # warm-up: uv's cache, the page cache, one-time work, the helpers starting
            for _ in range(case.warmups):
                case.run(timed=False)
        for where in workspaces:
            claude = str(where / ".claude")
            wait_for(f"the resident helper of {where.name}", lambda: helper.running(claude), 30)
        print(f"bench: {runs} interleaved runs of each hook case, {slow_runs} of the slow ones, in an order shuffled "
              f"each round (--seed {args.seed})", flush=True)
        # each round in its own order: a row always run right after the same others would always
        # meet the resident helper in the same state (its spares just taken, or rehearsed)
        shuffle = random.Random(args.seed)
        for i in range(max(case.runs for case in order)):
            shuffle.shuffle(order)
            for case in order:
                if len(case.times) < case.runs:
                    case.run()

        for where in workspaces:
            faults = where / ".claude" / "state" / "faults.jsonl"
            if faults.exists():
                print(f"bench: hooks failed open during the run in {where.name} (see below); the figures are not "
                      f"valid\n{faults.read_text()[:2000]}", file=sys.stderr)
                return 1
        logged = sum(1 for _ in eventlog.iter_records(Layout(ws / ".claude").event_log(long_session)))
        expected = args.events + 2 * (runs + 2)
        if logged != expected:
            print(f"bench: the long session has {logged} events, expected {expected}", file=sys.stderr)
            return 1

        otel = cases["pre-otel-down"]
        print(f"bench: {otel.name} started {getattr(otel, 'exporters', 0)} exporter(s) in its {otel.count} runs, "
              f"each waited for (untimed) before the next row")
        floor_ms = cases["floor"].median_ms
        print(f"\n{'case':40} {'median':>9} {'x floor':>8}  {'goal':30} verdict")
        missed = []
        for goal in goals:
            wanted, verdict = goal.judge(floor_ms)
            print(f"{goal.case.name:40} {goal.case.median_ms:7.1f}ms {goal.case.median_ms / floor_ms:7.2f}x  "
                  f"{wanted:30} {verdict}")
            if verdict.startswith("MISSED"):
                missed.append(f"{goal.case.name}: {verdict[8:-1]}, goal {wanted}")
        pss = helper_pss_mb(ws / ".claude")
        met = pss is not None and pss <= HELPER_PSS_GOAL_MB
        got = "not measurable (no /proc smaps_rollup)" if pss is None else f"{pss:.1f} MB"
        print(f"{'resident helper + workers, PSS':40} {got:>18}  {'<= ' + str(HELPER_PSS_GOAL_MB) + ' MB':30} "
              f"{'ok' if met else 'MISSED'}")
        if not met:
            missed.append(f"resident helper + workers: {got}, goal <= {HELPER_PSS_GOAL_MB} MB")
        for key, what, unit, goal in (("cpu", "CPU", "s", EXPORT_CPU_GOAL), ("rss_mb", "peak RSS", "MB", EXPORT_RSS_GOAL)):
            median = {label: statistics.median(f[key] for f in figures[-slow_runs:]) for label, figures in costs.items()}
            ratio, name = median["50k"] / median["none"], f"OTel exporter {args.events // 1000}k, down: {what}"
            print(f"{name:40} {median['50k']:7.2f}{unit:<2} {'':8}  {f'<= {goal:g}x nothing to send':30} "
                  f"{'ok' if ratio <= goal else 'MISSED'} ({ratio:.2f}x; nothing to send: {median['none']:.2f} {unit})")
            if ratio > goal:
                missed.append(f"{name}: {ratio:.2f}x, goal <= {goal:g}x nothing to send")
        if missed:
            print("\nbench: goal missed: " + "; ".join(missed))
            return 1
        print("\nbench: all goals met")
        return 0
    finally:
        for where in workspaces:
            helper.stop(str(where / ".claude"))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
