"""The replay benchmark (bench/replay.py), on small sessions of our own and on the real corpus.

The default run replays our own sessions (tests/data/replay/, one or two per format the
converter reads) and asserts what the benchmark's table shows for them: no finding at all on
steady progress, and each loop caught no later than OpenHands' stuck rules catch it. The real
corpus (public sessions recorded by others, kept outside this repository; bench/replay-corpus.md)
is replayed when its folder is there: a sample by default, all of it with LIFEGUARD_REPLAY=full
(which fails, rather than skips, when the folder is missing)."""

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
OWN = Path(__file__).resolve().parent / "data" / "replay"
PROGRESS = ("cc-progress.jsonl", "swe-progress.traj", "oh-progress.json")
HIDDEN_LOOPS = ("cc-hidden-edit-loop.jsonl", "oh-hidden-edit-loop.json")
REPEAT_LOOP = "swe-repeat-loop.traj"


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


# -- the converter, on our own sessions (no hooks run) ------------------------------------------


def calls(name: str) -> list[dict]:
    return [i for i in replay.load(OWN / name) if i["kind"] == "call"]


def test_each_format_becomes_calls_with_their_outcomes_and_hidden_failures() -> None:
    cc = replay.load(OWN / "cc-progress.jsonl")
    assert [i["kind"] for i in cc].count("prompt") == 2 and [i["kind"] for i in cc].count("stop") == 2
    hidden = [c for c in calls("cc-progress.jsonl") if c["hidden"]]
    assert [(c["tool"], c["ok"]) for c in hidden] == [("Edit", False)]  # the <tool_use_error> one
    tests = [c for c in calls("cc-progress.jsonl") if c["input"].get("command", "").startswith("uv run pytest")]
    assert [c["ok"] for c in tests] == [False, False, False, True, True]  # re-run after each edit
    swe = calls("swe-progress.traj")
    assert {c["tool"] for c in swe} == {"Bash"} and all(c["ok"] for c in swe)
    oh = calls("oh-hidden-edit-loop.json")
    assert [(c["tool"], c["ok"], c["hidden"]) for c in oh[:5]] == [
        ("Read", True, False), ("Edit", False, True), ("Edit", False, True), ("Edit", False, True), ("Read", True, False)]
    assert oh[1]["text"].startswith("<tool_use_error>ERROR:")
    assert [(c["tool"], c["ok"]) for c in calls("oh-progress.json") if c["tool"] == "Bash"][1:4] == [
        ("Bash", False), ("Bash", False), ("Bash", True)]  # exit codes kept


# -- the replay through an installed pack -----------------------------------------------------


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory):
    if not shutil.which("uv"):
        pytest.skip("uv is not installed")
    root = tmp_path_factory.mktemp("replay")
    installed = replay.Pack(root)
    yield installed, root
    installed.close()


def run(pack, paths: list[Path]) -> list[dict]:
    installed, root = pack
    out = [replay.assess(replay.replay(path, installed, root)) for path in paths]
    assert not installed.faults, installed.faults[:3]
    return out


@pytest.fixture(scope="module")
def own(pack) -> dict[str, dict]:
    return {r["session"]: r for r in run(pack, sorted(OWN.iterdir()))}


def test_own_sessions_table_has_no_false_finding_and_no_miss(own: dict[str, dict]) -> None:
    table, bad = replay.report(list(own.values()))
    assert not bad, table
    assert "FALSE" not in table and "MISSED" not in table, table
    assert sorted(own) == sorted(PROGRESS + HIDDEN_LOOPS + (REPEAT_LOOP,))


@pytest.mark.parametrize("name", PROGRESS)
def test_steady_progress_draws_no_finding(own: dict[str, dict], name: str) -> None:
    r = own[name]
    table, _ = replay.report([r])
    assert r["lifeguard"] == [] and r["openhands"] == [], table
    assert all(not s.get("refused") for s in r["steps"]), table


def test_a_repeat_loop_is_warned_as_soon_as_openhands_sees_it_then_refused(own: dict[str, dict]) -> None:
    r = own[REPEAT_LOOP]
    table, _ = replay.report([r])
    (oh,) = r["openhands"]
    assert oh["rule"] == "repeating_action_observation" and oh["caught"] is True, table
    first = r["lifeguard"][0]
    assert first["kind"] == "warning" and first["rule"] == "repeated_result" and first["at"] <= oh["at"], table
    refusals = [f for f in r["lifeguard"] if f["kind"] == "refusal"]
    assert refusals and all(f["justified"] and f["named"]["input"]["command"].startswith("submit") for f in refusals)
    assert sum(1 for s in r["steps"] if s.get("refused")) == len(refusals)


@pytest.mark.parametrize("name", HIDDEN_LOOPS)
def test_a_hidden_failing_edit_loop_is_warned_no_later_than_openhands(own: dict[str, dict], name: str) -> None:
    r = own[name]
    table, _ = replay.report([r])
    assert r["hidden"] >= 3, table
    assert r["openhands"] and all(f["caught"] is True for f in r["openhands"]), table
    # a call no hook sees cannot be refused: the model is told, naming the Edit that keeps failing
    assert r["lifeguard"] and all(f["kind"] == "warning" and f["justified"] for f in r["lifeguard"]), table
    assert r["lifeguard"][0]["at"] <= r["openhands"][0]["at"], table
    assert "`Edit: " in r["lifeguard"][0]["message"] and "no hook saw it" in r["lifeguard"][0]["message"]


# -- the real corpus, when its folder is there --------------------------------------------------


@pytest.fixture(scope="module")
def corpus(request: pytest.FixtureRequest) -> list[dict]:
    folder, source = replay.corpus_dir()
    available = replay.corpus_sessions(folder)
    if not available:
        message = replay.missing_corpus(folder, source).replace("\n", " ")
        if FULL:
            pytest.fail("LIFEGUARD_REPLAY=full asks for the whole corpus, but " + message)
        pytest.skip(f"the real-session sample needs the corpus: {message}")
    return run(request.getfixturevalue("pack"), [folder / name for name in (available if FULL else replay.SAMPLE)])


def test_no_false_refusal_on_real_sessions(corpus: list[dict]) -> None:
    table, _ = replay.report(corpus)
    false = [f for r in corpus for f in r["lifeguard"] if f["kind"] == "refusal" and not f["justified"]]
    assert not false, table


def test_every_loop_openhands_catches_in_real_sessions_is_caught_no_later(corpus: list[dict]) -> None:
    table, _ = replay.report(corpus)
    caught = [f for r in corpus for f in r["openhands"] if f["caught"] is not None]
    assert caught, "the sample holds a real loop OpenHands catches: " + table
    assert all(f["caught"] for f in caught), table


def test_real_calls_no_hook_sees_are_replayed_through_the_transcript(corpus: list[dict]) -> None:
    assert sum(r["hidden"] for r in corpus) > 0  # the sample holds <tool_use_error> calls


# -- the command without its corpus -----------------------------------------------------------


def test_a_missing_corpus_is_reported_with_where_and_how_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay.main(["--corpus", str(tmp_path / "absent"), "--sample"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'absent'} (--corpus) does not exist" in err
    assert "LIFEGUARD_REPLAY_CORPUS=DIR" in err and "bench/replay-corpus.md" in err
    monkeypatch.setenv(replay.CORPUS_ENV, str(tmp_path))  # there, but empty
    assert replay.main([]) == 2
    assert f"{tmp_path} ($LIFEGUARD_REPLAY_CORPUS) holds no session files" in capsys.readouterr().err
    monkeypatch.delenv(replay.CORPUS_ENV)
    assert replay.corpus_dir() == (replay.REPO.parent / "shared" / "replay-corpus",
                                   "the default: shared/replay-corpus beside the repository")
