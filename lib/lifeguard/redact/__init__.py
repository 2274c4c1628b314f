"""Secret redaction: patterns (what a secret looks like), redactor (finds and replaces them, the
salted placeholders, the active redactor); nothing that looks like a secret reaches lifeguard's files.

May import: core."""
