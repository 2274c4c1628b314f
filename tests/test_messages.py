"""Every error code has a complete, workspace-specific message in both renderings."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from lifeguard.alerts import codes as errors, render, templates  # noqa: E402
from lifeguard.core.paths import Layout, tool_command  # noqa: E402

LAYOUT = Layout(Path("/work/some project/.claude"))
# no launcher at LAYOUT: the tools are named through this checkout's scripts/lifeguard
TOOL = tool_command(LAYOUT.claude_dir)


@pytest.mark.parametrize("code", sorted(errors.CODES))
def test_every_code_has_a_complete_template(code):
    tpl = templates.TEMPLATES.get(code)
    assert tpl is not None, f"{code} has no message template"
    for name in templates.FIELDS:
        value = getattr(tpl, name)
        assert value, f"{code}: {name} is empty"
        if isinstance(value, tuple):
            assert all(isinstance(item, str) and item.strip() for item in value), f"{code}: blank entry in {name}"


@pytest.mark.parametrize("code", sorted(errors.CODES))
def test_block_names_this_workspaces_commands(code):
    block = render.render_block(code, LAYOUT, details="the details")
    filled = render.filled(code, LAYOUT)
    assert "{" not in block and "}" not in block, "an unfilled placeholder"
    assert block.startswith("+=") and block.rstrip().endswith("=+")
    assert filled.title in block and "Details: the details" in block
    for section in ("Common causes:", "What you can do:", "Workaround:", "Data safety:", "Automatic resolution:"):
        assert section in block
    # every action's command is on one line, so it can be copied whole
    for action in filled.actions:
        command = action.partition(": ")[2]
        if command.startswith(("uv ", "'/", "/")):
            assert any(command in line for line in block.splitlines()), command


def test_commands_are_runnable_with_spaces_in_the_path():
    values = render.guidance(LAYOUT)
    argv = shlex.split(values["repair_all"])
    assert argv[1:] == ["--workspace", "/work/some project", "repair", "--all"]
    assert argv[0].endswith("/scripts/lifeguard") and os.access(argv[0], os.X_OK)
    argv = shlex.split(values["emergency_clean"])
    assert argv == ["/work/some project/.claude/scripts/emergency_recovery.sh", "/work/some project", "clean"]


@pytest.mark.parametrize("code", sorted(errors.CODES))
def test_compact_line(code):
    line = render.render_line(code, LAYOUT, details="state file truncated", level="HIGH")
    assert "\n" not in line and len(line) <= render.COMPACT_MAX
    assert f"[{code}]" in line and "HIGH" in line and "state file truncated" in line
    first_action = render.filled(code, LAYOUT).actions[0]
    assert line.endswith("Fix: " + " ".join(first_action.split()))


def test_compact_line_cuts_long_details_but_keeps_the_fix():
    line = render.render_line("SESSION_CORRUPTED", LAYOUT, details="x" * 5000)
    assert len(line) <= render.COMPACT_MAX + 20
    assert line.endswith(f"Fix: See what is damaged: {TOOL} analyze")


def test_unknown_code_gets_the_generic_template():
    block = render.render_block("NO_SUCH_CODE", LAYOUT)
    assert "Unexpected lifeguard error (NO_SUCH_CODE)" in block
    assert f"{TOOL} doctor" in block


def test_an_installed_workspace_is_told_to_use_its_launcher(tmp_path):
    claude = tmp_path / "my project" / ".claude"
    claude.mkdir(parents=True)
    (claude / "lifeguard").write_text("#!/bin/sh\n")
    argv = shlex.split(render.guidance(Layout(claude))["repair_all"])
    assert argv == [str(claude / "lifeguard"), "repair", "--all"]


def test_the_urgent_box_holds_every_line_and_cuts_no_word():
    """urgent_alerts.txt: every line inside the frame, of one width; long details wrapped between
    words; a command or path longer than a line widens the box rather than being cut."""
    deep = Layout(Path("/home/someone/projects/" + "a-rather-long-folder-name/" * 3 + ".claude"))
    details = ("the state file session-4b08c1f2-1111-4222-8333-944445555666.json could not be read, "
               "and neither could its event log nor any of its backups; " * 3).strip()
    block = render.render_block("SESSION_CORRUPTED", deep, details=details, level="CRITICAL")
    lines = block.splitlines()
    assert len({len(line) for line in lines}) == 1  # a box, not a ragged edge
    assert all(line.startswith(("|", "+")) and line.endswith(("|", "+")) for line in lines)
    inner = " ".join(line[2:-2].strip() for line in lines[1:-1])
    assert " ".join(details.split()) in " ".join(inner.split())  # every word of the details, whole
    assert render.guidance(deep)["restore"] in block  # the command to copy, on one line


@pytest.mark.parametrize("limit", [40, 300, 500])
def test_cut_stops_between_words(limit):
    text = "lifeguard could not read the state file " * 30
    out = render.cut(text, limit)
    assert len(out) <= limit and out.endswith(" ...")
    assert text.startswith(out[:-4]) and text[len(out) - 4] == " "  # the last word shown is whole
    assert render.cut("short", limit) == "short"
