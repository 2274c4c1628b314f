"""Alerts: codes (the error codes and their severity), templates (what the user reads),
escalation (notices -> alerts, emergency stop), feature (escalation after the commit).

May import: core, redact, store, upkeep."""
