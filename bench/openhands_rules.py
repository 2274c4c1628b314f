"""OpenHands' StuckDetector rules, re-implemented from their description for the replay benchmark.

Source read: All-Hands-AI/OpenHands, openhands/controller/stuck.py (MIT), at commit
156d0686c46aafb0fa9d291da6421fb6f64dddc0. This is our own code, written from what that
detector checks, mapped onto Claude Code tool calls:

- an *action* is a tool call (tool name and input); two are equal when both are;
- an *observation* is its outcome. A shell command's outcome compares by exit status only
  (OpenHands compares CmdOutputObservation by command and exit code, not by output);
  any other tool's outcome compares by success and output text;
- an *error* observation is a failed non-shell call (OpenHands' ErrorObservation), including
  calls that failed Claude Code's own validation (`<tool_use_error>`).

Rules, checked after every step on the steps since the last user message (OpenHands'
interactive mode), in OpenHands' order:
- `repeating_action_observation`: the last 4 actions equal and the last 4 observations equal;
- `repeating_action_error`: the last 3 actions equal and the last 3 observations errors;
- `action_observation_pattern`: over the last 6 steps, actions and observations repeat with
  period 2 (A B A B A B).
The monologue and context-window rules have no counterpart in hook events and are left out.
"""

from __future__ import annotations

import json
import re

_EXIT = re.compile(r"^Exit code (-?\d+)")


def _action(step: dict) -> str:
    return step["tool"] + "\0" + json.dumps(step.get("input"), sort_keys=True)


def _observation(step: dict) -> tuple:
    if step["tool"] == "Bash":
        if step["ok"]:
            return ("exit", 0)
        m = _EXIT.match(step.get("text") or "")
        return ("exit", int(m.group(1)) if m else None)
    return (step["ok"], step.get("text") or "")


def _is_error(step: dict) -> bool:
    return not step["ok"] and step["tool"] != "Bash"


def stuck(steps: list[dict]) -> str | None:
    """The first OpenHands rule that holds after the last of `steps` (all since the last prompt)."""
    if len(steps) >= 4:
        last = steps[-4:]
        if len({_action(s) for s in last}) == 1 and len({_observation(s) for s in last}) == 1:
            return "repeating_action_observation"
    if len(steps) >= 3:
        last = steps[-3:]
        if len({_action(s) for s in last}) == 1 and all(_is_error(s) for s in last):
            return "repeating_action_error"
    if len(steps) >= 6:
        last = steps[-6:]
        acts, obs = [_action(s) for s in last], [_observation(s) for s in last]
        if (acts[0] == acts[2] == acts[4] and acts[1] == acts[3] == acts[5]
                and obs[0] == obs[2] == obs[4] and obs[1] == obs[3] == obs[5]):
            return "action_observation_pattern"
    return None
