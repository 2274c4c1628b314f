"""Loop detection, circuit breakers and stop-loop detection (PreToolUse, PostToolUse[Failure], Stop).

- `annotate` computes each call's signature and each outcome's fingerprint (signature.py),
  stamps the record's time, and names the breakers an outcome counts for (with the
  threshold), so checks and reducers work from the record alone.
- `check` runs the named rules of rules.py on the agent's recent calls (warn after an
  outcome, refuse before a call), gates calls on the breakers of breaker.py, and notices a
  Stop that keeps coming back with the same last message. What it decides that the state
  must remember (a half-open trial let through, which incidents the user has been told
  about) it writes into the record.
- `apply` folds the record into `execution.loops` (bounded windows per agent, stop counts)
  and `execution.breakers` (the breaker transitions of outcomes and of trials).

The model hears why and what to do on every repetition; the user gets one short line per
incident (an incident key is announced once until counting restarts).
"""

from __future__ import annotations

from . import breaker, rules as loop_rules
from ...redact import redactor as redact
from . import messages as say
from . import signature as sig_mod
from .. import core
from ...core import clock

WINDOW_KEEP = 20  # calls remembered per agent; the config limits are validated against this
AGENTS_KEEP = 32
ANNOUNCED_KEEP = 50
BREAKERS_KEEP = 64
MAIN = "main"
TOOL_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure")
STOP_EVENTS = ("Stop", "SubagentStop")
TASK_NOTIFICATION = "<task-notification>"  # what Claude Code submits when a background agent ends


# -- annotate ----------------------------------------------------------------------------------


def annotate(inp: dict, record: dict, cfg: dict) -> None:
    event = record.get("event")
    agent = inp.get("agent_id") or MAIN
    if event in TOOL_EVENTS + STOP_EVENTS:
        # signatures hash raw input, which may hold secrets: key them with the workspace salt
        sig_mod.use_key(redact.active().salt)
    if event in TOOL_EVENTS and inp.get("tool_name"):
        record.setdefault("ts", clock.now_iso())  # breaker times come from the record
        tool, tool_input = inp["tool_name"], inp.get("tool_input")
        loop = {"agent": agent, "sig": sig_mod.call_signature(tool, tool_input),
                "label": sig_mod.call_label(tool, tool_input)}
        if event == "PostToolUse":
            loop.update(ok=True, fp=sig_mod.success_fingerprint(inp.get("tool_response")))
        elif event == "PostToolUseFailure":
            error = inp.get("error") or ""
            fp = "interrupt" if inp.get("is_interrupt") else sig_mod.failure_fingerprint(error)
            loop.update(ok=False, fp=fp, err=sig_mod.first_error_line(error))
        limits = cfg.get("breakers") or {}
        if event != "PreToolUse" and limits.get("enabled"):
            keys = breaker.keys_for(tool, limits.get("tools") or [])
            if keys:  # the reducer counts the outcome from these, even for a spooled record
                loop.update(breaker_keys=keys, threshold=int(limits["failure_threshold"]))
        record["loop"] = loop
    elif event in STOP_EVENTS:
        last_message = inp.get("last_assistant_message")
        record["loop"] = {"agent": agent, "stop_fp": sig_mod.stop_fingerprint(last_message)}
    elif event == "UserPromptSubmit":
        # A background agent's completion arrives as a prompt; it is not the user redirecting.
        genuine = not str(inp.get("prompt") or "").lstrip().startswith(TASK_NOTIFICATION)
        record["loop"] = {"reset": "all" if genuine else "stops"}
    elif event == "SessionStart":
        record["loop"] = {"reset": "all"}


# -- check -------------------------------------------------------------------------------------


def check(state: dict, record: dict, cfg: dict) -> list[dict]:
    loop = record.get("loop")
    if not isinstance(loop, dict):
        return []
    event = record.get("event")
    section = _read(state, "loops")
    if event == "PreToolUse":
        return _before_call(state, section, record, loop, cfg)
    if event in ("PostToolUse", "PostToolUseFailure"):
        return _after_call(state, section, record, loop, cfg)
    if event in STOP_EVENTS:
        return _on_stop(section, record, loop, cfg)
    return []


def _before_call(state: dict, section: dict, record: dict, loop: dict, cfg: dict) -> list[dict]:
    notices = _breaker_gate(state, record, loop, cfg)
    if notices:
        return notices
    limits = cfg.get("loops") or {}
    if not limits.get("enabled"):
        return []
    window = _window(section, loop["agent"])
    found = loop_rules.first_refusal(window, loop["sig"], limits)
    if found is None:
        return []
    key = "TOOL_LOOP_BLOCKED:" + found.key(loop["agent"])
    return [_announce(section, loop, key, "TOOL_LOOP_BLOCKED", "deny", say.refusal(found),
                      say.user_refusal(found))]


def _after_call(state: dict, section: dict, record: dict, loop: dict, cfg: dict) -> list[dict]:
    notices = _breaker_result(state, section, record, loop, cfg)
    limits = cfg.get("loops") or {}
    if limits.get("enabled"):
        window = _window(section, loop["agent"]) + [entry_of(loop)]
        found = loop_rules.first_warning(window, limits)
        if found is not None:
            key = "TOOL_LOOP_DETECTED:" + found.key(loop["agent"])
            notices.append(_announce(section, loop, key, "TOOL_LOOP_DETECTED", "context",
                                     say.warning(found, limits), say.user_warning(found)))
    return notices


def _breaker_gate(state: dict, record: dict, loop: dict, cfg: dict) -> list[dict]:
    limits = cfg.get("breakers") or {}
    if not limits.get("enabled"):
        return []
    keys = breaker.keys_for(record.get("tool", ""), limits.get("tools") or [])
    if not keys:
        return []
    now, stored = clock.epoch(record.get("ts")), _read(state, "breakers")
    trials: dict = {}
    for key in keys:
        decision, new = breaker.before_call(stored.get(key), now, record.get("tuid"), limits)
        if decision == breaker.REFUSE:
            entry = stored[key]
            wait = max(1, round(breaker.retry_at(entry, limits) - now))
            return [{"code": "CIRCUIT_OPEN", "kind": "deny",
                     "model": say.circuit_refusal(key, record.get("tool", ""), entry, wait)}]
        if new is not None:
            trials[key] = new
    if trials:
        loop["breakers"] = trials
    return []


def _breaker_result(state: dict, section: dict, record: dict, loop: dict, cfg: dict) -> list[dict]:
    """Tell the model (and once the user) when this outcome opens a breaker.

    The transition itself is the reducer's (`apply`), from what annotate put in the
    record, so an outcome that had to wait in the spool still counts.
    """
    keys, threshold = loop.get("breaker_keys") or (), loop.get("threshold")
    stored, now, notices = _read(state, "breakers"), clock.epoch(record.get("ts")), []
    for key in keys:
        new, opened = _outcome(stored.get(key), loop, now, threshold)
        if opened:
            wait = int(cfg["breakers"]["recovery_timeout_seconds"])
            model, user = say.circuit_opened(key, new, wait)
            notices.append(_announce(section, loop, f"breaker:{key}:{now:.3f}", "CIRCUIT_OPEN", "context",
                                     model, user))
    return notices


def _outcome(entry: dict | None, loop: dict, now: float, threshold) -> tuple[dict, bool]:
    return breaker.after_result(entry, bool(loop.get("ok")), now, loop.get("err", ""),
                                {"failure_threshold": threshold})


def _on_stop(section: dict, record: dict, loop: dict, cfg: dict) -> list[dict]:
    limits = cfg.get("loops") or {}
    if not limits.get("enabled"):
        return []
    agent, fp = loop["agent"], loop["stop_fp"]
    last = (section.get("stops") or {}).get(agent) or {}
    count = int(last.get("count") or 0) + 1 if last.get("fp") == fp else 1
    who = "the main agent" if agent == MAIN else f"subagent {agent}"
    halt_after = int(limits.get("stop_halt_after") or 0)
    if halt_after and count >= halt_after and record.get("event") == "Stop":
        return [_announce(section, loop, f"stop-halt:{agent}:{fp}", "STOP_LOOP_DETECTED", "halt", None,
                          say.stop_halted(who, count), always_user=True)]
    if count >= int(limits["stop_warn_after"]):
        return [_announce(section, loop, f"stop:{agent}:{fp}", "STOP_LOOP_DETECTED", "user", None,
                          say.stop_repeating(who, count))]
    return []


def _announce(section: dict, loop: dict, key: str, code: str, kind: str, model: str | None, user: str,
              always_user: bool = False) -> dict:
    """A notice; the user line only the first time this incident is seen (recorded in the record)."""
    notice: dict = {"code": code, "kind": kind}
    if model:
        notice["model"] = model
    if always_user or key not in (section.get("announced") or ()):
        notice["user"] = user
        loop.setdefault("announce", []).append(key)
    return notice


# -- apply (reducer) ---------------------------------------------------------------------------


def entry_of(loop: dict) -> dict:
    entry = {"sig": loop.get("sig"), "fp": loop.get("fp"), "ok": bool(loop.get("ok")),
             "label": loop.get("label", "")}
    if loop.get("err"):
        entry["err"] = loop["err"]
    return entry


def apply(state: dict, record: dict) -> None:
    loop = record.get("loop")
    if not isinstance(loop, dict):
        return
    section = _section(state, "loops")
    event = record.get("event")
    reset = loop.get("reset")
    if reset == "all":
        section["agents"], section["announced"], section["stops"] = {}, [], {}
    elif reset == "stops":
        section["stops"] = {}
    if event in ("PostToolUse", "PostToolUseFailure") and loop.get("sig"):
        agents = section.setdefault("agents", {})
        slot = agents.pop(loop.get("agent", MAIN), None) or {"window": []}
        slot["window"] = (slot.get("window") or [])[-(WINDOW_KEEP - 1):] + [entry_of(loop)]
        agents[loop.get("agent", MAIN)] = slot  # re-inserted last: dict order is least recently used first
        while len(agents) > AGENTS_KEEP:
            agents.pop(next(iter(agents)))
    elif event in STOP_EVENTS and loop.get("stop_fp"):
        stops = section.setdefault("stops", {})
        agent = loop.get("agent", MAIN)
        last = stops.pop(agent, None) or {}
        count = int(last.get("count") or 0) + 1 if last.get("fp") == loop["stop_fp"] else 1
        stops[agent] = {"fp": loop["stop_fp"], "count": count}
        while len(stops) > AGENTS_KEEP:
            stops.pop(next(iter(stops)))
        if event == "SubagentStop" and agent != MAIN:
            (section.get("agents") or {}).pop(agent, None)  # its calls are over
    if loop.get("breaker_keys") and event in ("PostToolUse", "PostToolUseFailure"):
        stored, now = _section(state, "breakers"), clock.epoch(record.get("ts"))
        for key in loop["breaker_keys"]:
            if stored.get(key) or not loop.get("ok"):  # a success with no history changes nothing
                _set_breaker(state, key, _outcome(stored.get(key), loop, now, loop.get("threshold"))[0])
    for key, entry in (loop.get("breakers") or {}).items():  # trial calls let through by check
        _set_breaker(state, key, entry)
    if loop.get("announce"):
        announced = (section.get("announced") or []) + list(loop["announce"])
        section["announced"] = announced[-ANNOUNCED_KEEP:]


def _set_breaker(state: dict, key: str, entry: dict) -> None:
    stored = _section(state, "breakers")
    stored.pop(key, None)
    if entry.get("state") != breaker.CLOSED or entry.get("failures"):
        stored[key] = entry  # a healthy, closed breaker needs no entry
    while len(stored) > BREAKERS_KEEP:
        stored.pop(next(iter(stored)))


# -- state helpers -----------------------------------------------------------------------------
# Readers (`_read_*`) never create anything: `check` must leave the state as it found it.


def _read(state: dict, key: str) -> dict:
    execution = state.get("execution")
    node = execution.get(key) if isinstance(execution, dict) else None
    return node if isinstance(node, dict) else {}


def _section(state: dict, key: str) -> dict:
    return core.section(state, "execution", key)


def _window(section: dict, agent: str) -> list[dict]:
    slot = (section.get("agents") or {}).get(agent) or {}
    window = slot.get("window")
    return window if isinstance(window, list) else []
