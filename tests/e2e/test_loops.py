"""Loop detection and circuit breakers, end to end: the real Claude Code CLI, lifeguard installed
with install.sh, a scripted model that goes round in circles (or makes progress)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .fakemodel import bash, text, tool_use
from .harness import Result, find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]
# Each run appends a line to runs.log, so the test can count how often a command really ran.
FAILING = "echo run >> runs.log; echo 'error: widget not found' >&2; exit 1"


def install(ws: Path, config: dict | None = None) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(ws)], check=True, capture_output=True,
                   timeout=120)
    if config:
        path = ws / ".claude" / "lifeguard.json"
        current = json.loads(path.read_text())
        for section, values in config.items():
            current.setdefault(section, {}).update(values)
        path.write_text(json.dumps(current, indent=2))


def runs(ws: Path, name: str = "runs.log") -> int:
    path = ws / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def incidents(ws: Path, session_id: str | None) -> list[dict]:
    log = ws / ".claude" / "state" / f"events-{session_id}.jsonl"
    assert log.exists(), f"no event log at {log}: did the hooks run?"
    return [n for line in log.read_text().splitlines() if line.strip()
            for n in json.loads(line).get("notices") or ()]


def refusals(res: Result, calls: list[dict]) -> list[str]:
    """The tool_result texts of the calls lifeguard refused as repetitions."""
    out = []
    for call in calls:
        body = res.tool_result_text(call["id"]) or ""
        if "lifeguard refused" in body:
            out.append(body)
    return out


def test_repeated_failing_command_is_refused(workspace: Path) -> None:
    install(workspace)
    calls = [bash(FAILING, description=f"attempt {i}") for i in range(8)]
    res = run_claude(workspace, "E2E loop: fix the widget", [[text("trying"), c] for c in calls], timeout=120)
    assert res.returncode == 0, res.describe()
    assert 2 <= runs(workspace) <= 4, res.describe()
    refused = refusals(res, calls)
    assert refused, res.describe()
    first = refused[0]
    assert "repetition" in first and "Instead:" in first and "widget not found" in first
    assert len(refused) == 8 - runs(workspace)  # every later repetition is refused too
    # the warning (additionalContext) reached the model before the refusal
    warned = res.request_after(calls[2]["id"])
    assert warned is not None and "failed the same way 3 times" in warned.user_text()
    found = incidents(workspace, res.session_id)
    blocked = [n for n in found if n["code"] == "TOOL_LOOP_BLOCKED"]
    assert len(blocked) == len(refused) and any(n["code"] == "TOOL_LOOP_DETECTED" for n in found)


def test_same_result_and_alternation_are_refused(workspace: Path) -> None:
    install(workspace)
    same = [bash("echo run >> same.log; echo 'status: pending'") for _ in range(7)]
    pair = []
    for _ in range(5):
        pair.append(bash("echo run >> a.log; cat missing.txt"))
        pair.append(bash("echo run >> b.log; echo checked"))
    res = run_claude(workspace, "E2E loop: same result, then A B A B", [[c] for c in same + pair],
                     timeout=150)
    assert res.returncode == 0, res.describe()
    assert runs(workspace, "same.log") == 5, res.describe()  # the 6th identical run is refused
    assert "very same result" in (res.tool_result_text(same[5]["id"]) or "")
    # A (failing) B (same answer): warned at round 2; the failing A refused from round 3 on, B never
    assert runs(workspace, "a.log") == 2 and runs(workspace, "b.log") == 5, res.describe()
    refused = refusals(res, pair)
    assert len(refused) == 3 and "round 3 of" in refused[0] and "cat missing.txt" in refused[0], res.describe()


def test_no_false_alarms(workspace: Path) -> None:
    install(workspace)
    turns: list[list[dict]] = []
    # the same failing check, re-run after a distinct edit each time: progress
    for i in range(5):  # 5: unchanged, the 5th run would be refused
        turns.append([bash("echo run >> edited.log; test -f done.txt")])
        edit = {"file_path": str(workspace / f"step{i}.txt"), "content": f"step {i}\n"}
        turns.append([tool_use("Write", edit)])
    # different failing commands: different calls
    turns += [[bash(f"echo run >> different.log; ls missing-{i}")] for i in range(5)]
    # the same failing command, 4 times, then a change of approach, then 4 times again
    for _ in range(2):
        turns += [[bash("echo run >> approach.log; exit 3")] for _ in range(4)]
        turns.append([bash("echo looking at it differently")])
    res = run_claude(workspace, "E2E loop: making progress", turns, allowed_tools=["Bash", "Write"],
                     timeout=180)
    assert res.returncode == 0, res.describe()
    assert runs(workspace, "edited.log") == 5, res.describe()
    assert runs(workspace, "different.log") == 5, res.describe()
    assert runs(workspace, "approach.log") == 8, res.describe()
    assert "lifeguard refused" not in res.shown_text()
    # only the plain repeats were warned about: their 3rd and 4th runs, in each group of four
    warned = [n for n in incidents(workspace, res.session_id) if n["code"].startswith("TOOL_LOOP")]
    assert [n["code"] for n in warned] == ["TOOL_LOOP_DETECTED"] * 4, warned
    assert all("approach.log" in n["message"] for n in warned)


def test_counts_are_per_agent(workspace: Path) -> None:
    install(workspace)
    mine = [bash(FAILING) for _ in range(3)]
    agent = tool_use("Agent", {"description": "retry", "prompt": "E2E-SUB: retry the widget",
                               "subagent_type": "general-purpose", "run_in_background": False})
    theirs = [bash(FAILING) for _ in range(6)]
    last = bash(FAILING)
    res = run_claude(workspace, "E2E loop: per agent", [[c] for c in mine] + [[agent], [last]],
                     allowed_tools=["Bash", "Agent"],
                     subagent_turns=[[c] for c in theirs] + [[text("gave up")]],
                     timeout=150)
    assert res.returncode == 0, res.describe()
    assert not refusals(res, mine + [last]), res.describe()  # main: 4 runs, never 5 in a row
    refused = refusals(res, theirs)
    assert len(refused) == 2, res.describe()  # the subagent's own 5th and 6th runs
    assert runs(workspace) == 3 + 4 + 1, res.describe()


def test_new_user_prompt_restarts_counting(workspace: Path, tmp_path: Path) -> None:
    install(workspace)
    home = tmp_path / "home"
    first = run_claude(workspace, "E2E loop: first prompt", [[bash(FAILING)] for _ in range(4)],
                       home=home, timeout=90)
    assert first.returncode == 0 and runs(workspace) == 4, first.describe()
    again = [bash(FAILING) for _ in range(4)]
    second = run_claude(workspace, "E2E loop: second prompt", [[c] for c in again], home=home, timeout=90,
                        extra_args=["--resume", first.session_id])
    assert second.returncode == 0, second.describe()
    assert second.session_id == first.session_id
    assert runs(workspace) == 8 and not refusals(second, again), second.describe()


def test_circuit_breaker_opens_then_recovers(workspace: Path, tmp_path: Path) -> None:
    breakers = {"tools": ["Bash"], "failure_threshold": 3, "recovery_timeout_seconds": 1}
    install(workspace, {"breakers": breakers})
    home = tmp_path / "home"
    # the agent's own mistakes (a wrong name each time) first: they say nothing about availability
    mistakes = [bash(f"echo run >> mistakes.log; echo 'error: item {i} not found' >&2; exit 1") for i in range(5)]
    outage = "echo run >> runs.log; echo 'curl: (7) Failed to connect to 127.0.0.1 port {}: Connection refused' >&2; exit 7"
    failing = [bash(outage.format(9000 + i)) for i in range(4)]
    first = run_claude(workspace, "E2E breaker: a broken tool", [[c] for c in mistakes + failing], home=home,
                       timeout=120)
    assert first.returncode == 0 and runs(workspace, "mistakes.log") == 5, first.describe()
    assert runs(workspace) == 3, first.describe()  # the real outage still opens it
    refused = first.tool_result_text(failing[3]["id"]) or ""
    assert "Bash is unavailable" in refused and "trial call" in refused
    time.sleep(1.5)  # past the recovery timeout: the next call is the one trial
    ok = [bash("echo run >> runs.log; echo healthy") for _ in range(2)]
    second = run_claude(workspace, "E2E breaker: try again", [[c] for c in ok], home=home, timeout=90,
                        extra_args=["--resume", first.session_id])
    assert second.returncode == 0 and runs(workspace) == 5, second.describe()
    opened = [n for n in incidents(workspace, first.session_id)
              if n["code"] == "CIRCUIT_OPEN" and n["kind"] == "context"]
    assert len(opened) == 1, opened  # opened once, by the outage, never by the mistakes
    state = json.loads((workspace / ".claude" / "state" / f"session-{first.session_id}.json").read_text())
    assert "Bash" not in state["execution"]["breakers"]  # closed again
    assert any(n["code"] == "CIRCUIT_OPEN" for n in incidents(workspace, first.session_id))


def test_stop_that_keeps_coming_back_is_stopped(workspace: Path) -> None:
    install(workspace)
    settings_path = workspace / ".claude" / "settings.json"
    settings = json.loads(settings_path.read_text())
    # The user's own Stop hook that never lets the agent stop: the loop lifeguard must break.
    nag = f"echo x >> {workspace}/nag.log; echo '{{\"decision\":\"block\",\"reason\":\"not finished\"}}'"
    settings["hooks"]["Stop"].append({"hooks": [{"type": "command", "command": nag}]})
    settings_path.write_text(json.dumps(settings, indent=2))
    res = run_claude(workspace, "E2E stop loop", [], allowed_tools=[], timeout=120)
    assert not res.timed_out, res.describe()
    nags = runs(workspace, "nag.log")
    # Left alone, the CLI gives up after 9 stops (docs/claude-code-hooks-notes.md, section 7);
    # lifeguard ends the turn at the 6th identical stop.
    assert 3 <= nags <= 7, res.describe()
    found = [n for n in incidents(workspace, res.session_id) if n["code"] == "STOP_LOOP_DETECTED"]
    assert found and any(n["kind"] == "halt" for n in found), found


# -- what hooks do not see, cycles, and progress (issue 13) -------------------------------------


def test_a_failing_edit_no_hook_sees_is_named_and_the_read_is_not_blamed(workspace: Path) -> None:
    install(workspace)
    target = workspace / "f.txt"
    target.write_text("hello wrld\n")
    reads = [tool_use("Read", {"file_path": str(target)}) for _ in range(5)]
    edits = [tool_use("Edit", {"file_path": str(target), "old_string": "helo world", "new_string": "hello world"})
             for _ in range(5)]
    turns = [[c] for pair in zip(reads, edits) for c in pair]
    res = run_claude(workspace, "E2E hidden: fix the typo", turns, allowed_tools=["Read", "Edit"], timeout=150)
    assert res.returncode == 0, res.describe()
    assert target.read_text() == "hello wrld\n"
    for edit in edits:  # Claude Code's own validation rejected each: no hook ran for them
        assert "<tool_use_error>" in (res.tool_result_text(edit["id"]) or ""), res.describe()
    logged = [json.loads(line) for line in
              (workspace / ".claude" / "state" / f"events-{res.session_id}.jsonl").read_text().splitlines()]
    assert not [r for r in logged if r.get("tool") == "Edit" and r["event"] == "PreToolUse"]
    # the model is told about the Edit by the time it sends its 4th failed edit
    told = [i for i, r in enumerate(res.requests) if f"`Edit: {target}`" in r.user_text()]
    fourth = res.requests.index(res.request_after(edits[3]["id"]))
    assert told and told[0] <= fourth, res.describe()
    said = res.requests[told[0]].user_text()
    assert "String to replace not found" in said and "copy old_string exactly" in said
    assert "is not the problem" in said and "in a row" not in said.split(f"`Edit: {target}`", 1)[1][:200]
    for read in reads:  # the innocent Read always ran and was never called a loop
        assert "hello wrld" in (res.tool_result_text(read["id"]) or ""), res.describe()
    assert "use the result you already have" not in res.shown_text()


def test_three_commands_in_turn_are_refused_by_their_third_round(workspace: Path) -> None:
    install(workspace)
    cmds = [f"echo run >> {name}.log; echo '{name}: failed' >&2; exit 1" for name in ("a", "b", "c")]
    calls = [bash(cmd) for _ in range(4) for cmd in cmds]
    res = run_claude(workspace, "E2E cycle: three commands", [[c] for c in calls], timeout=150)
    assert res.returncode == 0, res.describe()
    assert [runs(workspace, f"{n}.log") for n in "abc"] == [2, 2, 2], res.describe()
    warned = res.request_after(calls[5]["id"])
    assert warned is not None and "2 full rounds" in warned.user_text()
    refused = refusals(res, calls)
    assert len(refused) == 6 and "round 3 of" in refused[0], res.describe()


def test_test_commands_rerun_after_distinct_edits_raise_no_alarm(workspace: Path) -> None:
    install(workspace)
    turns: list[list[dict]] = []
    for i in range(4):
        for name in ("unit", "lint", "types"):
            turns.append([bash(f"echo run >> {name}.log; echo '{name}: 1 failed' >&2; exit 1")])
            edit = {"file_path": str(workspace / f"{name}.py"), "content": f"# attempt {i}\n"}
            turns.append([tool_use("Write", edit)])
    res = run_claude(workspace, "E2E cycle: progress", turns, allowed_tools=["Bash", "Write"], timeout=180)
    assert res.returncode == 0, res.describe()
    assert [runs(workspace, f"{n}.log") for n in ("unit", "lint", "types")] == [4, 4, 4], res.describe()
    assert "lifeguard" not in res.shown_text(), res.describe()
    assert not [n for n in incidents(workspace, res.session_id) if n["code"].startswith("TOOL_LOOP")]


def test_an_interrupted_task_is_not_called_a_failure(workspace: Path, tmp_path: Path) -> None:
    """Ctrl-C while a subagent runs, then the session goes on. (In -p mode Claude Code fires no
    PostToolUseFailure for the interrupted Task; the interactive path, where it does with the
    error "[Request interrupted by user for tool use]", is tests/test_coordination_feature.py's.)"""
    install(workspace)
    home = tmp_path / "home"
    marker = workspace / "subagent-started"
    agent = tool_use("Agent", {"description": "slow", "prompt": "E2E-SUB: wait for the build",
                               "subagent_type": "general-purpose", "run_in_background": False})
    first = run_claude(workspace, "E2E interrupt: a slow subagent", [[agent], [text("after")]],
                       allowed_tools=["Bash", "Agent"], home=home, timeout=90, interrupt_when=marker,
                       subagent_turns=[[bash(f"touch {marker}; sleep 60")], [text("done")]])
    assert not first.timed_out and marker.exists() and first.session_id, first.describe()
    second = run_claude(workspace, "E2E interrupt: go on", [[text("continuing")]], home=home, timeout=90,
                        extra_args=["--resume", first.session_id])
    assert second.returncode == 0, second.describe()
    shown = second.shown_text()
    assert "[Request interrupted by user for tool use]" in shown, second.describe()  # it really was
    assert "could not be started" not in shown and "crashed" not in shown and "lifeguard" not in shown
    found = [n["code"] for n in incidents(workspace, first.session_id)]
    assert not {"AGENT_SPAWN_FAILED", "AGENT_CRASHED"} & set(found), found
