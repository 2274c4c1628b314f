"""What every hook does: record the event, run the features' checks, answer Claude Code."""

from __future__ import annotations

import sys

from . import config as config_mod
from . import protocol, record as record_mod
from .features import FEATURES
from .locking import LockTimeout
from .paths import Layout
from .store import SessionStore


def handle(event: str, inp: dict, layout: Layout) -> dict:
    session_id = inp.get("session_id") or "unknown"
    cfg = config_mod.load(layout)
    record = record_mod.build(event, inp)
    for feature in FEATURES:
        fn = getattr(feature, "annotate", None)
        if fn is not None:
            fn(inp, record, cfg)
    store = SessionStore(layout, session_id, cfg["locks"]["timeout_seconds"])
    notices: list[dict] = []
    try:
        with store.transaction() as txn:
            for feature in FEATURES:
                fn = getattr(feature, "check", None)
                if fn is not None:
                    notices.extend(fn(txn.state, record, cfg) or ())
            if txn.repairs:
                notices.append(_repair_notice(txn.repairs, layout))
            if event == "SessionStart" and cfg.problems:
                notices.append({"code": "CONFIG_CORRUPTED", "kind": "user",
                                "user": "lifeguard: " + "; ".join(cfg.problems[:3])})
            if notices:
                record["notices"] = [_summary(n) for n in notices]
            txn.commit(record)
            for feature in FEATURES:
                fn = getattr(feature, "after_commit", None)
                if fn is not None:
                    notices.extend(fn(txn, record, cfg, layout) or ())
    except LockTimeout as exc:
        store.spool(record)
        sys.stderr.write(f"lifeguard: {exc}; event kept in the spool for the next hook\n")
    return protocol.build_output(event, notices)


def _summary(notice: dict) -> dict:
    """What of a notice goes into the log (the incident record)."""
    text = notice.get("model") or notice.get("user") or ""
    return {"code": notice.get("code", "?"), "kind": notice.get("kind", "?"), "message": text[:300]}


def _repair_notice(repairs: list[str], layout: Layout) -> dict:
    where = layout.quarantine_dir
    text = "lifeguard repaired its session state: " + "; ".join(repairs) + f" (originals kept in {where})"
    return {"code": "SESSION_CORRUPTED", "kind": "user", "user": text}
