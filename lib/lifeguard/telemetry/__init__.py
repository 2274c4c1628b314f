"""Telemetry: samples (what each hook cost, written after its answer), measures (what is counted
and timed, one definition for `stats` and the export), trigger (when a hook starts the exporter),
export (the OpenTelemetry exporter: its own process, never a hook's).

May import: core, config, store, redact, alerts.codes. samples and trigger are stdlib only (hot path).
"""
