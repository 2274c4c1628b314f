"""Micro-benchmark: what redaction adds to building one event record (record.build).

    python3 bench/redact_bench.py

Prints microseconds per record with redaction on and off, for a typical PostToolUse (a short
command, ~1.5 KB of output), a large one (output truncated at 1000 chars, Write content at 2000)
and one full of secrets.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from lifeguard.hook import record  # noqa: E402
from lifeguard.config.load import DEFAULTS, Config  # noqa: E402
from lifeguard.core.paths import Layout  # noqa: E402

CODE = "def handler(event, context):\n    items = load(event['path'])\n    for key, value in items.items():\n" \
       "        print(f'{key}: {value}')  # token count, config path\n    return {'status': 200}\n"
CASES = {
    "typical": {"tool_name": "Bash", "tool_input": {"command": "pytest -x tests/test_api.py", "description": "run"},
                "tool_response": {"stdout": (CODE * 8)[:1500], "stderr": "", "interrupted": False}},
    "large": {"tool_name": "Write", "tool_input": {"file_path": "/ws/app.py", "content": CODE * 400},
              "tool_response": {"stdout": "x" * 200_000}},
    "secrets": {"tool_name": "Bash", "tool_input": {"command": "curl -H 'Authorization: Bearer abcdef0123456789' "
                                                               "--password hunter2 https://u:p4ss@h/x"},
                "tool_response": {"stdout": "GITHUB_TOKEN=ghp_" + "a1" * 18 + "\nAWS=AKIAIOSFODNN7EXAMPLE\n" + CODE * 5}},
}


def per_record(inp: dict, n: int) -> float:
    record.build("PostToolUse", inp)
    start = time.perf_counter()
    for _ in range(n):
        record.build("PostToolUse", inp)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    layout = Layout(Path(tempfile.mkdtemp()) / ".claude")
    for name, inp in CASES.items():
        on = Config(json.loads(json.dumps(DEFAULTS)))
        off = Config(json.loads(json.dumps(DEFAULTS)))
        off["redaction"]["enabled"] = False
        record.configure(off, layout)
        base = per_record(inp, 300)
        record.configure(on, layout)
        with_redaction = per_record(inp, 300)
        print(f"{name:8} record.build: {base:7.1f} us without redaction, {with_redaction:7.1f} us with "
              f"(+{with_redaction - base:.1f} us)")


if __name__ == "__main__":
    main()
