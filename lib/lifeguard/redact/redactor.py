"""Secret redaction: what looks like a secret never reaches lifeguard's files.

Every string an event record keeps passes through here first (record.SCRUBBERS):
- token formats that announce themselves (AKIA..., ghp_..., glpat-..., xoxb-..., sk-...,
  eyJ...eyJ..., -----BEGIN ... PRIVATE KEY----- blocks, AccountKey=...);
- secrets known by their position: `name=value`, `name: value`, `"name": "value"`,
  `--name value`, `--name=value` for names like password, secret, token, api_key, auth (and,
  for generic names like `key` or `signature`, only high-entropy values), `Authorization:
  Bearer/Basic ...`, `scheme://user:password@host`, `curl -u user:password`,
  `smbclient -U user%password`, `pass:password` (openssl), a header pair written out
  (`["X-Auth", "v"]`, `{"name": "X-Auth", "value": "v"}`);
- password flags of command-line tools and passwords told in words (arguments.py);
- in structured data (`value`, and record.summarize through `field` and `patterns.pair`): a
  value under a password-like name whatever its type (`"pin": 1234`), the items of a list
  under one, and name/value pairs in any shape;
- the user's extra patterns (config `redaction.extra_patterns`, kept in bounds by user_patterns.py).

A secret becomes `[REDACTED:<kind>:<tag>]`, the tag a short HMAC of the secret keyed by a
per-workspace salt (`state/redact.salt`): the same secret always gives the same placeholder,
so loop detection still sees a repeated command, and guesses cannot be tested against the log
without the salt. Literal strings in `redaction.allow` are never redacted.

Cost: one regex scan of the lowered text for trigger words (a literal alternation, so the
engine skips ahead by first character), then a small anchored match at each hit. Only the
stdlib at module level (hot path); the salt file is read only when something is redacted.
"""

from __future__ import annotations

import os
import re
import sys
import time
TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping

from ..core import fsutil
from . import arguments
from . import patterns as p

PREFIX = "[REDACTED:"
SALT_FILE = "redact.salt"
SALT_BYTES = 32
TAG_HEX = 8

Hit = tuple[int, int, "str | None"]  # (start, end, placeholder or None: nothing to replace)
_extra_cache: dict[str, re.Pattern] = {}


class Redactor:
    """One configuration of redaction: on/off, extra patterns, allow list, salt."""

    def __init__(self, enabled: bool = True, extra_patterns: Iterable[str] = (), allow: Iterable[str] = (),
                 state_dir: str | os.PathLike | None = None, quarantine_dir: str | os.PathLike | None = None):
        self.enabled = enabled
        self.allow = frozenset(a for a in allow if isinstance(a, str) and a)
        self.state_dir = state_dir
        self.quarantine_dir = quarantine_dir
        self.problems: list[str] = []
        self.settings: tuple = ()  # what configure() built this from
        self._salt: bytes | None = None
        self._extra = self._compile_extra(list(extra_patterns))

    def _compile_extra(self, patterns: list) -> list[re.Pattern]:
        if not patterns:
            return []
        from . import user_patterns  # only with extra patterns (most configs have none): one module less per hook

        good = []
        for i, pattern in enumerate(patterns):
            problem = user_patterns.problem(pattern)
            if problem:
                self.problems.append(f"redaction.extra_patterns[{i}]: {problem}; pattern ignored")
                continue
            rx = _extra_cache.get(pattern)
            if rx is None:
                rx = _extra_cache[pattern] = re.compile(pattern)
            good.append(rx)
        return good

    # -- placeholders ----------------------------------------------------------------------

    @property
    def salt(self) -> bytes:
        if self._salt is None:
            self._salt, problem = load_salt(self.state_dir, self.quarantine_dir)
            if problem:
                self.problems.append(problem)
                _warn_once(problem)
        return self._salt

    def tag(self, secret: str) -> str:
        data = secret.encode("utf-8", "surrogatepass")
        import hashlib  # only when something is redacted
        import hmac

        return hmac.new(self.salt, data, hashlib.sha256).hexdigest()[:TAG_HEX]

    def placeholder(self, kind: str, secret: str) -> str:
        return f"{PREFIX}{kind}:{self.tag(secret)}]"

    def _keep(self, secret: str) -> bool:
        return not secret or secret in self.allow or secret.startswith(PREFIX)

    # -- the public operations -------------------------------------------------------------

    def text(self, text: str) -> str:
        """`text` with every secret replaced by its placeholder."""
        if not self.enabled or len(text) < 8:
            return text
        text = self._scan(text)
        if self._extra:
            text = self._extra_pass(text)
        return text

    def field(self, name: str, value: str | int | float) -> str | int | float:
        """A value stored under `name` (a dict key, a header's name): redacted whole if the name
        says secret, whatever its type (`"pin": 1234` too); other strings are scanned."""
        if not self.enabled:
            return value
        number = not isinstance(value, str)
        raw = repr(value) if number else value
        kind = p.name_kind(name, raw) if p.secret_name(name) else None
        if kind and not self._keep(raw):
            return self.placeholder(kind, raw)
        return value if number else self.text(value)

    def value(self, obj: Any, by_name: bool = True, name: str | None = None) -> Any:
        """A copy of `obj` (JSON-like data) with every string scrubbed, keys included; with
        `by_name`, a value under a secret-looking name (`"password": ...`, a header pair) is
        redacted whole. `name`: the key `obj` is stored under (list items inherit it)."""
        if name is not None and by_name and p.is_scalar(obj):
            return self.field(name, obj)
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            named = p.pair(obj, name)
            out = {}
            for key, item in obj.items():
                if isinstance(key, str):
                    key_name = named[0] if named and key == named[1] else key
                    out[self.text(key)] = self.value(item, by_name, key_name)
                else:
                    out[key] = self.value(item, by_name)
            return out
        if isinstance(obj, (list, tuple)):
            named = p.pair(obj, name)
            if named:
                return [self.text(obj[0]), self.value(obj[1], by_name, named[0])]
            return [self.value(item, by_name, name) for item in obj]
        return obj

    # -- the scan --------------------------------------------------------------------------

    def _scan(self, text: str) -> str:
        """Find trigger words in the lowered text, check each hit, splice placeholders in."""
        pats = p.compiled()
        low = p.lower(text)
        search = pats.triggers.search
        pieces: list[str] = []
        done = pos = 0  # text[:done] is in pieces; scanning resumes at pos
        while (hit := search(low, pos)) is not None:
            found = self._hit(text, low, hit, pats)
            if found is None:
                pos = hit.start() + 1
                continue
            start, end, replacement = found
            if replacement is not None and start >= done:
                pieces.append(text[done:start])
                pieces.append(replacement)
                done = end
            pos = max(end, hit.start() + 1)
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)

    def _hit(self, text: str, low: str, hit: re.Match, pats: p.Compiled) -> Hit | None:
        word, at = hit.group(), hit.start()
        for i in pats.by_trigger.get(word, ()):
            found = self._token_at(text, at, i, pats)
            if found is not None:
                return found
        if word in pats.by_trigger and word not in p.POSITION_WORDS:
            return None
        before = low[at - 1] if at else " "
        if word in arguments.FLAGS:
            span = arguments.flag_secret(text, at)
            return None if span is None else self._secret_at(text, *span, "password")
        if word == "pass:":
            return self._pass_source(text, hit.end(), before) if at else None
        if word == "://":
            return self._tail_secret(text, p.URL_TAIL.match(low, hit.end()), "url-password")
        if word in ("bearer", "basic"):
            if before.isalnum():
                return None
            found = self._tail_secret(text, p.HDR_TAIL.match(low, hit.end()), "auth-header")
            if found and p.PLAIN_WORD.fullmatch(text[found[0]:found[1]]):
                return None
            return found
        if word in ("-u", "--user"):
            if before.isalnum() or before in "_-":
                return None
            return self._tail_secret(text, p.USER_TAIL.match(low, hit.end()), "password")
        return self._name_value(text, low, hit)

    def _token_at(self, text: str, at: int, i: int, pats: p.Compiled) -> Hit | None:
        m = pats.formats[i].match(text, at)
        if m is None:
            return None
        kind, _, _, check = p.TOKEN_FORMATS[i]
        group = "s" if "s" in m.re.groupindex else 0
        secret = m.group(group)
        if self._keep(secret) or m.group(0) in self.allow or (check and not check(secret)):
            return (m.start(), m.end(), None)
        return (m.start(group), m.end(group), self.placeholder(kind, secret))

    def _name_value(self, text: str, low: str, hit: re.Match) -> Hit | None:
        """`name=value` and friends, where the hit is a secret-looking word inside the name."""
        if hit.group() == "auth" and p.NOT_AUTH.match(low, hit.end()):
            return None
        name_end = p.NAME_REST.match(low, hit.end()).end()
        if low[name_end:name_end + 1] not in p.SEP_FIRST:  # `key,` `key}` `key)`: no value follows
            return (hit.start(), name_end, None)
        start = hit.start()
        while start and low[start - 1] in p.NAME_CHARS:
            start -= 1
        if low.endswith("redacted:", 0, start):
            return (start, name_end, None)  # the kind inside one of our own placeholders
        if low[start:name_end] == "htpasswd":
            span = arguments.htpasswd_secret(text, name_end)
            return (start, name_end, None) if span is None else self._secret_at(text, *span, "password")
        tail = p.KV_TAIL.match(low, name_end)
        if tail is None:
            if start and low[start - 1] in "\"'":  # a quoted name: maybe a pair, ["X-Auth", "VAL"]
                return self._pair_value(text, low, start, name_end)
            return (start, name_end, None)
        sep = tail.group("sep")
        if low[start] != "-" and ":" not in sep and "=" not in sep:  # words, not `name=value`
            told = arguments.told_secret(text, low, start, name_end) if low[start:name_end] in p.TOLD else None
            return (start, name_end, None) if told is None else self._secret_at(text, *told, "password")
        group = "dq" if tail.group("dq") is not None else "sq" if tail.group("sq") is not None else "bare"
        s, e = tail.span(group)
        secret = text[s:e]
        if group == "bare" and secret.startswith("-") and not sep.strip():
            return (start, name_end, None)  # `--password-stdin -u me`: the next word is another flag
        if tail.group("scheme") and not p.TRIVIAL.fullmatch(secret):
            kind: str | None = p.token_kind(secret) or "auth-header"
        else:
            kind = p.name_kind(text[start:name_end], secret)
        if kind is None:
            return (start, name_end, None)  # the value is scanned on: it may hold a secret of its own
        if self._keep(secret):
            return (start, e, None)
        return (s, e, self.placeholder(kind, secret))

    def _pair_value(self, text: str, low: str, start: int, name_end: int) -> Hit:
        """A name/value pair written out: `["X-Auth", "VAL"]`, `("X-Auth", "VAL")`,
        `{"name": "X-Auth", "value": "VAL"}` (the value belongs to the quoted name)."""
        tail = p.PAIR_TAIL.match(low, name_end)
        if tail is None:
            return (start, name_end, None)
        s, e = tail.span("dq" if tail.group("dq") is not None else "sq")
        kind = p.name_kind(text[start:name_end], text[s:e])
        if kind is None or self._keep(text[s:e]):
            return (start, name_end, None)
        return (s, e, self.placeholder(kind, text[s:e]))

    def _pass_source(self, text: str, at: int, before: str) -> Hit | None:
        """`pass:PW` (openssl's -passin/-passout and friends); `env:` and `file:` name no secret."""
        if before in "\"'":  # "pass:PW with spaces"
            close = text.find(before, at)
            return self._secret_at(text, at, close if close > at else len(text), "password")
        if not (before.isspace() or before == "="):
            return None
        source = p.PASS_SOURCE.match(text, at)
        if source is None:
            return None
        return self._secret_at(text, *source.span(next(g for g in ("dq", "sq", "bare") if source.group(g) is not None)),
                               "password")

    def _secret_at(self, text: str, s: int, e: int, kind: str) -> Hit:
        secret = text[s:e]
        if self._keep(secret) or p.TRIVIAL.fullmatch(secret):
            return (s, e, None)
        return (s, e, self.placeholder(p.token_kind(secret) or kind, secret))

    def _tail_secret(self, text: str, tail: re.Match | None, kind: str) -> Hit | None:
        if tail is None:
            return None
        s, e = tail.span("s")
        secret = text[s:e]
        if self._keep(secret):
            return (s, e, None)
        return (s, e, self.placeholder(p.token_kind(secret) or kind, secret))

    def _extra_pass(self, text: str) -> str:
        """The user's patterns, applied around (never inside) the placeholders already made, on
        pieces of at most user_patterns.TEXT_LIMIT characters, each under a CPU-time budget."""
        from . import user_patterns

        parts = p.PLACEHOLDER_RX.split(text) if PREFIX in text else [text]
        for i in range(0, len(parts), 2):
            if parts[i]:
                parts[i] = "".join(self._extra_piece(piece) for piece in user_patterns.pieces(parts[i]))
        return "".join(parts)

    def _extra_piece(self, piece: str) -> str:
        from . import user_patterns

        for rx in list(self._extra):
            try:
                piece = user_patterns.run_limited(rx.sub, self._extra_sub, piece)
            except user_patterns.TooSlow:  # never again in this process; the piece it did not finish is withheld
                self._extra.remove(rx)
                problem = (f"redaction.extra_patterns: {rx.pattern!r} took over {user_patterns.BUDGET_SECONDS * 1000:g} "
                           f"ms on {len(piece)} characters (it backtracks too much); pattern ignored")
                self.problems.append(problem)
                _warn_once(problem)
                return self.placeholder("unscanned", piece)
        return piece

    def _extra_sub(self, m: re.Match) -> str:
        names = m.re.groupindex
        if "secret" in names:
            group: str | int | None = "secret" if m.group("secret") is not None else None
        else:
            group = next((g for g in range(1, m.re.groups + 1) if m.group(g) is not None), None)
        secret = m.group(group) if group is not None else m.group(0)
        if self._keep(secret) or m.group(0) in self.allow:
            return m.group(0)
        return _splice(m, group, self.placeholder("custom", secret))


def _splice(m: re.Match, group: str | int | None, replacement: str) -> str:
    """The match's text with `group` (or all of it) replaced."""
    if group is None:
        return replacement
    start, end = m.span(group)
    base = m.start()
    whole = m.group(0)
    return whole[: start - base] + replacement + whole[end - base:]


# -- the salt --------------------------------------------------------------------------------

_process_salt: bytes | None = None
_warned: set[str] = set()


def _per_process_salt() -> bytes:
    global _process_salt
    if _process_salt is None:
        _process_salt = os.urandom(SALT_BYTES)
    return _process_salt


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        try:
            sys.stderr.write(f"lifeguard: {text}\n")
        except (OSError, ValueError):
            pass


def load_salt(state_dir: str | os.PathLike | None, quarantine_dir: str | os.PathLike | None = None) -> tuple[bytes, str | None]:
    """The workspace's redaction salt, created (0600, atomically, once) on first use.

    Returns (salt, problem). When the salt file cannot be had, a per-process salt stands in
    and `problem` says so: placeholders are then stable only within this process.
    """
    if state_dir is None:
        return _per_process_salt(), None
    path = os.path.join(state_dir, SALT_FILE)
    try:
        data = _read_salt(path, quarantine_dir)
        if data is None:
            fsutil.ensure_private_dir(state_dir)
            fsutil.create_exclusive(path, os.urandom(SALT_BYTES))
            data = _read_salt(path, quarantine_dir)
        if data is not None:
            return data, None
        problem = "is being created by another process"
    except OSError as exc:
        problem = f"unavailable ({exc.strerror or exc})"
    return _per_process_salt(), (f"redaction salt {path} {problem}; using a per-process salt, so a "
                                 "repeated secret may get a different placeholder in another hook call")


def _read_salt(path: str, quarantine_dir: str | os.PathLike | None) -> bytes | None:
    """The salt, or None if there is none yet; a planted link or a stale short file is moved aside."""
    planted = fsutil.planted_kind(path)
    if planted and quarantine_dir is not None:
        fsutil.quarantine_file(quarantine_dir, path, f"a {planted} was planted at {SALT_FILE}; moved aside, not followed")
        return None
    try:
        data = fsutil.read_bytes_nofollow(path, 4096)
    except FileNotFoundError:
        return None
    if len(data) >= 16:
        return data
    # a short file: a creator is mid-write (fallback path), or it was damaged long ago
    try:
        stale = time.time() - os.lstat(path).st_mtime > 5
    except FileNotFoundError:
        return None
    if stale and quarantine_dir is not None:
        fsutil.quarantine_file(quarantine_dir, path, "redaction salt too short (damaged)")
        return None
    raise OSError(0, "the salt file is too short", str(path))


# -- the active redactor (what record.SCRUBBERS uses) ----------------------------------------

_active = Redactor()


def configure(cfg: Mapping | None, layout: Any = None) -> Redactor:
    """Make the redactor for this hook invocation from config section `redaction` and the workspace."""
    global _active
    section = (cfg or {}).get("redaction")
    if not isinstance(section, dict):
        section = {}
    state_dir = getattr(layout, "state", None)  # str (core/paths.py)
    current = _active
    settings = (section.get("enabled", True) is not False, tuple(section.get("extra_patterns") or ()),
                tuple(section.get("allow") or ()), state_dir)
    if current.settings != settings:
        _active = Redactor(settings[0], settings[1], settings[2], state_dir, getattr(layout, "quarantine", None))
        _active.settings = settings
        if current.state_dir == state_dir and current._salt is not None:
            _active._salt = current._salt
    problems = getattr(cfg, "problems", None)  # a bad extra pattern is reported with the config's
    if isinstance(problems, list):
        problems.extend(p for p in _active.problems if p not in problems)
    return _active


def active() -> Redactor:
    return _active


def redact(text: str) -> str:
    """`text` with secrets replaced (the active configuration)."""
    return _active.text(text)


def scrub_value(obj: Any, by_name: bool = True) -> Any:
    """A copy of JSON-like `obj` with every secret replaced: strings, dict keys, and (with
    `by_name`) values under secret-looking keys. Features that derive record fields from the
    raw hook input (e.g. loop signatures) call this on the input first, so placeholders, not
    secrets, reach the record, and the same secret still gives the same result."""
    return _active.value(obj, by_name)


class Scrubber:
    """The object record.SCRUBBERS holds: a text filter that also knows field names and config."""

    def __call__(self, text: str) -> str:
        return _active.text(text)

    def field(self, name: str, value: str | int | float) -> str | int | float:
        return _active.field(name, value)

    def configure(self, cfg: Mapping | None, layout: Any = None) -> None:
        configure(cfg, layout)


SCRUBBER = Scrubber()
