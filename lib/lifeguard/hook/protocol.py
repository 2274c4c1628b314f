"""Claude Code's hook protocol: tolerant input parsing and output building.

Input: one JSON object on stdin. Known fields are type-checked (a wrong type is bad input);
missing optional fields and unknown extra fields are fine; unknown events are recorded
generically. Output: one JSON object; decisions go in `hookSpecificOutput`, which always
carries `hookEventName`, and only for events whose schema has one.
"""

from __future__ import annotations

import json
TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Any, TypedDict

from .wire import MAX_INPUT_BYTES  # noqa: E402,F401 - the client reads stdin to this bound too

# Events whose output schema has a hookSpecificOutput in Claude Code 2.1.332 (others, such as
# SessionEnd and PreCompact, reject or drop one; see docs/claude-code-hooks-notes.md).
HSO_EVENTS = frozenset(
    {"PreToolUse", "PostToolUse", "PostToolUseFailure", "PostToolBatch", "UserPromptSubmit", "SessionStart",
     "SubagentStart", "Stop", "SubagentStop"}
)
# Events where additionalContext is a plain note for the model. Stop and SubagentStop also take
# it, but there it makes the session go on (like a block), so a mere note is never sent there.
CONTEXT_EVENTS = HSO_EVENTS - {"Stop", "SubagentStop"}

_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "session_id": str,
    "transcript_path": str,
    "cwd": str,
    "hook_event_name": str,
    "permission_mode": str,
    "tool_name": str,
    "tool_input": dict,
    "tool_use_id": str,
    "error": (str, dict),
    "is_interrupt": bool,
    "stop_hook_active": bool,
    "agent_id": str,
    "agent_type": str,
    "source": str,
    "reason": str,
    "trigger": str,
    "prompt": str,
    "custom_instructions": str,
    "last_assistant_message": str,
}


if TYPE_CHECKING:

    class HookInput(TypedDict, total=False):
        session_id: str
        cwd: str
        hook_event_name: str
        tool_name: str
        tool_input: dict
        tool_response: Any
        tool_use_id: str
        error: Any
        stop_hook_active: bool
        agent_id: str
        agent_type: str
        source: str
        reason: str
        prompt: str
else:
    HookInput = dict


class BadInput(ValueError):
    """Stdin was not a hook event we can read; the message says why in one line."""


def parse(raw: bytes) -> HookInput:
    if not raw.strip():
        raise BadInput("empty input (expected one JSON object on stdin)")
    if len(raw) > MAX_INPUT_BYTES:
        raise BadInput(f"input larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"input is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise BadInput("input JSON is nested too deeply") from None
    except ValueError as exc:
        raise BadInput(f"input is not JSON ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(data, dict):
        raise BadInput(f"input is a JSON {type(data).__name__}, not an object")
    for key, kind in _FIELD_TYPES.items():
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            raise BadInput(f"field {key!r} has type {type(value).__name__}")
    return data  # type: ignore[return-value]


def build_output(event: str, notices: list[dict]) -> dict:
    """The one JSON object a hook prints, from the notices its checks produced."""
    out: dict = {}
    specific: dict = {}
    contexts = [n["model"] for n in notices if n.get("kind") == "context" and n.get("model")]
    denies = [n["model"] for n in notices if n.get("kind") == "deny" and n.get("model")]
    blocks = [n["model"] for n in notices if n.get("kind") == "block" and n.get("model")]
    users = [n["user"] for n in notices if n.get("user")]
    halts = [n.get("user") or n.get("model") for n in notices if n.get("kind") == "halt"]
    if denies and event == "PreToolUse":
        specific["permissionDecision"] = "deny"
        specific["permissionDecisionReason"] = "\n".join(denies)
    elif denies:
        contexts = denies + contexts
    if blocks and event in ("Stop", "SubagentStop"):
        out["decision"] = "block"
        out["reason"] = "\n".join(blocks)
    elif blocks:
        contexts = blocks + contexts
    if contexts and event in CONTEXT_EVENTS:
        specific["additionalContext"] = "\n".join(contexts)
    if users:
        out["systemMessage"] = "\n".join(dict.fromkeys(users))
    if halts:
        out["continue"] = False
        out["stopReason"] = "\n".join(h for h in halts if h)
    if event in HSO_EVENTS:
        out["hookSpecificOutput"] = {"hookEventName": event, **specific}
    return out


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
