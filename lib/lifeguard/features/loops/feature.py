"""Loop detection, circuit breakers and stop-loop detection (PreToolUse, PostToolUse[Failure], Stop).

- `annotate` computes each call's signature and each outcome's fingerprint (signature.py),
  stamps the record's time, marks calls the user allows to repeat (`loops.allow`), tells an
  outage from a mistake and names the breakers an outcome counts for (with the threshold),
  so checks and reducers work from the record alone.
- `check` first reads what the transcript gained since the last hook (transcript.py): calls
  Claude Code rejected before any hook ran. They join the main agent's window as the failed
  calls they are. It then runs the named rules of rules.py on the agent's recent calls
  (warn when the window changed, refuse before a call), gates calls on the breakers of
  breaker.py, and notices a Stop that keeps coming back with the same last message. What it
  decides that the state must remember (the transcript cursor and the calls it found, a
  half-open trial let through, which incidents the user has been told about) it returns as
  its decisions; the pipeline writes them into the record (`record["decisions"]["loop"]`).
- `apply` folds the record (annotation and decisions) into `execution.loops` (bounded windows
  per agent, stop counts, the transcript cursor) and `execution.breakers` (the breaker
  transitions of outcomes and of trials).

The model hears why and what to do on every repetition; the user gets one short line per
incident (an incident key is announced once until counting restarts).
"""

from __future__ import annotations

from . import breaker, rules as loop_rules, transcript
from ...redact import redactor as redact
from . import signature as sig_mod
from ...core import clock
from ...store.record import SCRATCH, decisions
from ...store.state import peek, section
from ...alerts import codes

NAME = "loop"  # the record's key for this feature's annotation, and for its decisions

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
                "label": sig_mod.call_label(tool, tool_input), "t": clock.epoch(record["ts"])}
        if allowed(tool, tool_input, (cfg.get("loops") or {}).get("allow") or ()):
            loop["allow"] = True
        available = True
        if event == "PostToolUse":
            loop.update(ok=True, fp=sig_mod.success_fingerprint(inp.get("tool_response")))
        elif event == "PostToolUseFailure":
            error = sig_mod.error_text(inp.get("error") or "")
            interrupted = bool(record.get("interrupt"))
            loop.update(ok=False, fp="interrupt" if interrupted else sig_mod.failure_fingerprint(error),
                        err=sig_mod.first_error_line(error))
            available = interrupted or not breaker.outage(error)
        limits = cfg.get("breakers") or {}
        if event != "PreToolUse" and limits.get("enabled"):
            keys = breaker.keys_for(tool, limits.get("tools") or [])
            if keys:  # the reducer counts the outcome from these, even for a spooled record
                loop.update(breaker_keys=keys, threshold=int(limits["failure_threshold"]), available=available)
        record[NAME] = loop
    elif event in STOP_EVENTS:
        last_message = inp.get("last_assistant_message")
        record[NAME] = {"agent": agent, "stop_fp": sig_mod.stop_fingerprint(last_message)}
    elif event == "UserPromptSubmit":
        # A background agent's completion arrives as a prompt; it is not the user redirecting.
        genuine = not str(inp.get("prompt") or "").lstrip().startswith(TASK_NOTIFICATION)
        record[NAME] = {"reset": "all" if genuine else "stops"}
    elif event == "SessionStart":
        record[NAME] = {"reset": "all"}
    if NAME in record and isinstance(inp.get("transcript_path"), str):
        # check reads what it gained; the path itself need not be logged
        record.setdefault(SCRATCH, {})["transcript_path"] = inp["transcript_path"]


def allowed(tool: str, tool_input, patterns) -> bool:
    """Does `loops.allow` let this call repeat? A pattern is a tool name (`mcp__ci__*`) or a tool
    with a pattern of its main argument (the command, a path, a URL) in parentheses
    (`Bash(gh run watch*)`)."""
    if not patterns:
        return False
    main = sig_mod.main_argument(tool_input)
    for pattern in patterns:
        name, _, arg = str(pattern).partition("(")
        if not breaker.matches(tool, name.strip()):
            continue
        if not arg or breaker.matches(main, arg[:-1] if arg.endswith(")") else arg):
            return True
    return False


# -- check -------------------------------------------------------------------------------------


def check(state: dict, record: dict, cfg: dict) -> tuple[list[dict], dict]:
    """(notices, decisions): `decided` collects what `apply` must fold besides the annotation."""
    loop = record.get(NAME)
    if not isinstance(loop, dict):
        return [], {}
    event = record.get("event")
    section = _read(state, "loops")
    limits = cfg.get("loops") or {}
    decided: dict = {}
    hidden = _read_transcript(section, record, loop, decided) if limits.get("enabled") else []
    notices: list[dict] = []
    if event == "PreToolUse":
        notices = _before_call(state, section, record, loop, decided, cfg, hidden)
    elif event in ("PostToolUse", "PostToolUseFailure"):
        notices = _after_call(state, section, record, loop, decided, cfg, hidden)
    elif event in STOP_EVENTS:
        notices = _on_stop(section, record, loop, decided, cfg, hidden)
    return notices, decided


def _read_transcript(section: dict, record: dict, loop: dict, decided: dict) -> list[dict]:
    """The calls Claude Code rejected since the last hook (they go to the main agent's window),
    and the new cursor, into the decisions. A reset (new prompt, new session) drops them."""
    path = (record.get(SCRATCH) or {}).get("transcript_path")
    before = section.get("transcript") if isinstance(section.get("transcript"), dict) else {}
    cursor, hidden = transcript.read(path, before)
    # labels and errors quote the raw input (a command with a token in it): scrubbed like annotate's
    cursor["pending"] = {uid: _scrubbed(call) for uid, call in (cursor.get("pending") or {}).items()}
    hidden = [_scrubbed(h) for h in hidden]
    if record.get("tuid"):
        cursor = transcript.saw(cursor, record["tuid"])
    if cursor != before:
        decided["cursor"] = cursor
    known = {e.get("id") for e in _window(section, MAIN) if e.get("id")}
    hidden = [h for h in hidden if h["id"] not in known]
    if hidden and not loop.get("reset"):
        decided["hidden"] = hidden
        return hidden
    return []


def _scrubbed(call: dict) -> dict:
    return {k: redact.scrub_value(v, by_name=False) if k in ("label", "err") else v for k, v in call.items()}


def _before_call(state: dict, section: dict, record: dict, loop: dict, decided: dict, cfg: dict,
                 hidden: list[dict]) -> list[dict]:
    notices = _breaker_gate(state, record, decided, cfg)
    if notices:
        return notices
    limits = cfg.get("loops") or {}
    if not limits.get("enabled"):
        return []
    agent = loop["agent"]
    window = _window(section, agent) + (hidden if agent == MAIN else [])
    if window and window[-1].get("hidden"):  # calls no hook saw came last: this hook is the first to tell
        notices += _warn(section, loop, decided, window, limits, len(hidden))
    found = loop_rules.first_refusal(window, loop["sig"], loop.get("t"), limits, bool(loop.get("allow")))
    if found is not None:
        from . import messages as say  # the texts: only once there is something to tell

        key = "TOOL_LOOP_BLOCKED:" + found.key(agent)
        notices.append(_announce(section, decided, key, codes.TOOL_LOOP_BLOCKED, "deny", say.refusal(found),
                                 say.user_refusal(found), rule=found.rule))
    return notices


def _after_call(state: dict, section: dict, record: dict, loop: dict, decided: dict, cfg: dict,
                hidden: list[dict]) -> list[dict]:
    notices = _breaker_result(state, section, record, loop, decided, cfg)
    limits = cfg.get("loops") or {}
    if limits.get("enabled"):
        agent = loop["agent"]
        new = (hidden if agent == MAIN else []) + [entry_of(loop)]
        notices += _warn(section, loop, decided, _window(section, agent) + new, limits, len(new))
    return notices


def _warn(section: dict, loop: dict, decided: dict, window: list[dict], limits: dict, added: int) -> list[dict]:
    found = loop_rules.first_warning(window, limits, added)
    if found is None:
        return []
    from . import messages as say

    key = "TOOL_LOOP_DETECTED:" + found.key(loop.get("agent", MAIN))
    return [_announce(section, decided, key, codes.TOOL_LOOP_DETECTED, "context", say.warning(found, limits),
                      say.user_warning(found), rule=found.rule)]


def _breaker_gate(state: dict, record: dict, decided: dict, cfg: dict) -> list[dict]:
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
            from . import messages as say

            entry = stored[key]
            wait = max(1, round(breaker.retry_at(entry, limits) - now))
            return [{"code": codes.CIRCUIT_OPEN, "kind": "deny",
                     "model": say.circuit_refusal(key, record.get("tool", ""), entry, wait)}]
        if new is not None:
            trials[key] = new
    if trials:
        decided["breakers"] = trials
    return []


def _breaker_result(state: dict, section: dict, record: dict, loop: dict, decided: dict, cfg: dict) -> list[dict]:
    """Tell the model (and once the user) when this outcome opens breakers: one notice, however
    many breakers (a tool's, its server's) it opened.

    The transition itself is the reducer's (`apply`), from what annotate put in the
    record, so an outcome that had to wait in the spool still counts.
    """
    stored, now = _read(state, "breakers"), clock.epoch(record.get("ts"))
    opened = []
    for key in loop.get("breaker_keys") or ():
        new, did_open = _outcome(stored.get(key), loop, now, key)
        if did_open:
            opened.append((key, new))
    if not opened:
        return []
    from . import messages as say

    wait = int(cfg["breakers"]["recovery_timeout_seconds"])
    keys = [key for key, _ in opened]
    model, user = say.circuit_opened(keys, opened[0][1], wait)
    return [_announce(section, decided, f"breaker:{'|'.join(keys)}:{now:.3f}", codes.CIRCUIT_OPEN, "context", model, user)]


def _outcome(entry: dict | None, loop: dict, now: float, key: str) -> tuple[dict, bool]:
    return breaker.after_result(entry, bool(loop.get("available", True)), now, loop.get("err", ""),
                                {"failure_threshold": loop.get("threshold")}, key, _tool(loop))


def _tool(loop: dict) -> str:
    keys = loop.get("breaker_keys") or ()
    return keys[0] if keys else ""


def _on_stop(section: dict, record: dict, loop: dict, decided: dict, cfg: dict, hidden: list[dict]) -> list[dict]:
    limits = cfg.get("loops") or {}
    if not limits.get("enabled"):
        return []
    from . import messages as say  # a Stop: rare next to tool calls

    agent, fp = loop["agent"], loop["stop_fp"]
    notices = []
    window = _window(section, MAIN) + hidden
    if agent == MAIN and window and window[-1].get("hidden"):
        # a loop of calls no hook saw, found only now: the user hears of it (context at a Stop
        # would send the agent back to work)
        found = loop_rules.first_warning(window, limits, len(hidden))
        if found is not None:
            notices.append(_announce(section, decided, "TOOL_LOOP_DETECTED:" + found.key(agent), codes.TOOL_LOOP_DETECTED,
                                     "user", None, say.hidden_at_stop(found), rule=found.rule))
    last = (section.get("stops") or {}).get(agent) or {}
    count = int(last.get("count") or 0) + 1 if last.get("fp") == fp else 1
    who = "the main agent" if agent == MAIN else f"subagent {agent}"
    halt_after = int(limits.get("stop_halt_after") or 0)
    if halt_after and count >= halt_after and record.get("event") == "Stop":
        return notices + [_announce(section, decided, f"stop-halt:{agent}:{fp}", codes.STOP_LOOP_DETECTED, "halt", None,
                                    say.stop_halted(who, count), always_user=True)]
    if count >= int(limits["stop_warn_after"]):
        notices.append(_announce(section, decided, f"stop:{agent}:{fp}", codes.STOP_LOOP_DETECTED, "user", None,
                                 say.stop_repeating(who, count)))
    return notices


def _announce(section: dict, decided: dict, key: str, code: str, kind: str, model: str | None, user: str,
              always_user: bool = False, rule: str | None = None) -> dict:
    """A notice; the user line only the first time this incident is seen (remembered through `decided`)."""
    notice: dict = {"code": code, "kind": kind}
    if rule:
        notice["rule"] = rule
    if model:
        notice["model"] = model
    if always_user or key not in (section.get("announced") or ()):
        notice["user"] = user
        decided.setdefault("announce", []).append(key)
    return notice


# -- apply (reducer) ---------------------------------------------------------------------------


def entry_of(loop: dict) -> dict:
    entry = {"sig": loop.get("sig"), "fp": loop.get("fp"), "ok": bool(loop.get("ok")),
             "label": loop.get("label", "")}
    for key in ("err", "t", "allow"):
        if loop.get(key):
            entry[key] = loop[key]
    return entry


HIDDEN_FIELDS = ("sig", "fp", "ok", "label", "err", "t", "hidden", "id")


def apply(state: dict, record: dict) -> None:
    loop = record.get(NAME)
    if not isinstance(loop, dict):
        return
    decided = decisions(record, NAME)
    section = _section(state, "loops")
    event = record.get("event")
    reset = loop.get("reset")
    if reset == "all":
        section["agents"], section["announced"], section["stops"] = {}, [], {}
    elif reset == "stops":
        section["stops"] = {}
    _keep_cursor(section, decided.get("cursor"))
    hidden = [{k: h[k] for k in HIDDEN_FIELDS if k in h} for h in decided.get("hidden") or () if isinstance(h, dict)]
    if hidden:
        known = {e.get("id") for e in _window(section, MAIN) if e.get("id")}
        _append(section, MAIN, [h for h in hidden if h.get("id") not in known])
    if event in ("PostToolUse", "PostToolUseFailure") and loop.get("sig"):
        _append(section, loop.get("agent", MAIN), [entry_of(loop)])
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
            if stored.get(key) or not loop.get("available", True):  # an answer with no history changes nothing
                _set_breaker(state, key, _outcome(stored.get(key), loop, now, key)[0])
    for key, entry in (decided.get("breakers") or {}).items():  # trial calls let through by check
        _set_breaker(state, key, entry)
    if decided.get("announce"):
        announced = (section.get("announced") or []) + list(decided["announce"])
        section["announced"] = announced[-ANNOUNCED_KEEP:]


def _append(section: dict, agent: str, entries: list[dict]) -> None:
    agents = section.setdefault("agents", {})
    slot = agents.pop(agent, None) or {"window": []}
    slot["window"] = ((slot.get("window") or []) + entries)[-WINDOW_KEEP:]
    agents[agent] = slot  # re-inserted last: dict order is least recently used first
    while len(agents) > AGENTS_KEEP:
        agents.pop(next(iter(agents)))


def _keep_cursor(section: dict, cursor) -> None:
    """The transcript cursor, unless the record's is older (a spooled record drained late)."""
    if not isinstance(cursor, dict):
        return
    stored = section.get("transcript") if isinstance(section.get("transcript"), dict) else {}
    if stored.get("ident") == cursor.get("ident") and int(stored.get("offset") or 0) > int(cursor.get("offset") or 0):
        return
    section["transcript"] = cursor


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
    return peek(state, "execution", key)


def _section(state: dict, key: str) -> dict:
    return section(state, "execution", key)


def _window(section: dict, agent: str) -> list[dict]:
    slot = (section.get("agents") or {}).get(agent) or {}
    window = slot.get("window")
    return window if isinstance(window, list) else []
