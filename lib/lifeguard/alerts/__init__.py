"""Alerts: codes (the error codes and their severity), templates (what the user reads, per code),
render (a template filled with this workspace's commands: a block or a line), escalation
(notices -> alerts, emergency stop), step (the pipeline's escalation step after the commit).

May import: core, redact, config, store (record: scrubbing), upkeep (lazily).
"""
