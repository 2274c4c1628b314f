"""Turn a hook's input into the event record that goes into the log.

Records carry what the reducers and the recovery tools need, kept small: long strings are
cut with their size noted, deep or wide structures are summarised, so one huge tool output
cannot bloat the log. Every value passes through `scrub` (secret redaction) on its way.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable

from ..redact import redactor as redact
from ..redact.patterns import pair

MAX_STR = 2000
MAX_ITEMS = 50
MAX_DEPTH = 6
# Scrubbing looks this far past the cut, so a secret straddling it is still recognised whole,
# while a huge output costs no more than this to scrub.
SCRUB_MARGIN = 1024

# Filters applied to every string before it is kept: `fn(text) -> text`. A filter may also
# have `field(name, text) -> text` (for a string stored under a dict key) and
# `configure(cfg, layout)` (called by `configure` below once per hook invocation).
SCRUBBERS: list[Callable[[str], str]] = [redact.SCRUBBER]

INTERRUPTED = "[Request interrupted by user"  # how the error of a call the user interrupted begins

# Two keys of a record belong to the pipeline (hook/pipeline.py), not to any feature:
DECISIONS = "decisions"  # {feature NAME: what its check decided}: written by the pipeline alone
SCRATCH = "scratch"  # what annotate leaves for the checks alone; removed before the record is written


def configure(cfg: Any, layout: Any) -> None:
    """Give the scrubbers this invocation's settings and workspace (redaction keeps its salt there)."""
    for fn in SCRUBBERS:
        setup = getattr(fn, "configure", None)
        if setup is not None:
            setup(cfg, layout)


def scrub(text: str) -> str:
    for fn in SCRUBBERS:
        text = fn(text)
    return text


def scrub_field(name: str, value: str | int | float) -> str | int | float:
    """`scrub` for a value stored under the key `name` (`"password": "hunter2"`, `"pin": 1234`);
    a number comes back as it was unless it is a secret."""
    for fn in SCRUBBERS:
        field = getattr(fn, "field", None)
        if field is not None:
            value = field(name, value)
        elif isinstance(value, str):
            value = fn(value)
    return value


def scrub_added(record: dict, built: set) -> None:
    """Scrub what features' `annotate` added to `record` (keys not in `built`): they derive it
    from the raw hook input (a loop label quoting the command), so it may carry a secret."""
    for key in record.keys() - built:
        record[key] = redact.scrub_value(record[key], by_name=False)  # our own keys ("sig") are no secrets


def summarize(value: Any, max_str: int = MAX_STR, depth: int = 0, name: str | None = None) -> Any:
    if isinstance(value, str):
        size = len(value)
        value = value[: max_str + SCRUB_MARGIN]  # scrub first, then cut: no half secret survives
        value = scrub(value) if name is None else scrub_field(name, value)
        if size > max_str or len(value) > max_str:
            return value[:max_str] + f"...[truncated, {size} chars]"
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):  # a number under a secret name is a secret too (`"pin": 1234`)
        return value if name is None else scrub_field(name, value)
    if depth >= MAX_DEPTH:
        return "[nested too deeply]"
    if isinstance(value, dict):
        named = pair(value, name)  # {"name": "X-Auth", "value": ...}: the value is X-Auth's
        out = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["..."] = f"[{len(value) - MAX_ITEMS} more keys]"
                break
            item_name = named[0] if named and key == named[1] else str(key)
            out[summarize(str(key), 200)] = summarize(item, max_str, depth + 1, item_name)
        return out
    if isinstance(value, (list, tuple)):
        named = pair(value, name)  # ["X-Auth", ...]: list-form headers
        if named:
            return [summarize(value[0], max_str, depth + 1), summarize(value[1], max_str, depth + 1, named[0])]
        out_list = [summarize(item, max_str, depth + 1, name) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out_list.append(f"[{len(value) - MAX_ITEMS} more items]")
        return out_list
    return summarize(repr(value), max_str, depth)


def decisions(record: dict, name: str) -> dict:
    """What the check of feature `name` decided on `record` (its reducer folds it), or {}.

    Logs written before the decisions had a key of their own hold them inside the feature's
    annotation, `record[name]` (a check wrote them there): a record without a "decisions" key is
    read that way. Safe because annotate never writes a key its check decides."""
    found = record.get(DECISIONS)
    found = found.get(name) if isinstance(found, dict) else record.get(name)
    return found if isinstance(found, dict) else {}


def build(event: str, inp: dict) -> dict:
    rec: dict = {"event": event}
    if inp.get("agent_id"):
        rec["agent"] = inp["agent_id"]
    if inp.get("agent_type"):
        rec["agent_type"] = inp["agent_type"]
    if inp.get("tool_name"):
        rec["tool"] = summarize(inp["tool_name"], 200)
    if inp.get("tool_use_id"):
        rec["tuid"] = inp["tool_use_id"]
    if "tool_input" in inp:
        rec["input"] = summarize(inp["tool_input"])
    if "tool_response" in inp:
        rec["result"] = summarize(inp["tool_response"], 1000)
    if inp.get("error") is not None:
        rec["error"] = summarize(inp["error"], 1000)
    if inp.get("is_interrupt") or INTERRUPTED in str(inp.get("error") or "")[:200]:
        rec["interrupt"] = True  # Claude Code does not always set the flag; the error always says it
    for key in ("source", "reason", "trigger"):
        if inp.get(key):
            rec[key] = summarize(inp[key], 200)
    if inp.get("prompt"):
        rec["prompt"] = summarize(inp["prompt"], 500)
    if inp.get("last_assistant_message"):
        rec["last_message"] = summarize(inp["last_assistant_message"], 500)
    if inp.get("stop_hook_active"):
        rec["stop_hook_active"] = True
    if event == "SessionStart" and inp.get("cwd"):
        rec["cwd"] = summarize(inp["cwd"], 1000)
    return rec
