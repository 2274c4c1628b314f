"""The replay benchmark of real sessions (bench/replay.py): a sample by default, the whole
corpus with LIFEGUARD_REPLAY=full.

What it asserts is what the benchmark's table shows: no refusal lifeguard makes on a real
session is judged false, and every loop OpenHands' stuck rules catch, lifeguard catches no
later."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import openhands_rules  # noqa: E402
import replay  # noqa: E402

FULL = os.environ.get("LIFEGUARD_REPLAY") == "full"


def call(cmd: str, ok: bool = True, text: str = "out", ts: float | None = None) -> dict:
    return {"kind": "call", "tool": "Bash", "input": {"command": cmd}, "ok": ok, "text": text, "hidden": False,
            "interrupt": False, "ts": ts}


# -- the judge's written rule, and the OpenHands rules, on small cases with near misses ----------


def test_judge_a_pair_repeating_twice_is_a_loop_and_a_changed_outcome_is_not() -> None:
    a, b = call("make", False, "error 1"), call("cat log")
    assert replay.judge([a, b, a, b], 4, None)
    assert replay.judge([a, b, a, b], 4, a)
    assert not replay.judge([a, b, a, b], 4, call("ls"))  # the refused call is not part of it
    assert not replay.judge([a, b, a, call("cat log", text="other")], 4, None)  # progress
    assert not replay.judge([a, b, a], 3, None)


def test_judge_three_runs_of_one_call_but_not_growing_waits() -> None:
    assert replay.judge([call("st", ts=0), call("st", ts=10), call("st", ts=20)], 3, None)
    assert not replay.judge([call("st", ts=0), call("st", ts=10), call("st", ts=40)], 3, None)  # waiting
    assert not replay.judge([call("st"), call("st")], 2, None)
    # numbers masked: a counter or a time in the output is still "the same outcome"
    assert replay.judge([call("st", text="took 1s"), call("st", text="took 2s"), call("st", text="took 3s")], 3, None)


def test_openhands_rules_and_near_misses() -> None:
    same = [call("submit x", text="Wrong flag!")] * 4
    assert openhands_rules.stuck(same) == "repeating_action_observation"
    assert openhands_rules.stuck(same[:3]) is None
    err = {**call("x"), "tool": "Edit", "input": {"file_path": "f"}, "ok": False}
    assert openhands_rules.stuck([err, err, err]) == "repeating_action_error"
    a, b = call("make", False, "Exit code 2\nboom"), call("cat log")
    assert openhands_rules.stuck([a, b] * 3) == "action_observation_pattern"
    assert openhands_rules.stuck([a, b] * 2 + [a, call("cat other.log")]) is None
    # OpenHands compares a shell command's outcome by exit status only, not by its output
    assert openhands_rules.stuck([a, b] * 2 + [a, call("cat log", text="changed")]) == "action_observation_pattern"


# -- the replay itself ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    if not shutil.which("uv"):
        pytest.skip("uv is not installed")
    names = sorted(p.name for p in replay.CORPUS.iterdir() if p.suffix in replay.LOADERS) if FULL else replay.SAMPLE
    root = tmp_path_factory.mktemp("replay")
    pack = replay.Pack(root)
    try:
        out = [replay.assess(replay.replay(replay.CORPUS / name, pack, root)) for name in names]
    finally:
        pack.close()
    assert not pack.faults, pack.faults[:3]
    return out


def test_no_false_refusal_on_real_sessions(results: list[dict]) -> None:
    table, _ = replay.report(results)
    false = [f for r in results for f in r["lifeguard"] if f["kind"] == "refusal" and not f["justified"]]
    assert not false, table


def test_every_loop_openhands_catches_is_caught_no_later(results: list[dict]) -> None:
    table, _ = replay.report(results)
    caught = [f for r in results for f in r["openhands"] if f["caught"] is not None]
    assert caught, "the sample holds a real loop OpenHands catches: " + table
    assert all(f["caught"] for f in caught), table


def test_calls_no_hook_sees_are_replayed_through_the_transcript(results: list[dict]) -> None:
    assert sum(r["hidden"] for r in results) > 0  # the sample holds <tool_use_error> calls
