"""What redaction costs: per event record, and as a share of a hot hook.

    python3 bench/redact_bench.py [--rounds N]

- record.build, microseconds of CPU per record with redaction on and off, for a typical
  PostToolUse (a short command, ~1.5 KB of output), a large one (output cut at 1000 chars, Write
  content at 2000) and one full of secrets (every class redaction knows: token formats,
  name=value, password flags of command-line tools, passwords told in words, header pairs,
  numbers under password-like keys);
- the hot hooks: a PreToolUse and PostToolUse pair handled in-process (hook/pipeline.handle:
  config, record, checks, the durable commit) on a real temporary workspace whose state grows
  over the rounds as a long session's does, with redaction on and off, rounds interleaved.
  Redaction is pure computation, so what it adds is measured in CPU time (time.process_time,
  which the load of other processes does not swing), round by round;
- the same pair as hooks really run: `hooks/pre_tool_use.py` and `hooks/post_tool_use.py`, each
  a process of its own (the resident helper off, so this is the slower, first-hook path; through
  the helper a hook costs about half as much, see bench/hooks.py).
The goal: redaction adds at most HOT_GOAL to what the pair of hooks costs as processes. The
share of the in-process pair alone (no interpreter start, no hand-off) is printed beside it.
Exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from lifeguard.config.load import DEFAULTS, Config  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402
from lifeguard.store import record  # noqa: E402
from lifeguard.hook.pipeline import handle  # noqa: E402

HOT_GOAL = 0.03  # redaction may make a hot hook at most 3% slower

CODE = "def handler(event, context):\n    items = load(event['path'])\n    for key, value in items.items():\n" \
       "        print(f'{key}: {value}')  # token count, config path\n    return {'status': 200}\n"
CASES = {
    "typical": {"tool_name": "Bash", "tool_input": {"command": "pytest -x tests/test_api.py", "description": "run"},
                "tool_response": {"stdout": (CODE * 8)[:1500], "stderr": "", "interrupted": False}},
    "large": {"tool_name": "Write", "tool_input": {"file_path": "/ws/app.py", "content": CODE * 400},
              "tool_response": {"stdout": "x" * 200_000}},
    "secrets": {"tool_name": "Bash",
                "tool_input": {"command": "curl -H 'Authorization: Bearer abcdef0123456789' --password hunter2 "
                                          "https://u:p4ss@h/x && mysql -uroot -pS3cret db && sshpass -p 'pw 2' ssh h",
                               "headers": [["X-Auth", "HdrVal1x"]], "env": [{"name": "DB_PASSWORD", "value": "pw9"}],
                               "pin": 1234},
                "tool_response": {"stdout": "GITHUB_TOKEN=ghp_" + "a1" * 18 + "\nAWS=AKIAIOSFODNN7EXAMPLE\n"
                                            "the admin password is swordfish\nmachine h login me password Netrc9\n"
                                            + CODE * 5}},
}


def configs() -> tuple[Config, Config]:
    on = Config(json.loads(json.dumps(DEFAULTS)))
    off = Config(json.loads(json.dumps(DEFAULTS)))
    off["redaction"]["enabled"] = False
    return on, off


def per_record(inp: dict, n: int) -> float:
    record.build("PostToolUse", inp)
    start = time.process_time()
    for _ in range(n):
        record.build("PostToolUse", inp)
    return (time.process_time() - start) / n * 1e6


def hot_pair(layout: Layout, session: str, n: int) -> tuple[float, float]:
    """(wall, CPU) seconds for one PreToolUse + PostToolUse of a typical Bash call, in-process."""
    post = {**CASES["typical"], "session_id": session, "hook_event_name": "PostToolUse", "tool_use_id": f"t{n}",
            "cwd": "/ws"}
    post["tool_input"] = {**post["tool_input"], "command": f"pytest -x tests/test_api.py -k case_{n}"}
    pre = {k: v for k, v in post.items() if k != "tool_response"} | {"hook_event_name": "PreToolUse"}
    wall, cpu = time.perf_counter(), time.process_time()
    handle("PreToolUse", pre, layout)
    handle("PostToolUse", post, layout)
    return time.perf_counter() - wall, time.process_time() - cpu


def hook_processes(claude: Path, rounds: int) -> float:
    """Median wall seconds of a PreToolUse + PostToolUse pair run as the hook processes."""
    hooks = Path(__file__).resolve().parents[1] / "hooks"
    env = {**os.environ, "LIFEGUARD_HOME": str(claude), "LIFEGUARD_HELPER": "0"}
    took = []
    for n in range(rounds):
        post = {**CASES["typical"], "session_id": "bench-processes", "hook_event_name": "PostToolUse",
                "tool_use_id": f"p{n}", "cwd": str(claude.parent)}
        pre = {k: v for k, v in post.items() if k != "tool_response"} | {"hook_event_name": "PreToolUse"}
        start = time.perf_counter()
        for script, data in (("pre_tool_use.py", pre), ("post_tool_use.py", post)):
            subprocess.run([sys.executable, str(hooks / script)], input=json.dumps(data).encode(), env=env,
                           capture_output=True, check=False, timeout=60)
        took.append(time.perf_counter() - start)
    return statistics.median(took[2:])  # the first ones warm the config cache and the state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="in-process hot-hook pairs per setting (default 300)")
    parser.add_argument("--processes", type=int, default=20, help="hook-process pairs (default 20)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp())
    on, off = configs()
    record_layout = Layout(root / "records" / ".claude")
    for name, inp in CASES.items():
        record.configure(off, record_layout)
        base = per_record(inp, 300)
        record.configure(on, record_layout)
        with_redaction = per_record(inp, 300)
        print(f"{name:8} record.build: {base:7.1f} us without redaction, {with_redaction:7.1f} us with "
              f"(+{with_redaction - base:.1f} us)")

    # Two workspaces that differ only in lifeguard.json's redaction switch; rounds alternate.
    spaces = {}
    for label, cfg in (("on", on), ("off", off)):
        layout = Layout(root / label / ".claude")
        layout.claude_dir.mkdir(parents=True)
        layout.config_file.write_text(json.dumps({"redaction": cfg["redaction"]}))
        spaces[label] = layout
    times: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    for n in range(args.rounds + 20):
        for label, layout in (spaces.items() if n % 2 else reversed(spaces.items())):
            took = hot_pair(layout, f"bench-{label}", n)
            if n >= 20:  # warm-up: config cache, first state file
                times[label].append(took)
    wall_on = statistics.median(t[0] for t in times["on"]) * 1000
    cpu_on, cpu_off = (statistics.median(t[1] for t in times[k]) * 1000 for k in ("on", "off"))
    # each round's on and off ran back to back: their difference cancels the machine's drift
    added = statistics.median(a[1] - b[1] for a, b in zip(times["on"], times["off"])) * 1000
    print(f"hot hooks in-process (PreToolUse + PostToolUse): {wall_on:.2f} ms wall; CPU {cpu_on:.2f} ms with "
          f"redaction, {cpu_off:.2f} ms without: redaction adds {added:.2f} ms ({added / wall_on:.1%} of the "
          f"in-process pair)")
    process_ms = hook_processes(spaces["on"].claude_dir, args.processes) * 1000
    share = added / process_ms
    verdict = "ok" if share <= HOT_GOAL else "MISSED"
    print(f"hot hooks as processes (helper off): {process_ms:.1f} ms a pair: redaction adds {share:.2%} "
          f"(goal <= {HOT_GOAL:.0%}) {verdict}")
    return 0 if share <= HOT_GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
