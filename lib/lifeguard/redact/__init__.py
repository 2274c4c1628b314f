"""Secret redaction (redactor): nothing that looks like a secret reaches lifeguard's files.

May import: core."""
