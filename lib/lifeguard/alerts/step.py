"""The alerts step of a hook: turns the notices a hook produced into alerts and escalates them.

Not a feature (it neither annotates, decides nor reduces): the pipeline runs it after the
commit, before the features' own after-commit work, and again on the follow-up record of the
notices that work produced. It runs after the record (with its notices) is committed, so the session state's incident
ring already holds this event's incidents when the emergency-stop rule counts them. Events
without notices, the common case, cost one dict lookup.
"""

from __future__ import annotations


def after_commit(txn, record: dict, cfg: dict, layout) -> list[dict]:
    notices = record.get("notices")
    if not notices:
        return []
    section = cfg.get("alerts") or {}
    if not section.get("enabled", True):
        return []
    from . import escalation as alerts  # only when there is something to escalate

    # commit() stamped its own copy of the record; the state holds its seq and time
    lifecycle = (txn.state.get("session") or {}).get("lifecycle") or {}
    committed = {**record, "seq": txn.last_seq, "ts": record.get("ts") or lifecycle.get("last_activity")}
    return alerts.escalate(notices, txn.state, committed, section, layout, txn.store.session_id)
