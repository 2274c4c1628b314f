"""`state_recovery.py incidents`: fits 80 and 100 columns without cutting words, groups repeats,
short ids and relative times, a session matched by the first characters of its id, --json."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from planted import event, install, run_json, run_tool

from lifeguard.commands import incidents

SESSION = "4b08c1f2-1111-4222-8333-944445555666"
FAILING = {"tool_name": "Bash", "tool_input": {"command": "make test --with-a-long-flag"},
           "error": "Exit code 2\nerror: widget not found in /src/widgets/" + "deeply/" * 14 + "widget.c"}


@pytest.fixture
def layout(tmp_path):
    layout = install(tmp_path / "proj")
    event(layout, "other-session", "PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    for _ in range(6):
        event(layout, SESSION, "PostToolUseFailure", **FAILING)
        event(layout, SESSION, "PreToolUse", **{k: v for k, v in FAILING.items() if k != "error"})
    return layout


def words(text: str) -> list[str]:
    return text.replace("\n", " ").split()


@pytest.mark.parametrize("columns", [80, 100])
def test_fits_the_terminal_and_cuts_no_word(layout, columns):
    proc = run_tool(layout, "incidents", env_extra={"COLUMNS": str(columns)})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= columns
    _, items = run_json(layout, "incidents")
    known = set(words(" ".join(i["message"] for i in items)))
    blocks = [b.splitlines() for b in proc.stdout.split("\n\n")[1:] if b.strip()]
    assert len(blocks) >= 2
    for block in blocks:
        body = [line[4:] for line in block[1:]]
        assert body and all(line.startswith("    ") for line in block[1:])
        shown = " ".join(body).removesuffix(" ...").replace(" ", "")
        assert any(i["message"].replace(" ", "").startswith(shown) for i in items), block  # the stored text, in order
        for line in body:  # no line ends inside a word, except a word longer than a whole line
            last = line.split()[-1]
            assert last in known or last == "..." or len(line) == columns - 4, line


def test_repeats_are_grouped_with_short_ids_and_times(layout):
    proc = run_tool(layout, "incidents")
    headers = [line for line in proc.stdout.splitlines() if line and not line.startswith(("    ", "Incidents"))]
    blocked = [h for h in headers if "TOOL_LOOP_BLOCKED" in h]
    assert len(blocked) == 1 and " x" in blocked[0]  # one line for all the refusals
    _, items = run_json(layout, "incidents")
    count = sum(1 for i in items if i["code"] == "TOOL_LOOP_BLOCKED")
    assert count >= 2 and f"x{count} " in blocked[0]
    assert "4b08c1f2 " in blocked[0] and SESSION not in proc.stdout  # the short id
    assert blocked[0].lstrip().split()[0].endswith("s") and "ago" in blocked[0]  # seconds ago


def test_a_session_is_found_by_the_start_of_its_id(layout):
    proc = run_tool(layout, "incidents", "--session", "4b08")
    assert proc.returncode == 0 and "TOOL_LOOP_BLOCKED" in proc.stdout and f"session {SESSION}" in proc.stdout
    _, items = run_json(layout, "incidents", "--session", "4b08")
    assert items and {i["session"] for i in items} == {SESSION}  # --json: full ids
    none = run_tool(layout, "incidents", "--session", "ffff")
    assert none.returncode == 0 and "No incidents" in none.stdout


def test_relative_times():
    now = 1_800_000_000.0

    def iso(seconds_ago: float) -> str:
        return datetime.fromtimestamp(now - seconds_ago, timezone.utc).isoformat()

    assert [incidents.ago(iso(s), now) for s in (5, 125, 7200, 3 * 86400)] == ["5s ago", "2m ago", "2h ago", "3d ago"]
    assert incidents.ago(iso(30 * 86400), now) == iso(30 * 86400)[:10] and incidents.ago("garbage", now) == "?"
