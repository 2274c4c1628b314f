"""What every hook does: record the event, run the features' checks, answer Claude Code."""

from __future__ import annotations

import sys
import time
from types import MappingProxyType

from ..config import load as config_mod
from ..store import inflight
from . import protocol
from ..store import record as record_mod
from ..features import registry  # read as registry.FEATURES at each use: one list, patched in one place
from ..core.locking import LockTimeout
from ..core.paths import Layout
from ..store.session import SessionStore
from ..telemetry import samples
from ..alerts import codes

# What of a notice goes into the log besides its code, kind and message: the loop rule that
# fired, and for a threshold alert the measure, its value, level and severity (the level is
# what features/metrics.py folds back, so an alert is raised once per crossing).
SUMMARY_FIELDS = ("rule", "metric", "value", "level")  # severity: always, see _summary


def prepare(event: str, inp: dict, layout: Layout) -> tuple:
    """(config, event record) for one invocation; also how the runner keeps the event of a
    hook that ran out of time before it got this far."""
    inflight.attempt()
    cfg = config_mod.load(layout)
    record_mod.configure(cfg, layout)  # redaction: settings and the workspace's salt
    record = record_mod.build(event, inp)
    built = set(record)
    for feature in registry.FEATURES:
        fn = getattr(feature, "annotate", None)
        if fn is not None:
            fn(inp, record, cfg)
    record_mod.scrub_added(record, built)  # annotations come from the raw input
    return cfg, record


def handle(event: str, inp: dict, layout: Layout) -> dict:
    samples.NOTE["h0"] = time.monotonic()  # lifeguard's own work starts here (imports are done)
    session_id = inp.get("session_id") or "unknown"
    cfg, record = prepare(event, inp, layout)
    store = SessionStore(layout, session_id, cfg["locks"]["timeout_seconds"], reducers=registry.FEATURES)
    inflight.hold(record)  # if the deadline strikes before the commit, the runner spools it
    samples.NOTE["telemetry"] = cfg.get("telemetry")  # for the runner, once the answer is out
    notices: list[dict] = []
    checked = committed = False
    asked = time.monotonic()
    try:
        with store.transaction() as txn:
            samples.NOTE["q"] = round((time.monotonic() - asked) * 1000, 2)  # the state query
            notices.extend(_checks(txn.state, record, cfg))
            checked = True
            notices.extend(repair_notice(repair) for repair in txn.repairs)
            if event == "SessionStart":
                notices.extend(_config_notices(cfg))
            if event in ("Stop", "SubagentStop") and inp.get("stop_hook_active"):
                notices = [_no_block(n) for n in notices]  # a stop already sent back once is let go
            if notices:
                record["notices"] = [_summary(n) for n in notices]
            txn.commit(record)
            committed = True
            notices.extend(_after_commit(txn, record, cfg, layout))
    except LockTimeout as exc:
        from . import degraded

        samples.NOTE.setdefault("q", round((time.monotonic() - asked) * 1000, 2))
        if not checked:  # still decide (refuse a loop, say), from the state as it can be read unlocked
            notices.extend(_checks(degraded.readonly_state(layout, session_id), record, cfg))
            if notices:
                record["notices"] = [_summary(n) for n in notices]
        # why this event came late goes with it into the log (an incident once drained)
        record.setdefault("notices", []).append({"code": codes.SESSION_LOCKED, "kind": "fault", "message": str(exc)[:300]})
        store.spool(record)
        sys.stderr.write(f"lifeguard: {exc}; event kept in the spool for the next hook\n")
    except OSError as exc:  # disk full, read-only, permission denied: memory-only for this hook
        from . import degraded

        if not degraded.is_persistence_error(exc):
            raise
        if not checked:  # decide from a read-only view of the state, as if nothing happened
            notices.extend(_checks(degraded.readonly_state(layout, session_id), record, cfg))
        said, note = degraded.fallback(layout, store, session_id, record, exc, committed)
        if note is not None:
            notices.append(note)
        sys.stderr.write(f"lifeguard: {said} ({degraded.describe(exc)})\n")
    return protocol.build_output(event, notices)


def _after_commit(txn, record: dict, cfg, layout: Layout) -> list[dict]:
    """Every feature's after-commit work. Notices it produces (a repair at session start, a
    full disk) are incidents too: they go into the log in a follow-up record, and alerts
    escalate them like the ones decided before the commit. A code this event already
    recorded is the same incident told again (e.g. to the model as well), not a new one."""
    from ..alerts import step as alerts

    notices = list(alerts.after_commit(txn, record, cfg, layout))  # this event's own notices
    later: list[dict] = []
    seen = {(n.get("code"), n.get("metric")) for n in record.get("notices") or ()}
    for feature in registry.FEATURES:
        fn = getattr(feature, "after_commit", None)
        if fn is not None:
            produced = list(fn(txn, record, cfg, layout) or ())
            notices.extend(produced)
            later.extend(n for n in produced if n.get("code") and (n["code"], n.get("metric")) not in seen)
            seen.update((n.get("code"), n.get("metric")) for n in produced)
    if later:
        follow_up = {"event": "LifeguardNotices", "for_seq": txn.last_seq, "notices": [_summary(n) for n in later]}
        txn.commit(follow_up)
        notices.extend(alerts.after_commit(txn, follow_up, cfg, layout))
    return notices


def _checks(state: dict, record: dict, cfg) -> list[dict]:
    """Every feature's check on this record, in feature order: its notices, returned, and what the
    state must remember of its decisions, written here and only here, under
    `record["decisions"][feature.NAME]`, for its reducer. Checks get a read-only view of the
    record; what annotate left for them alone (`record["scratch"]`) leaves the record after them."""
    notices: list[dict] = []
    decisions: dict = {}
    view = MappingProxyType(record)
    for feature in registry.FEATURES:
        fn = getattr(feature, "check", None)
        if fn is not None:
            found, decided = fn(state, view, cfg)
            notices.extend(found)
            if decided:
                decisions[feature.NAME] = decided
    record.pop(record_mod.SCRATCH, None)
    if decisions:
        record[record_mod.DECISIONS] = decisions
    return notices


def _no_block(notice: dict) -> dict:
    """A Stop block turned into a note for the user: blocking again could loop forever."""
    if notice.get("kind") != "block":
        return notice
    text = notice.get("user") or f"lifeguard: did not send the agent back again ({notice.get('model', '')[:200]})"
    return {**notice, "kind": "user", "user": text}


def _summary(notice: dict) -> dict:
    """What of a notice goes into the log (the incident record): its code, its severity (the
    notice's own, else its code's; docs/severity.md), its text cut between words, and the fields
    a feature reads back (SUMMARY_FIELDS)."""
    from ..alerts.codes import severity_of
    from ..alerts.render import cut

    text = notice.get("model") or notice.get("user") or notice.get("message") or ""
    out = {"code": notice.get("code", "?"), "severity": severity_of(notice), "kind": notice.get("kind", "?"),
           "message": cut(record_mod.scrub(text[:1300]), 300)}
    out.update((key, notice[key]) for key in SUMMARY_FIELDS if key in notice)
    return out


def repair_notice(repair: dict) -> dict:
    """A repair made while loading the state ({"code", "severity", "text"}), for the user only:
    lifeguard's own bookkeeping never changes what the model should do next."""
    lead = ("lifeguard repaired this session's state, nothing lost" if repair["code"] == codes.STATE_REPAIRED
            else "lifeguard")
    return {"code": repair["code"], "severity": repair["severity"], "kind": "user", "user": f"{lead}: {repair['text']}"}


def _config_notices(cfg) -> list[dict]:
    """At session start: what is wrong in lifeguard.json (CONFIG_INVALID: a value, its default used;
    CONFIG_CORRUPTED: the whole file, every default used), and features LIFEGUARD_SKIP turned off."""
    from ..config.switch import SKIP_ENV, skipped

    notices = []
    if cfg.problems:
        code = codes.CONFIG_CORRUPTED if cfg.unreadable else codes.CONFIG_INVALID
        notices.append({"code": code, "kind": "user", "user": "lifeguard: " + "; ".join(cfg.problems[:3])})
    names = skipped()[0]
    if names:
        notices.append({"code": codes.FEATURES_OFF, "kind": "user",
                        "user": f"lifeguard: {', '.join(names)} turned off by {SKIP_ENV}"})
    return notices
