"""Rendering a template (`templates`) for this workspace: its commands and paths filled in
(`guidance`), as a framed block for the terminal tools and urgent_alerts.txt (`render_block`)
or a compact line for systemMessage / additionalContext (`render_line`).

Stdlib only: the alerts feature renders on the hot path when a notice escalates.
"""

from __future__ import annotations

import os
import re
import shlex
import textwrap

from ..core.paths import Layout, tool_command
from . import codes
from .templates import Template, template


COMPACT_MAX = 400
WIDTH = 78
# -- this workspace's commands and paths -------------------------------------------


def _q(path: object) -> str:
    return shlex.quote(os.path.abspath(str(path)))


def guidance(layout: Layout) -> dict[str, str]:
    """The real commands and paths of this workspace, for filling templates."""
    claude = os.path.abspath(str(layout.claude_dir))
    project = os.path.dirname(claude)
    tool = tool_command(layout.claude_dir)  # .claude/lifeguard: works with or without uv on PATH
    emergency = _q(os.path.join(claude, "scripts", "emergency_recovery.sh")) + " " + _q(project)
    return {
        "claude_dir": _q(claude),
        "state_dir": _q(layout.state_dir),
        "quarantine": _q(layout.quarantine_dir),
        "backups": _q(layout.backup_dir),
        "config": _q(layout.config_file),
        "faults": _q(layout.faults_log),
        "settings": _q(os.path.join(claude, "settings.json")),
        "alerts_log": _q(os.path.join(claude, "alerts.log")),
        "urgent": _q(os.path.join(claude, "urgent_alerts.txt")),
        "analyze": f"{tool} analyze",
        "repair_all": f"{tool} repair --all",
        "backup": f"{tool} backup",
        "restore": f"{tool} restore BACKUP_ID",
        "list_backups": f"{tool} backups",
        "doctor": f"{tool} doctor",
        "incidents": f"{tool} incidents",
        "emergency_clean": f"{emergency} clean",
        "emergency_auto": f"{emergency} auto",
        "emergency_reset": f"{emergency} reset",
    }


def filled(code: str, layout: Layout) -> Template:
    """The template for `code` with this workspace's commands and paths in place."""
    values = dict(guidance(layout), code=code)
    tpl = template(code)
    fill = lambda text: text.format(**values)  # noqa: E731
    return Template(
        fill(tpl.title), fill(tpl.message), tuple(map(fill, tpl.causes)), tuple(map(fill, tpl.actions)),
        fill(tpl.workaround), fill(tpl.data_safety), fill(tpl.automatic),
    )


# -- renderings --------------------------------------------------------------------


def cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut between words with " ..." (never mid-word,
    unless its first word alone is longer than `limit`)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 4]
    if " " in head and not text[limit - 4].isspace():
        head = head.rsplit(" ", 1)[0]
    return head.rstrip() + " ..."


_QUOTED = re.compile(r"'/[^']*'")  # a quoted path (guidance quotes them); not an apostrophe
_GLUE = "\x00"


def _looks_like_command(text: str) -> bool:
    return text.startswith(("uv ", "'/", "/", "chmod ", "chown ", "df ", "ls ", "ps ", "python3 "))


def render_block(code: str, layout: Layout, details: str = "", level: str = "") -> str:
    """The framed, multi-line message for terminals and urgent_alerts.txt."""
    tpl = filled(code, layout)
    entry = codes.lookup(code)
    inner = WIDTH - 4
    lines: list[str] = []

    def para(text: str, first: str = "", rest: str = "") -> None:
        # a quoted path is never split across lines, so it can be copied as it is
        glued = _QUOTED.sub(lambda m: m.group(0).replace(" ", _GLUE), text)
        wrapped = textwrap.wrap(glued, inner, initial_indent=first, subsequent_indent=rest,
                                break_long_words=False, break_on_hyphens=False) or [first.rstrip()]
        lines.extend(line.replace(_GLUE, " ") for line in wrapped)

    def action(number: int, text: str) -> None:
        # a command goes on a line of its own, unwrapped, so it can be copied whole
        label, sep, command = text.partition(": ")
        if sep and len(f"  {number}. {text}") > inner and _looks_like_command(command):
            para(label + ":", f"  {number}. ", "     ")
            lines.append("       " + command)
        else:
            para(text, f"  {number}. ", "     ")

    head = f"{level + ' ' if level else ''}{code} ({entry.severity})"
    lines += [f"!! {tpl.title}", head, ""]
    para(tpl.message)
    if details:
        para(details, "Details: ", "         ")
    lines += ["", "Common causes:"]
    for cause in tpl.causes:
        para(cause, "  - ", "    ")
    lines += ["", "What you can do:"]
    for i, text in enumerate(tpl.actions, 1):
        action(i, text)
    lines.append("")
    para(tpl.workaround, "Workaround: ", "  ")
    para(tpl.data_safety, "Data safety: ", "  ")
    para(tpl.automatic, "Automatic resolution: ", "  ")
    # a word longer than a line (a path, a command to copy) is never cut: the box widens to hold it
    inner = max([inner] + [len(line) for line in lines])
    bar = "=" * (inner + 2)
    body = [f"| {line.ljust(inner)} |" for line in lines]
    return "\n".join([f"+{bar}+", *body, f"+{bar}+"])


def render_line(code: str, layout: Layout, details: str = "", level: str = "") -> str:
    """One compact line for systemMessage / additionalContext: what, why here, first fix."""
    tpl = filled(code, layout)
    prefix = f"lifeguard {level + ' ' if level else ''}[{code}] {tpl.title}"
    what = details.strip() or tpl.message
    line = f"{prefix}: {what.rstrip('.')}. Fix: {tpl.actions[0]}"
    if len(line) > COMPACT_MAX:
        room = max(40, COMPACT_MAX - len(prefix) - len(tpl.actions[0]) - 12)
        line = f"{prefix}: {what[:room].rstrip()}... Fix: {tpl.actions[0]}"
    return " ".join(line.split())
