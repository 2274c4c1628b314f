"""What lifeguard counts and times, from the event log and the hook samples.

One definition, used by `state_recovery.py stats` (a session's numbers) and by the OpenTelemetry
exporter (the same numbers, sent): `counts(record)` says which counters an event record adds to,
`timings(sample)` which histograms a hook sample adds to, and `Tally` folds a whole session into
the figures `stats` shows. Everything is derived from files already kept, so it can be recomputed
at any time and nothing here runs inside a hook.
"""

from __future__ import annotations

import math
import os
import re

from ..core.clock import epoch as _clock_epoch
from ..alerts import codes

# metric names (OpenTelemetry), with their unit and what they carry
HOOK_DURATION = "lifeguard.hook.duration"  # ms, histogram by hook.event
STATE_QUERY = "lifeguard.state.query.duration"  # ms, histogram by hook.event
SESSION_INIT = "lifeguard.session.init.duration"  # ms, histogram
TOOL_CALLS = "lifeguard.tool.calls"  # counter by tool.name
TOOL_FAILURES = "lifeguard.tool.failures"  # counter by tool.name
LOOPS_WARNED = "lifeguard.loops.warned"  # counter by lifeguard.rule
LOOPS_REFUSED = "lifeguard.loops.refused"  # counter by lifeguard.rule
REPAIRS = "lifeguard.repairs"  # counter by lifeguard.repair.level
HOOK_TIMEOUTS = "lifeguard.hook.timeouts"  # counter by hook.event
BREAKER_TRIPS = "lifeguard.breaker.trips"  # counter by tool.name
STATE_DISK = "lifeguard.state.disk_usage"  # bytes, gauge

COUNTERS = {
    TOOL_CALLS: "{call}", TOOL_FAILURES: "{call}", LOOPS_WARNED: "{loop}", LOOPS_REFUSED: "{loop}",
    REPAIRS: "{repair}", HOOK_TIMEOUTS: "{timeout}", BREAKER_TRIPS: "{trip}",
}
HISTOGRAMS = {HOOK_DURATION: "ms", STATE_QUERY: "ms", SESSION_INIT: "ms"}

OUTCOMES = ("PostToolUse", "PostToolUseFailure")
# repair.py's notes: "session X: major repair: ..." (another session's), "repair level: major" (this one's)
_REPAIR_LEVEL = re.compile(r"\b(minor|major|critical|lost) repair\b|\brepair level: (minor|major|critical|lost)\b")


def counts(record: dict) -> list[tuple[str, dict]]:
    """(counter, attributes) pairs this event record adds one to."""
    out: list[tuple[str, dict]] = []
    event, tool = record.get("event"), record.get("tool") or "?"
    if event in OUTCOMES and record.get("tool"):
        out.append((TOOL_CALLS, {"tool.name": tool}))
        if event == "PostToolUseFailure":
            out.append((TOOL_FAILURES, {"tool.name": tool}))
    hook = record.get("hook") or event or "?"
    for notice in record.get("notices") or ():
        if not isinstance(notice, dict):
            continue
        code, kind = notice.get("code"), notice.get("kind")
        if code == codes.TOOL_LOOP_DETECTED or (code == codes.STOP_LOOP_DETECTED and kind != "halt"):
            out.append((LOOPS_WARNED, {"lifeguard.rule": rule_of(notice)}))
        elif code == codes.TOOL_LOOP_BLOCKED or (code == codes.STOP_LOOP_DETECTED and kind == "halt"):
            out.append((LOOPS_REFUSED, {"lifeguard.rule": rule_of(notice)}))
        elif code == codes.CIRCUIT_OPEN and kind != "deny":  # opened by an outcome; a deny is a refusal while open
            out.append((BREAKER_TRIPS, {"tool.name": tool}))
        elif code == codes.HOOK_TIMEOUT:
            out.append((HOOK_TIMEOUTS, {"hook.event": hook}))
    notes = record.get("repairs") or ()
    levels = [m.group(1) or m.group(2) for note in notes if (m := _REPAIR_LEVEL.search(str(note)))]
    if notes and not levels:  # notes of a fix without a level (a torn log line quarantined, ...)
        levels = ["minor"]
    out.extend((REPAIRS, {"lifeguard.repair.level": level}) for level in levels)
    return out


def rule_of(notice: dict) -> str:
    """The loop rule a loop notice names (the stop rule for stop loops)."""
    if notice.get("rule"):
        return str(notice["rule"])
    return "repeated_stop" if notice.get("code") == codes.STOP_LOOP_DETECTED else "unknown"


def timings(sample: dict) -> list[tuple[str, dict, float]]:
    """(histogram, attributes, milliseconds) this hook sample adds."""
    event = sample.get("e") or "?"
    out = [(HOOK_DURATION, {"hook.event": event}, float(sample["ms"]))]
    if isinstance(sample.get("q"), (int, float)):
        out.append((STATE_QUERY, {"hook.event": event}, float(sample["q"])))
    if event == "SessionStart":
        out.append((SESSION_INIT, {}, float(sample["ms"])))
    return out


def incidents(record: dict) -> list[dict]:
    """The incidents an event record carries: its notices and its fault, each {code, kind, message}."""
    out = [{"code": n.get("code"), "kind": n.get("kind"), "message": n.get("message")}
           for n in record.get("notices") or () if isinstance(n, dict)]
    fault = record.get("fault")
    if isinstance(fault, dict):
        out.append({"code": fault.get("code"), "kind": "fault", "message": fault.get("message")})
    return out


def epoch(ts: object) -> float | None:
    """Seconds since the epoch of a record's time; None when it has none (clock.epoch says 0.0)."""
    return (_clock_epoch(ts) or None) if isinstance(ts, str) else None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


class Tally:
    """A session's figures, folded from its records and samples (in any order of the two)."""

    def __init__(self, window: int = 50):
        self.window = window
        self.events = 0
        self.first_ts: str | None = None
        self.last_ts: str | None = None
        self.tools: dict[str, dict] = {}  # name -> {"calls", "failures", "ms": [...]}
        self.hooks: dict[str, list[float]] = {}  # event -> lifeguard's ms per hook
        self.queries: list[float] = []
        self.inits: list[float] = []
        self.spawns: list[float] = []  # SubagentStart -> the subagent's first event, ms
        self.timeouts = 0
        self.counters: dict[tuple, int] = {}  # (counter, sorted attrs) -> n
        self.error_rates: list[tuple[str | None, float]] = []  # (ts, error % over the window) per outcome
        self._outcomes: list[bool] = []
        self._started: dict[str, float] = {}  # tool_use_id -> PreToolUse time
        self._agents: dict[str, float] = {}  # agent id -> SubagentStart time, until its first event

    def add_record(self, record: dict) -> None:
        self.events += 1
        ts = record.get("ts")
        self.first_ts = self.first_ts or ts
        self.last_ts = ts or self.last_ts
        when = epoch(ts)
        for name, attrs in counts(record):
            key = (name, tuple(sorted(attrs.items())))
            self.counters[key] = self.counters.get(key, 0) + 1
        event, agent = record.get("event"), record.get("agent")
        if agent and agent in self._agents and event != "SubagentStart":
            began = self._agents.pop(agent)
            if when is not None:
                self.spawns.append(round((when - began) * 1000, 1))
        if event == "SubagentStart" and agent and when is not None:
            self._agents[agent] = when
        if event == "PreToolUse" and record.get("tuid") and when is not None:
            self._started[record["tuid"]] = when
        if event in OUTCOMES and record.get("tool"):
            per = self.tools.setdefault(record["tool"], {"calls": 0, "failures": 0, "ms": []})
            per["calls"] += 1
            ok = event == "PostToolUse"
            per["failures"] += 0 if ok else 1
            began = self._started.pop(record.get("tuid"), None)
            if began is not None and when is not None:
                per["ms"].append(round((when - began) * 1000, 1))
            self._outcomes = (self._outcomes + [ok])[-self.window:]
            failed = len(self._outcomes) - sum(self._outcomes)
            self.error_rates.append((ts, 100.0 * failed / len(self._outcomes)))

    def add_sample(self, sample: dict) -> None:
        ms = float(sample["ms"])
        self.hooks.setdefault(sample.get("e") or "?", []).append(ms)
        if isinstance(sample.get("q"), (int, float)):
            self.queries.append(float(sample["q"]))
        if sample.get("e") == "SessionStart":
            self.inits.append(ms)
        if sample.get("to"):
            self.timeouts += 1

    def counter(self, name: str) -> dict[str, int]:
        """One counter's totals, keyed by its attribute values joined ("" for none)."""
        out: dict[str, int] = {}
        for (counter, attrs), n in self.counters.items():
            if counter == name:
                label = ",".join(str(v) for _k, v in attrs)
                out[label] = out.get(label, 0) + n
        return out


def folder_bytes(folder) -> int:
    """Disk use of a folder and everything under it (bytes allocated), links not followed."""
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return total
