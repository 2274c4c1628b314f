"""What a secret looks like: the token formats (each with its trigger words), the words that
announce a secret by its position (`name=value`, `Bearer ...`, `user:password@`), the names
that mark a value as secret, and the compiled, trie-shaped trigger scan. `redactor` uses them.

Stdlib only (hot path); every regex is compiled on first use (LazyRegex, `compiled()`).
"""

from __future__ import annotations

import re

from ..core.lazyregex import LazyRegex
from . import arguments
TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Callable, Iterable

# -- token formats -------------------------------------------------------------------------
# (kind, triggers, regex, check). Each regex matches starting at one of its triggers (matched
# case-insensitively by the scan, exactly by the regex). The secret is group `s` if the regex
# has one, else the whole match. `check`, if any, must accept the secret. No trailing word
# boundaries: a token glued to more text is still redacted (with the text glued to it).
TOKEN_FORMATS: list[tuple[str, tuple[str, ...], str, Callable[[str], bool] | None]] = [
    ("private-key", ("-----begin",), r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                                     r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)", None),
    ("aws-access-key", ("akia", "asia", "abia", "acca"),
     r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}", None),
    ("gcp-api-key", ("aiza",), r"AIza[0-9A-Za-z_-]{35}", None),
    ("azure-key", ("accountkey=", "sharedaccesskey=", "sharedaccesssignature="),
     r"(?:AccountKey|SharedAccessKey|SharedAccessSignature)=(?P<s>[^;\"'\s]{8,})", None),
    ("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,255}", None),
    ("github-token", ("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,255}", None),
    ("gitlab-token", ("glpat-",), r"glpat-[A-Za-z0-9_-]{20,}", None),
    ("slack-token", ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"), r"xox[abposr]-[A-Za-z0-9-]{10,}", None),
    ("slack-webhook", ("hooks.slack.com/",), r"hooks\.slack\.com/services/(?P<s>[A-Za-z0-9_/-]{20,})", None),
    ("stripe-key", ("sk_live_", "rk_live_", "sk_test_", "rk_test_"),
     r"(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{10,}", None),
    # OpenAI / Anthropic style; the lookbehind keeps "task-..." or "disk-..." out
    ("api-key", ("sk-",), r"(?<![A-Za-z0-9_-])sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
     lambda v: any(c.isdigit() for c in v) and any(c.isalpha() for c in v[3:])),
    ("npm-token", ("npm_",), r"npm_[A-Za-z0-9]{36}", None),
    ("pypi-token", ("pypi-age",), r"pypi-AgE[A-Za-z0-9_-]{50,}", None),
    ("huggingface-token", ("hf_",), r"hf_[A-Za-z0-9]{34,}", None),
    ("sendgrid-key", ("sg.",), r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", None),
    ("jwt", ("eyj",), r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", None),
]

# -- secrets known by their position ---------------------------------------------------------
# (with arguments.FLAGS, the password flags of command-line tools, and "pass:", openssl's password source)
POSITION_WORDS = ("://", "bearer", "basic", "--user", "-u", "token", "secret", "passw", "pass", "pwd", "key",
                  "credential", "auth", "signature", "sig", "cookie", "pass:", *arguments.FLAGS)
URL_TAIL = LazyRegex(r"[^\s/:@\"'<>]*:(?P<s>[^\s/@\"'<>]+)@")  # after "://": user:password@
HDR_TAIL = LazyRegex(r"[ \t]+(?P<s>[a-z0-9._~+/=-]{8,})")  # after Bearer / Basic
USER_TAIL = LazyRegex(r"[ \t]+[\"']?[^\s:%\"']+[:%](?P<s>[^\s\"'@]+)")  # curl -u user:PW, smbclient -U user%PW
PASS_SOURCE = LazyRegex(r"\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)'|(?P<bare>[^\s\"'`;&|<>()]+)")  # after pass:
NAME_REST = LazyRegex(r"[a-z0-9_.-]*")
# after a secret-looking name: `=v`, `: v`, `": "v"`, ` v` (flags only), optional auth scheme
KV_TAIL = LazyRegex(
    r"\\?[\"']?(?P<sep>[ \t]*[:=][ \t]*|[ \t]+)(?P<scheme>(?:bearer|basic)[ \t]+)?"
    r"(?:\\?\"(?P<dq>(?:[^\"\\\n]|\\[^\"\n])*)\\?\"|'(?P<sq>[^'\n]*)'|(?P<bare>(?!=)[^\s\"'`&;|<>()]+))"
)
# after a quoted name: `", "VAL"` (list or tuple form) or `", "value": "VAL"` (HAR, Kubernetes env)
PAIR_TAIL = LazyRegex(
    r"\\?[\"'][ \t]*,[ \t]*(?:\\?[\"'](?:value|val)\\?[\"'][ \t]*:[ \t]*)?"
    r"(?:\\?\"(?P<dq>(?:[^\"\\\n]|\\[^\"\n])*)\\?\"|'(?P<sq>[^'\n]*)')"
)
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
SEP_FIRST = frozenset("\\\"' \t:=")  # what can follow a name in `name=value` and friends
NOT_AUTH = LazyRegex(r"or(?:s|ed|ing|ship)?(?![a-z])")  # "author", not "authorization"
PLAIN_WORD = LazyRegex(r"[A-Z]?[a-z]+")  # "Basic Configuration" is not a credential

# Names: strong ones redact any real value, token/auth spare plain words and small numbers,
# the rest (key, signature, cookie) redact only high-entropy values.
_STRONG = ("passw", "passphrase", "passcode", "pwd", "secret", "private_key", "private-key", "privatekey", "credential",
           "api_key", "api-key", "apikey", "access_key", "access-key", "accesskey")
_MEDIUM = ("token", "auth")
NAME_WORDS = ("token", "secret", "pass", "pwd", "key", "credential", "auth", "signature", "sig", "cookie")
NAME_RX = LazyRegex("|".join(NAME_WORDS), re.IGNORECASE)
# `pass` or `pin` as a whole name or its last part (DB_PASS, smtp.pass, storepass, card_pin), not bypass or spinner
PASS_NAME = LazyRegex(r"-*(?:[a-z0-9]*[_.-])?(?:pass|pin|pincode)|[a-z]*(?:store|key)pass")
PASS_ENDS = ("pass", "pin", "pincode")  # how every name PASS_NAME takes ends
TOLD = frozenset(("password", "passwords", "passwd", "passphrase", "passcode"))  # words a password is told after
TRIVIAL = LazyRegex(
    r"(?:true|false|null|none|nil|yes|no|on|off|required|optional|str|string|bytes|int|bool|"
    r"number|boolean|any|object|dict|list|\*+|x+|\.\.\.|-|changeme|\[?redacted\]?|example)"
    r"|[$%][\w{(].*|<[^>]*>|\{\{?[^}]*\}\}?|\[REDACTED:.*",
    re.IGNORECASE,
)
_PATH_NAMES = frozenset({"pwd", "oldpwd"})  # the shell's working folder, not a password


class Compiled:
    """The trigger scan, built on first use; each token format's regex is compiled the first time
    one of its trigger words asks for it: most text triggers none."""

    def __init__(self) -> None:
        self.formats = [LazyRegex(body) for _, _, body, _ in TOKEN_FORMATS]
        self.by_trigger: dict[str, list[int]] = {}
        for i, (_, triggers, _, _) in enumerate(TOKEN_FORMATS):
            for trigger in triggers:
                self.by_trigger.setdefault(trigger, []).append(i)
        self.triggers = re.compile(_trie_regex(set(self.by_trigger) | set(POSITION_WORDS)))


def _trie_regex(words: Iterable[str]) -> str:
    """One regex matching any of `words`, shaped as a trie (the longest word wins at a position):
    at each position the engine tries one branch per first character, not one per word."""
    words, trie = list(words), {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    escaped = {ch: re.escape(ch) for ch in set("".join(words))}  # once per character, not per node: 0.2 ms

    def build(node: dict) -> str:
        alts = [escaped[ch] + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not alts:
            return ""
        if len(alts) == 1 and "" not in node:
            return alts[0]
        return "(?:" + "|".join(alts) + ")" + ("?" if "" in node else "")

    return build(trie)


_compiled: Compiled | None = None
PLACEHOLDER_RX = LazyRegex(r"(\[REDACTED:[a-z0-9-]+:[0-9a-f]+\])")


def compiled() -> Compiled:
    global _compiled
    if _compiled is None:
        _compiled = Compiled()
    return _compiled


def lower(text: str) -> str:
    """`text` lowered with every character kept at its index (str.lower can grow a few)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    from math import log2  # only for a value under a generic name (`key=...`): math is a hook's cost otherwise

    n = len(text)
    return -sum(c / n * log2(c / n) for c in counts.values())


def high_entropy(value: str) -> bool:
    """Looks machine-generated: long, letters and digits mixed, varied characters."""
    return (len(value) >= 16 and entropy(value) >= 3.3 and any(c.isdigit() for c in value)
            and any(c.isalpha() for c in value))


def token_kind(value: str) -> str | None:
    """The kind of a value that is, as a whole, one of the known token formats."""
    pats = compiled()
    low = lower(value[:20])
    for trigger, indexes in pats.by_trigger.items():
        if low.startswith(trigger):
            for i in indexes:
                m = pats.formats[i].match(value)
                if m and m.end() == len(value):
                    return TOKEN_FORMATS[i][0]
    return None


def name_kind(name: str, value: str) -> str | None:
    """The kind of secret `value` is, given the name it is assigned to; None if not a secret.

    Strong names (password, secret, api_key, ...) redact any real value; token/auth names
    spare small numbers and plain words (max_tokens=4096, auth=oauth); generic names (key,
    signature, cookie) redact only high-entropy values.
    """
    low = name.lower().lstrip("-")
    if not value or low in _PATH_NAMES or TRIVIAL.fullmatch(value):
        return None
    specific = token_kind(value)
    if specific:
        return specific
    if any(k in low for k in _STRONG) or pass_name(low):
        if "aws" in low and "secret" in low:
            return "aws-secret-key"
        return "password" if ("pass" in low or "pwd" in low) else "secret"
    if any(k in low for k in _MEDIUM):
        if re.fullmatch(r"[a-z]{1,12}|\d{1,9}", value):
            return None
        return "token"
    return "secret" if high_entropy(value) else None


def secret_name(name: str) -> bool:
    """Whether `name` (a key, a header's name) may mark its value as a secret (see name_kind).

    Every key of every event comes here, and most are plain ASCII words that name no secret:
    those are decided without a regex, which a hook in its own process would compile first
    (1 ms). For ASCII, NAME_RX's IGNORECASE search is a search of the lowered name; beyond
    ASCII it also folds other letters (ſ is s, the Kelvin sign k), so the regex decides."""
    low = name.lower()
    if name.isascii():
        named = any(word in low for word in NAME_WORDS)
    else:
        named = NAME_RX.search(name) is not None
    return named or pass_name(low)


def pass_name(low: str) -> bool:
    """PASS_NAME.fullmatch(low), its regex compiled only for a name that ends as it must."""
    return low.endswith(PASS_ENDS) and PASS_NAME.fullmatch(low) is not None


def is_scalar(obj: object) -> bool:
    """A string or a number (not a bool): what a secret can be stored as."""
    return isinstance(obj, (str, int, float)) and not isinstance(obj, bool)


_PAIR_NAMES = ("name", "Name", "key", "Key", "header", "Header", "field")
_PAIR_VALUES = ("value", "Value", "val")
_PAIR_NAME = LazyRegex(r"[A-Za-z0-9_.-]{1,100}")


def pair(obj: object, under: str | None = None) -> tuple[str, object] | None:
    """(name, where its value is) when `obj` is a name/value pair in one of its usual shapes:
    `["X-Auth", "VAL"]` (list-form headers, tuples) -> ("X-Auth", 1); `{"name": "X-Auth",
    "value": "VAL"}` (HAR, Kubernetes env, Postman's key/value) -> ("X-Auth", "value").
    Not when the container itself is stored under a secret-looking name `under`
    (`"passwords": ["a", "b"]`): then every item is that secret's."""
    if under is not None and secret_name(under):
        return None
    if isinstance(obj, (list, tuple)):
        if len(obj) == 2 and isinstance(obj[0], str) and _PAIR_NAME.fullmatch(obj[0]) and is_scalar(obj[1]):
            return obj[0], 1
        return None
    if isinstance(obj, dict) and 2 <= len(obj) <= 4:
        name = next((obj[k] for k in _PAIR_NAMES if isinstance(obj.get(k), str)), None)
        where = next((k for k in _PAIR_VALUES if k in obj), None)
        if name is not None and where is not None:
            return name, where
    return None
