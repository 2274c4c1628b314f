"""Repair a session's state by the spec's decision tree, without losing what it replaces.

    back up first
    minor     the state file is repaired in place (broken JSON: trailing commas, truncation;
              missing sections filled from the defaults) and agrees with the event log
    major     the state is rebuilt by replaying the event log (from its snapshot, if any)
    critical  the newest checkpoint or backup whose state validates is restored, and the
              log's later events are replayed on top of it
    partial   (reported as major) the log is damaged and nothing better exists: the good
              events are replayed and the damage is reported
    lost      nothing usable: a clean start; the user is told plainly where the bytes went

After a repair the state is validated again; what still fails is marked for manual review
(`state/manual-review.jsonl`). Whenever the chosen state is not simply the replay of the
log (the log is damaged, shorter than the state, or gone) the log is rebased onto a
snapshot of that state (`logsnapshot`), so `state == replay(log)` holds again and sequence
numbers stay contiguous. Every replaced or damaged file is copied or moved into
`state/quarantine/` first; nothing is deleted.

Stdlib only at import; `deep=True` validates with the pydantic schema (cold paths only),
`deep=False` with a structural check cheap enough for any hook.

    repair_session(layout, session_id, deep=True, reducers=...) -> RepairReport   takes the session lock
    repair_all(layout, deep=True, reducers=...) -> list[RepairReport]
    repair_locked(layout, session_id, ..., reducers=...) -> RepairReport          caller holds the lock

`reducers` is what replays the log (`features.registry.FEATURES`), given by the caller.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from . import backup as backup_mod
from ..store import eventlog, jsoncodec, snapshot as logsnapshot, reducer
from ..core import fsutil
from . import jsonrepair
from ..store import state as state_mod
from ..core.locking import SessionLock
from ..core.paths import Layout, reachable, safe_name
from ..alerts import codes

LEVELS = ("none", "minor", "major", "critical", "lost")
SECTIONS = ("session", "execution", "communication", "observability", "persistence")


@dataclass
class RepairReport:
    session_id: str
    level: str = "none"  # one of LEVELS
    actions: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    backup: str | None = None
    events_kept: int = 0
    torn_tail: bool = False  # an unfinished last log line (never a committed event) was set aside
    events_set_aside: bool = False  # recorded events or state could not be carried over

    @property
    def repaired(self) -> bool:
        return self.level != "none" or bool(self.actions)

    @property
    def severity(self) -> str:
        """What the repair cost (docs/severity.md): nothing lost is info, however it looked."""
        if self.level == "lost":
            return "critical"
        if self.still_failing:
            return "high"
        if self.events_set_aside or self.level == "critical":
            return "medium"
        return "low" if self.torn_tail else "info"

    @property
    def code(self) -> str:
        return {"critical": codes.SESSION_CORRUPTED, "high": codes.STATE_VALIDATION_FAILED, "medium": codes.EVENTS_QUARANTINED,
                "low": codes.LOG_TORN_LINE, "info": codes.STATE_REPAIRED}[self.severity]

    def summary(self) -> str:
        """One plain line for the user: what was done, and where replaced bytes are."""
        if not self.repaired:
            return f"session {self.session_id}: healthy"
        text = f"session {self.session_id}: {self.level} repair: " + "; ".join(self.actions)
        if self.quarantined and self.level != "lost":  # "lost" says where in its own words
            text += f" (replaced bytes kept in {Path(self.quarantined[0]).parent})"
        if self.still_failing:
            text += "; still failing, marked for manual review: " + "; ".join(self.still_failing[:3])
        return text

    def incident(self, text: str | None = None) -> dict:
        """The repair as one incident: {"code", "severity", "text"} (what SessionStart reports)."""
        return {"code": self.code, "severity": self.severity, "text": text or self.summary()}

    def to_dict(self) -> dict:
        return asdict(self)


# -- validation ---------------------------------------------------------------------------


def structural_problems(state: object) -> list[str]:
    """A cheap stdlib check of the shape lifeguard's code relies on."""
    if not isinstance(state, dict):
        return ["the state is not a JSON object"]
    problems = [f"{name}: missing or not an object" for name in SECTIONS if not isinstance(state.get(name), dict)]
    version = state.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append("schema_version: missing or not a positive integer")
    checkpoint = (state.get("persistence") or {}).get("checkpoint") if isinstance(state.get("persistence"), dict) else None
    seq = checkpoint.get("sequence") if isinstance(checkpoint, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        problems.append("persistence.checkpoint.sequence: missing or not a non-negative integer")
    return problems


def validator(deep: bool) -> Callable[[object], list[str]]:
    if not deep:
        return structural_problems

    def validate(state: object) -> list[str]:
        from .schema import validate_state  # pydantic: cold paths only

        return structural_problems(state) or validate_state(state)

    return validate


# -- minor: in-place repairs ------------------------------------------------------------


def fill_defaults(state: dict, defaults: dict, path: str = "") -> list[str]:
    """Add missing keys from `defaults` (and replace a non-object where an object belongs)."""
    filled = []
    for key, default in defaults.items():
        where = f"{path}.{key}" if path else key
        if key not in state:
            state[key] = copy.deepcopy(default)
            filled.append(where)
        elif isinstance(default, dict):
            if not isinstance(state[key], dict):
                state[key] = copy.deepcopy(default)
                filled.append(where)
            else:
                filled.extend(fill_defaults(state[key], default, where))
    return filled


def parse_or_repair(raw: bytes) -> tuple[dict | None, list[str]]:
    """The state object in `raw` and what had to be fixed to get it (None if hopeless)."""
    try:
        obj = jsoncodec.loads(raw)
        if isinstance(obj, dict):
            return obj, []
    except (ValueError, RecursionError):
        pass
    obj = jsonrepair.repair(raw)
    if obj is None:
        return None, []
    return obj, ["repaired broken JSON in the state file (trailing commas / truncation)"]


# -- what the log says ------------------------------------------------------------------


class LogView:
    """One full read of a session's snapshot + event log (cold path: reads the whole log)."""

    def __init__(self, layout: Layout, session_id: str, reducers):
        self.path = layout.event_log(session_id)
        self.reducers = reducers
        self.snapshot_problem: str | None = None
        try:
            self.snapshot = logsnapshot.read(self.path)
        except logsnapshot.SnapshotDamaged as exc:
            self.snapshot, self.snapshot_problem = None, str(exc)
        self.report = eventlog.ReadReport()
        records = list(eventlog.iter_records(self.path, self.report))
        self.base = self.snapshot.seq if self.snapshot is not None else 0
        self.after = [r for r in records if r["seq"] > self.base]
        self.gaps: list[tuple[int, int]] = []  # (expected, found)
        expected = self.base + 1
        for record in self.after:
            if record["seq"] != expected:
                self.gaps.append((expected, record["seq"]))
            expected = record["seq"] + 1
        self.last_seq = self.after[-1]["seq"] if self.after else self.base
        self.has_anything = self.snapshot is not None or bool(records) or self.snapshot_problem is not None
        self.complete = not (self.report.damaged_lines or self.gaps or self.snapshot_problem)
        base_state = copy.deepcopy(self.snapshot.state) if self.snapshot is not None else None
        self.replay = reducer.replay(self.after, session_id, reducers, base_state)

    def problems(self) -> list[str]:
        out = []
        if self.snapshot_problem:
            out.append(f"log snapshot damaged: {self.snapshot_problem}")
        if self.report.damaged_lines:
            out.append(f"{len(self.report.damaged_lines)} damaged line(s) in the event log")
        if self.gaps:
            out.append(f"{len(self.gaps)} gap(s) in the event sequence (first: expected {self.gaps[0][0]}, "
                       f"found {self.gaps[0][1]})")
        return out

    def records_after(self, seq: int) -> list[dict]:
        return [r for r in self.after if r["seq"] > seq]


def catch_up(state: dict, log: LogView) -> int:
    """Apply the log's events newer than `state` when they follow on without a gap."""
    later = log.records_after(state_mod.sequence(state))
    if not later or later[0]["seq"] != state_mod.sequence(state) + 1:
        return 0
    for record in later:
        reducer.apply(state, record, log.reducers)
    return len(later)


# -- critical: saved states ---------------------------------------------------------------


def saved_states(layout: Layout, session_id: str):
    """(where, state) of this session in checkpoints, then full backups, newest first."""
    name = layout.session_file(session_id).name
    folders = [Path(m["path"]) for m in backup_mod.list_checkpoints(layout, session_id)]
    folders += [Path(m["path"]) for m in backup_mod.list_backups(layout)]
    for folder in folders:
        for candidate in (folder / name, folder / logsnapshot.path_for(layout.event_log(session_id)).name):
            try:
                data = fsutil.read_bytes_nofollow(candidate)
            except OSError:
                continue
            try:
                if candidate.name.endswith(".snapshot.json"):
                    yield f"{folder.name}/{candidate.name}", logsnapshot.decode(data).state
                else:
                    obj = jsoncodec.loads(data)
                    if isinstance(obj, dict):
                        yield f"{folder.name}/{candidate.name}", obj
            except (ValueError, RecursionError):
                continue


# -- the ladder -----------------------------------------------------------------------------


class _Outcome:
    def __init__(self, state: dict | None, level: str, actions: list[str], rebase: bool, partial: bool = False):
        self.state, self.level, self.actions, self.rebase = state, level, actions, rebase
        self.partial = partial  # recorded events or state could not all be carried over


def choose(layout: Layout, session_id: str, raw: bytes | None, log: LogView,
           validate: Callable[[object], list[str]]) -> _Outcome:
    """Walk the decision tree and pick the state to keep (no file is touched here)."""
    notes: list[str] = []
    if raw is not None:
        obj, fixes = parse_or_repair(raw)
        if obj is None:
            notes.append("the state file was unreadable")
        else:
            # without its own sequence number a repaired state can only be trusted if the log confirms it
            knows_seq = _has_sequence(obj)
            defaults = state_mod.default_state(session_id, _created_at(obj))
            filled = fill_defaults(obj, defaults)
            if filled:
                fixes.append("filled missing sections from the defaults: " + ", ".join(filled[:5]))
            catch_up(obj, log)  # a crash between append and snapshot is normal, not damage
            problems = validate(obj)
            seq = state_mod.sequence(obj)
            if problems:
                notes.append("the state file failed validation (" + "; ".join(problems[:2]) + ")")
            elif log.complete and log.replay is not None and seq == log.last_seq:
                if obj == log.replay:
                    return _Outcome(obj, "minor" if fixes else "none", fixes, False)
                notes.append("an in-place repair of the state file did not match the event log" if fixes
                             else "the state file disagreed with the event log")
            elif knows_seq and seq >= log.last_seq and (seq > 0 or not log.has_anything):
                if log.has_anything and not log.complete:
                    fixes.append("kept the state; the damaged event log was rebased on a snapshot")
                elif log.has_anything or seq > 0:
                    fixes.append("the event log was behind the state; rebased it on a snapshot")
                return _Outcome(obj, "minor" if fixes else "none", fixes, seq > 0 or log.has_anything)
    if log.complete and log.replay is not None and not validate(log.replay):
        notes.append(f"rebuilt the state by replaying the event log ({log.last_seq} events)")
        return _Outcome(log.replay, "major", notes, False)
    for where, saved in saved_states(layout, session_id):
        saved = copy.deepcopy(saved)
        if validate(saved):
            continue
        base = state_mod.sequence(saved)
        later = log.records_after(base)
        for record in later:
            reducer.apply(saved, record, log.reducers)
        if validate(saved):
            continue
        notes.append(f"restored the saved state {where} (event {base}) and replayed {len(later)} later event(s)")
        notes.extend(log.problems())
        return _Outcome(saved, "critical", notes, True, partial=True)
    if log.replay is not None and not validate(log.replay):
        notes.append(f"rebuilt the state from the good events of a damaged log ({len(log.after)} kept)")
        notes.extend(log.problems())
        return _Outcome(log.replay, "major", notes, True, partial=True)
    if raw is None and not log.has_anything:
        return _Outcome(None, "none", [], False)
    # nothing validates: keep a structurally sound state rather than start clean, and let the
    # final validation mark it for manual review
    if log.replay is not None and not structural_problems(log.replay):
        notes.append("kept the event log's replay although it fails validation")
        notes.extend(log.problems())
        return _Outcome(log.replay, "major", notes, not log.complete, partial=not log.complete)
    notes.append("nothing usable was left (no valid state, log or backup): started clean; data was lost")
    return _Outcome(None, "lost", notes, False)


def _has_sequence(obj: dict) -> bool:
    try:
        seq = obj["persistence"]["checkpoint"]["sequence"]
    except (KeyError, TypeError):
        return False
    return isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0


def _created_at(obj: dict) -> str:
    session = obj.get("session")
    value = session.get("created_at") if isinstance(session, dict) else None
    return value if isinstance(value, str) else ""


# -- applying the outcome -------------------------------------------------------------------


def _keep(report: RepairReport, layout: Layout, path: Path, reason: str, move: bool) -> None:
    """Put `path`'s bytes in quarantine (a copy, or the file itself when `move`)."""
    if move:
        target = fsutil.quarantine_file(layout.quarantine_dir, path, reason)
    else:
        try:
            data = fsutil.read_bytes_nofollow(path)
        except FileNotFoundError:
            return
        target = fsutil.quarantine(layout.quarantine_dir, path.name, data, reason)
    if target is not None:
        report.quarantined.append(str(target))


def _write(layout: Layout, session_id: str, outcome: _Outcome, raw: bytes | None, log: LogView,
           report: RepairReport) -> None:
    state_path = layout.session_file(session_id)
    snap_path = logsnapshot.path_for(log.path)
    why = f"replaced by a {outcome.level} repair"
    if outcome.level == "lost":
        for path in (state_path, snap_path, log.path):  # a clean start: everything aside
            _keep(report, layout, path, why, move=True)
        return
    assert outcome.state is not None
    if outcome.rebase:
        seq = state_mod.sequence(outcome.state)
        if snap_path.exists():
            _keep(report, layout, snap_path, why, move=False)
        logsnapshot.write(log.path, outcome.state, seq, session_id)  # durable before the log goes
        if log.path.exists():
            _keep(report, layout, log.path, f"event log rebased on a snapshot at event {seq}", move=True)
    if raw is not None:  # moved, not copied: until the new file lands, replay gives the chosen state
        _keep(report, layout, state_path, why, move=True)
    state_mod.save(state_path, outcome.state)


def _mark_for_review(layout: Layout, report: RepairReport) -> None:
    line = json.dumps({"session": report.session_id, "level": report.level, "problems": report.still_failing,
                       "quarantined": report.quarantined}, ensure_ascii=True) + "\n"
    fsutil.append_durable(layout.state_dir / "manual-review.jsonl", line.encode("ascii"))


def own_id(name: str, raw: bytes | None) -> str:
    """The session's own id, for a name read from its file names: a non-UUID id shows there only
    as its hash (paths.safe_name), so the id the state file records, if it is that one's;
    else the name (a state rebuilt without it records the name)."""
    try:
        recorded = state_mod.peek(jsoncodec.loads(raw or b"null"), "session").get("id")
    except ValueError:
        return name
    return recorded if isinstance(recorded, str) and safe_name(recorded) == name else name


def repair_locked(layout: Layout, session_id: str, deep: bool = True, backup_first: bool = True, *,
                  reducers) -> RepairReport:
    """Check and repair one session; the caller holds the session lock."""
    report = RepairReport(session_id)
    validate = validator(deep)
    log_path = layout.event_log(session_id)
    tail = eventlog.read_tail(log_path)
    if tail.good_end < tail.size:
        moved = eventlog.repair_tail(log_path, tail, layout.quarantine_dir)
        report.actions.append(f"moved {moved} bytes of an unfinished last line of the event log to quarantine")
        report.torn_tail = True
    state_path = layout.session_file(session_id)
    try:
        raw: bytes | None = fsutil.read_bytes_nofollow(state_path)
    except FileNotFoundError:
        raw = None
    own = own_id(session_id, raw)
    log = LogView(layout, own, reducers)
    outcome = choose(layout, own, raw, log, validate)
    if outcome.level == "none" and not outcome.rebase:
        if outcome.state is not None and raw is not None and state_mod.dump(outcome.state) != raw:
            state_mod.save(state_path, outcome.state)  # caught up with the log
        report.events_kept = log.last_seq
        return report
    if backup_first:
        try:
            report.backup = str(backup_mod.create_backup(layout, "pre-repair", reason=f"before repairing {session_id}"))
        except (OSError, ValueError) as exc:  # the originals still go to quarantine below
            report.actions.append(f"could not make the pre-repair backup ({exc})")
    report.level = outcome.level
    report.events_set_aside = outcome.partial
    report.actions.extend(outcome.actions)
    _write(layout, own, outcome, raw, log, report)
    if outcome.state is not None:
        report.events_kept = state_mod.sequence(outcome.state)
        report.still_failing = validate(state_mod.load(state_path))
    if report.level == "lost":
        where = layout.quarantine_dir
        report.actions.append(f"the replaced files are kept in {where}")
    if report.still_failing:
        _mark_for_review(layout, report)
    return report


def repair_session(layout: Layout, session_id: str, deep: bool = True, backup_first: bool = True,
                   lock_timeout: float = 5.0, *, reducers, lock=SessionLock) -> RepairReport:
    """Check and repair one session under its lock (LockTimeout if a hook holds it too long).
    `lock`: SessionLock in a hook's process (the sweep), core.toollock.ToolLock in the tools."""
    fsutil.ensure_private_dir(layout.state_dir)
    with lock(layout.lock_file(session_id), lock_timeout):
        return repair_locked(layout, session_id, deep, backup_first, reducers=reducers)


def session_ids(layout: Layout) -> list[str]:
    """Every session with a file in the state folder (by the id part of the file names). Files of
    older versions named after a plain id (`session-s1.json`) are left alone (`paths.reachable`)."""
    ids = set()
    try:
        names = os.listdir(layout.state_dir)
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith("session-") and name.endswith(".json"):
            ids.add(name[len("session-"):-len(".json")])
        elif name.startswith("events-") and name.endswith(".snapshot.json"):
            ids.add(name[len("events-"):-len(".snapshot.json")])
        elif name.startswith("events-") and name.endswith(".jsonl"):
            ids.add(name[len("events-"):-len(".jsonl")])
    return sorted(i for i in ids if reachable(i))


def repair_all(layout: Layout, deep: bool = True, skip: tuple[str, ...] = (), *, reducers) -> list[RepairReport]:
    """Repair every session in the folder; one pre-repair backup covers them all."""
    reports = []
    backed_up: str | None = None
    for session_id in session_ids(layout):
        if session_id in skip:
            continue
        report = repair_session(layout, session_id, deep, backup_first=backed_up is None, reducers=reducers)
        backed_up = backed_up or report.backup
        reports.append(report)
    return reports


def recover_unreadable(layout: Layout, session_id: str, problem: str, reducers) -> dict:
    """The store's hook: its state file would not load. Runs the ladder (cheap validation,
    no full-folder backup: the originals go to quarantine) and returns what was done as one
    incident ({"code", "severity", "text"}; see RepairReport.incident)."""
    report = repair_locked(layout, session_id, deep=False, backup_first=False, reducers=reducers)
    text = "; ".join([f"the state file was unreadable ({problem})"] + report.actions)
    if report.level != "none":
        text += f" ({report.level} repair)"  # telemetry counts repairs by level
    if report.quarantined and report.level != "lost":
        text += f" (the damaged copy is kept in {Path(report.quarantined[0]).parent})"
    return report.incident(text)
