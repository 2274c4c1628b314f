"""Tests proving the fake-model harness drives the real Claude Code CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakemodel import FakeModel, bash, text, tool_use
from .harness import find_claude, run_claude

pytestmark = pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")


def test_single_bash_result_reaches_next_request(workspace: Path) -> None:
    call = bash("echo hello-harness")
    res = run_claude(workspace, "E2E single bash", [[text("running"), call]],
                     allowed_tools=["Bash"], timeout=60)
    assert res.returncode == 0, res.describe()
    assert res.json is not None and res.json["result"] == "done", res.describe()
    main = res.main_requests
    assert len(main) == 2, res.describe()
    # The first request is the prompt; the second carries the tool_result.
    assert "E2E single bash" in main[0].first_user_text
    assert res.request_after(call["id"]) is main[1]
    tr = res.tool_result(call["id"])
    assert tr is not None and tr.get("is_error", False) is False
    assert res.tool_result_text(call["id"]) == "hello-harness"
    # The assistant turn we scripted is echoed back verbatim.
    assistant = [m for m in main[1].messages if m["role"] == "assistant"]
    assert assistant[0]["content"][1] == call


def test_parallel_bash_calls(workspace: Path) -> None:
    calls = [bash(f"echo parallel-{i} > {workspace}/p{i}.txt && echo wrote-{i}") for i in range(3)]
    res = run_claude(workspace, "E2E parallel bash", [calls], allowed_tools="Bash", timeout=60)
    assert res.returncode == 0, res.describe()
    nxt = res.main_requests[1]
    results = {tr["tool_use_id"]: tr for tr in nxt.tool_results()}
    assert set(results) == {c["id"] for c in calls}
    for i, c in enumerate(calls):
        assert res.tool_result_text(c["id"]) == f"wrote-{i}"
        assert (workspace / f"p{i}.txt").read_text().strip() == f"parallel-{i}"
    # All three results come back in one user message, in call order.
    user_msgs = [m for m in nxt.messages if m["role"] == "user" and isinstance(m["content"], list)
                 and any(b.get("type") == "tool_result" for b in m["content"])]
    assert len(user_msgs) == 1
    order = [b["tool_use_id"] for b in user_msgs[0]["content"] if b.get("type") == "tool_result"]
    assert order == [c["id"] for c in calls]


def test_failing_bash_is_error(workspace: Path) -> None:
    call = bash("echo to-stderr >&2; exit 1")
    res = run_claude(workspace, "E2E failing bash", [[call]], allowed_tools=["Bash"], timeout=60)
    assert res.returncode == 0, res.describe()
    tr = res.tool_result(call["id"])
    assert tr is not None, res.describe()
    assert tr["is_error"] is True
    body = res.tool_result_text(call["id"]) or ""
    assert "Exit code 1" in body and "to-stderr" in body


def test_subagent_runs_bash(workspace: Path) -> None:
    agent = tool_use("Agent", {
        "description": "Run an echo",
        "prompt": "E2E-SUBAGENT-TASK: echo something",
        "subagent_type": "general-purpose",
        "run_in_background": False,
    })
    inner = bash("echo inside-subagent")
    res = run_claude(
        workspace, "E2E subagent", [[agent]],
        allowed_tools=["Bash", "Agent"],
        subagent_turns=[[inner], [text("subagent report: inside-subagent")]],
        timeout=90,
    )
    assert res.returncode == 0, res.describe()
    subs = res.subagent_requests
    assert len(subs) == 2, res.describe()
    assert all(r.agent_id for r in subs) and len({r.agent_id for r in subs}) == 1
    assert "E2E-SUBAGENT-TASK" in subs[0].first_user_text
    assert "E2E subagent" not in subs[0].first_user_text
    # The subagent's Bash result went to the subagent, not the main thread.
    assert res.request_after(inner["id"]) is subs[1]
    assert res.tool_result_text(inner["id"]) == "inside-subagent"
    assert all(inner["id"] not in str(r.body) for r in res.main_requests)
    # The main thread gets the subagent's final text as the Agent tool_result.
    agent_result = res.tool_result_text(agent["id"]) or ""
    assert "subagent report: inside-subagent" in agent_result
    assert res.request_after(agent["id"]).kind == "main"


def test_script_exhausted_and_side_requests(workspace: Path, fake_model: FakeModel) -> None:
    """A reused fixture server: empty script -> 'done' straight away."""
    res = run_claude(workspace, "E2E nothing to do", model=fake_model, allowed_tools=[], timeout=60)
    assert res.returncode == 0, res.describe()
    assert res.result_text == "done"
    assert [r.kind for r in res.main_requests] == ["main"]
    assert all(r.kind == "side" for r in res.requests if not r.tools)


def test_parallel_subagents_with_own_scripts(workspace: Path) -> None:
    agents = [tool_use("Agent", {"description": f"sub {i}", "prompt": f"E2E-PAR-SUB-{i}",
                                 "subagent_type": "general-purpose", "run_in_background": False})
              for i in range(2)]
    inner = {i: bash(f"echo from-sub-{i}") for i in range(2)}
    res = run_claude(
        workspace, "E2E two subagents", [agents], allowed_tools=["Bash", "Agent"],
        subagent_turns={f"E2E-PAR-SUB-{i}": [[inner[i]], [text(f"report-{i}")]] for i in range(2)},
        timeout=90,
    )
    assert res.returncode == 0, res.describe()
    assert len({r.agent_id for r in res.subagent_requests}) == 2, res.describe()
    for i in range(2):
        assert res.tool_result_text(inner[i]["id"]) == f"from-sub-{i}"
        assert f"report-{i}" in (res.tool_result_text(agents[i]["id"]) or "")


def test_resume_starts_own_script(workspace: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = run_claude(workspace, "E2E resume first", [[bash("echo one")]], home=home, timeout=60)
    assert first.returncode == 0 and first.session_id, first.describe()
    call = bash("echo two")
    second = run_claude(workspace, "E2E resume second", [[call]], home=home, timeout=60,
                        extra_args=["--resume", first.session_id])
    assert second.returncode == 0, second.describe()
    assert second.session_id == first.session_id
    assert [r.turn_index for r in second.main_requests] == [0, 1]
    assert second.tool_result_text(call["id"]) == "two"
    # The resumed conversation carries the earlier exchange.
    assert "one" in second.main_requests[0].user_text()
