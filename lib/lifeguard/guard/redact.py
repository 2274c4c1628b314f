"""The command as lifeguard may store it: secrets in it masked, length bounded.

Commands in settings.json sometimes carry credentials (`TOKEN=... cmd`, `--password x`,
`https://user:pass@host`). Only this redacted form is ever recorded; the record's own
scrubbers (`record.scrub`) run on top.
"""

from __future__ import annotations

import re

MASK = "[redacted]"
_SECRET_WORD = r"(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|access[_-]?key|auth|credential|private[_-]?key)"
_ASSIGNMENT = re.compile(rf"\b([A-Za-z_][A-Za-z0-9_]*{_SECRET_WORD}[A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S+)", re.I)
_OPTION = re.compile(rf"(--?[A-Za-z0-9-]*{_SECRET_WORD}[A-Za-z0-9-]*)([= ])(\"[^\"]*\"|'[^']*'|\S+)", re.I)
_URL_CREDENTIALS = re.compile(r"(://)[^/\s:@]+:[^/\s@]+@")
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.I)
_KNOWN_TOKENS = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|xox[abprs]-[A-Za-z0-9-]{8,}|AKIA[0-9A-Z]{16})")
MAX_LEN = 300


def mask_assignments(text: str) -> str:
    return _ASSIGNMENT.sub(lambda m: f"{m.group(1)}={MASK}", text)


def mask_options(text: str) -> str:
    return _OPTION.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def mask_url_credentials(text: str) -> str:
    return _URL_CREDENTIALS.sub(rf"\1{MASK}@", text)


def mask_tokens(text: str) -> str:
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KNOWN_TOKENS.sub(MASK, text)


def redact_command(text: str) -> str:
    for rule in (mask_assignments, mask_options, mask_url_credentials, mask_tokens):
        text = rule(text)
    return text if len(text) <= MAX_LEN else text[:MAX_LEN] + f"...[{len(text)} chars]"
