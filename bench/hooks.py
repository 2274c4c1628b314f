#!/usr/bin/env python3
"""How much a lifeguard hook costs, against the floor of any `uv run --script` hook.

    python3 bench/hooks.py [--runs N] [--quick]

Builds a temporary workspace, installs lifeguard into it with the installer, and times:
- floor: an empty stdlib-only `uv run --script` hook (reads stdin, prints `{}`);
- PreToolUse and PostToolUse exactly as settings.json runs them (its command, through `sh -c`,
  with CLAUDE_PROJECT_DIR set and a realistic event on stdin), on a fresh session;
- the same with 50,000 events already logged for the session (log and state generated
  through the library, not by 50,000 hook processes);
- for reference (no goal): PreToolUse with the resident helper turned off (LIFEGUARD_HELPER=0),
  i.e. the cost of the first hook of a session, before the helper is up;
- install.sh into a fresh project with uv's cache warm (the bench's own install warmed it):
  at most 3 s, its median over a few runs (the ratio to the floor is shown for scale).
The hooks run as installed, so with the resident helper (lib/lifeguard/helper.py) that the
warm-up runs start; the benchmark waits for it before timing.
Runs are interleaved (so a busy machine slows every kind alike) and medians compared:
hook / floor must be at most 1.5, 50k / fresh at most 1.15. Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

from lifeguard.features.registry import FEATURES  # noqa: E402
from lifeguard.store import eventlog, reducer, state as state_mod  # noqa: E402
from lifeguard.hook import helper
from lifeguard.commands import install as installer  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402

HOOK_GOAL = 1.5
HISTORY_GOAL = 1.15
HISTORY_EVENTS = 50_000
INSTALL_GOAL_S = 3.0

FLOOR_SCRIPT = """#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
import sys

sys.stdin.buffer.read()
print("{}")
"""


def hook_input(event: str, session: str, ws: Path, n: int) -> dict:
    """What Claude Code 2.1.332 sends (docs/claude-code-hooks-notes.md), for call number n."""
    command = f"ls -la src/module_{n % 97}/ && grep -rn 'def handler_{n}' src | head -20"
    data = {
        "session_id": session, "transcript_path": f"/home/u/.claude/projects/ws/{session}.jsonl", "cwd": str(ws),
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
    def __init__(self, name: str, command: str, event: str | None, session: str | None, ws: Path, env: dict):
        self.name, self.command, self.event, self.session = name, command, event, session
        self.ws, self.env = ws, env
        self.times: list[float] = []
        self.count = 0

    def run(self, timed: bool = True) -> None:
        self.count += 1
        session = self.session or f"fresh-{self.name}-{self.count}-{os.getpid()}"
        event = self.event or "PreToolUse"
        payload = json.dumps(hook_input(event, session, self.ws, 10_000 + self.count)).encode()
        started = time.perf_counter()
        proc = subprocess.run(["sh", "-c", self.command], input=payload, capture_output=True, cwd=self.ws,
                              env=self.env, timeout=60)
        took = time.perf_counter() - started
        if proc.returncode != 0 or not isinstance(json.loads(proc.stdout or b"null"), dict) or proc.stderr.strip():
            raise SystemExit(f"{self.name}: exit {proc.returncode}, stdout {proc.stdout[:200]!r}, "
                             f"stderr {proc.stderr[:300]!r}")
        if timed:
            self.times.append(took)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000


def time_install(tmp: Path, env: dict, runs: int) -> float:
    """Median seconds of `install.sh PROJECT` into a fresh project each time."""
    times = []
    for i in range(runs):
        project = tmp / f"install-{i}"
        project.mkdir()
        started = time.perf_counter()
        proc = subprocess.run([str(REPO / "install.sh"), str(project)], capture_output=True, env=env, timeout=120)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0 or not (project / ".claude" / installer.PYTHON_PATH_FILE).exists():
            raise SystemExit(f"install.sh: exit {proc.returncode}, no shared environment recorded: "
                             f"{proc.stdout[-300:]!r} {proc.stderr[-300:]!r}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each case (default 30)")
    parser.add_argument("--quick", action="store_true", help="fewer runs (10), for CI")
    parser.add_argument("--events", type=int, default=HISTORY_EVENTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    runs = 10 if args.quick else args.runs
    uv = shutil.which("uv")
    if not uv:
        print("bench: uv is not installed", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="lifeguard-bench-"))
    try:
        ws = tmp / "ws"
        ws.mkdir()
        print(f"bench: installing lifeguard into {ws}", flush=True)
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                installer.install(ws, warm=True)
            finally:
                sys.stdout = stdout
        settings = json.loads((ws / ".claude" / "settings.json").read_text())
        commands = {event: settings["hooks"][event][0]["hooks"][0]["command"] for event in ("PreToolUse", "PostToolUse")}
        floor = tmp / "floor.py"
        floor.write_text(FLOOR_SCRIPT)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "LIFEGUARD"))}
        env["CLAUDE_PROJECT_DIR"] = str(ws)

        long_session = "bench-long-session"
        started = time.perf_counter()
        make_history(ws, long_session, args.events)
        print(f"bench: generated {args.events} logged events in {time.perf_counter() - started:.1f}s", flush=True)

        cases = [
            Case("floor", f"{uv} run -q --script {floor}", None, None, ws, env),
            Case("PreToolUse fresh", commands["PreToolUse"], "PreToolUse", None, ws, env),
            Case("PostToolUse fresh", commands["PostToolUse"], "PostToolUse", None, ws, env),
            Case(f"PreToolUse {args.events // 1000}k", commands["PreToolUse"], "PreToolUse", long_session, ws, env),
            Case(f"PostToolUse {args.events // 1000}k", commands["PostToolUse"], "PostToolUse", long_session, ws, env),
            Case("PreToolUse, helper off", commands["PreToolUse"], "PreToolUse", None, ws,
                 {**env, "LIFEGUARD_HELPER": "0"}),
        ]
        for case in cases:  # warm-up: uv's cache, the page cache, one-time work on the long session
            for _ in range(2):
                case.run(timed=False)
        deadline = time.monotonic() + 30
        while not helper.running(str(ws / ".claude")) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not helper.running(str(ws / ".claude")):
            print("bench: the resident helper did not start; the figures would not be what users get", file=sys.stderr)
            return 1
        print(f"bench: {runs} interleaved runs of each case", flush=True)
        for i in range(runs):
            for case in cases[i % len(cases):] + cases[: i % len(cases)]:
                case.run()

        faults = ws / ".claude" / "state" / "faults.jsonl"
        if faults.exists():
            print(f"bench: hooks failed open during the run (see below); the figures are not valid\n"
                  f"{faults.read_text()[:2000]}", file=sys.stderr)
            return 1
        logged = sum(1 for _ in eventlog.iter_records(Layout(ws / ".claude").event_log(long_session)))
        expected = args.events + 2 * (runs + 2)
        if logged != expected:
            print(f"bench: the long session has {logged} events, expected {expected}", file=sys.stderr)
            return 1

        floor_ms = cases[0].median_ms
        rows = [("floor (empty uv run --script)", floor_ms, None, None)]
        missed = []
        for fresh, long in ((cases[1], cases[3]), (cases[2], cases[4])):
            ratio = fresh.median_ms / floor_ms
            rows.append((fresh.name, fresh.median_ms, f"{ratio:.2f}x floor", HOOK_GOAL))
            if ratio > HOOK_GOAL:
                missed.append(f"{fresh.name}: {ratio:.2f}x the floor (goal <= {HOOK_GOAL})")
            ratio = long.median_ms / fresh.median_ms
            rows.append((long.name, long.median_ms, f"{ratio:.2f}x fresh", HISTORY_GOAL))
            if ratio > HISTORY_GOAL:
                missed.append(f"{long.name}: {ratio:.2f}x the fresh session (goal <= {HISTORY_GOAL})")
        off = cases[5]
        rows.append((off.name, off.median_ms, f"{off.median_ms / floor_ms:.2f}x floor", None))
        install_s = time_install(tmp, env, 1 if args.quick else 3)
        rows.append(("install.sh, uv cache warm", install_s * 1000, f"{install_s * 1000 / floor_ms:.1f}x floor",
                     f"{INSTALL_GOAL_S:g} s"))
        if install_s > INSTALL_GOAL_S:
            missed.append(f"install.sh: {install_s:.2f} s (goal <= {INSTALL_GOAL_S:g} s)")
        print(f"\n{'case':34} {'median':>9}  {'ratio':>14}  goal")
        for name, ms, ratio, goal in rows:
            print(f"{name:34} {ms:7.1f}ms  {ratio or '':>14}  {'<= ' + str(goal) if goal else ''}")
        if missed:
            print("\nbench: goal missed: " + "; ".join(missed))
            return 1
        print("\nbench: all goals met")
        return 0
    finally:
        helper.stop(str(tmp / "ws" / ".claude"))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
