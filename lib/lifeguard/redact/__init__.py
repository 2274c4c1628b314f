"""Secret redaction: patterns (what a secret looks like, name/value pairs), arguments (password
flags of command-line tools, passwords told in words), redactor (finds and replaces them, the
salted placeholders, the active redactor), user_patterns (the user's extra patterns, kept from
stalling a hook); nothing that looks like a secret reaches lifeguard's files.

May import: core."""
