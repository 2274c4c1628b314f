"""Telemetry: samples (what each hook cost, written after its answer), measures (what is counted
and timed, one definition for `stats` and the export).

May import: core, config, store, redact, alerts.codes. samples is stdlib only (hot path).
"""
