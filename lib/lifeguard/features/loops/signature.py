"""What a tool call is, and how it turned out, as short comparable strings.

A call's *signature* is the tool name plus its input in canonical form (sorted keys), with
fields that do not change what the call does (Bash's `description`) left out. An outcome's
*fingerprint* is success or failure, the exit code, and the start and end of the error text
with volatile parts (timestamps, PIDs, hex ids, temp paths, durations) masked, so two runs
that failed "the same way" compare equal even when their output differs in those details.

Pure functions on the hook input; the feature computes them in `annotate` and keeps the
results in the record, so reducers never recompute them.
"""

from __future__ import annotations

import json
from _blake2 import blake2b  # the C module itself: cheaper to import than hashlib

from ...core.lazyregex import LazyRegex

# Input fields that only label a call; two calls differing only in these do the same thing.
IGNORED_INPUT_KEYS: dict[str, frozenset[str]] = {
    "Bash": frozenset({"description"}),
    "Agent": frozenset({"description"}),
    "Task": frozenset({"description"}),
}
LABEL_CHARS = 80
ERROR_LINES = 4  # lines kept from the start and from the end of an error
MAX_HASHED = 16384  # a huge output is fingerprinted by its ends (and its length)

# Ordered: the more specific patterns first, so a UUID is not eaten as two hex runs.
# Compiled on first use: a PreToolUse hook only needs the call signature. Each with what a text
# must hold for it to match anything (one of these strings): a pattern that cannot match is not
# run, so a hook in its own process does not compile it (up to 0.1 ms each).
_DIGIT = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")  # ASCII; \d also takes other digits (_may_match)
_VOLATILE: list[tuple[tuple[str, ...], LazyRegex, str]] = [(needs, LazyRegex(src), repl) for needs, src, repl in [
    (("-",), r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<uuid>"),
    ((":",), r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?", "<time>"),
    ((":",), r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<time>"),
    (("/tmp/", "/var/folders/", "/dev/shm/"), r"(?:/private)?(?:/tmp|/var/tmp|/var/folders|/dev/shm)/[^\s'\":,;)\]]*",
     "<tmp>"),
    (("pid", "PID", "process", "Process"), r"\b(?:pid|PID|process|Process)\b[\s:=#]*\d+", "<pid>"),
    (("[",), r"\[\d{2,7}\]", "[<pid>]"),
    (("0x",), r"\b0x[0-9a-fA-F]+\b", "<hex>"),
    (_DIGIT, r"\b(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{7,}\b", "<hex>"),
    (_DIGIT, r"\b\d+(?:\.\d+)?\s?(?:ms|us|µs|ns|s|sec|secs|seconds)\b", "<dur>"),
    (_DIGIT, r"\b\d{9,}\b", "<num>"),  # epoch stamps, byte counters
]]
_EXIT_CODE = LazyRegex(r"\b[Ee]xit(?:ed with)? (?:code|status)[:\s]*(-?\d+)")  # failures only


_key = b""  # the workspace's redaction salt: a digest of a secret-bearing input can't be guessed offline


def use_key(key: bytes) -> None:
    """Key every digest from now on (blake2b keyed hashing; at most 64 bytes of key)."""
    global _key
    _key = bytes(key[:64])


def digest(text: str) -> str:
    return blake2b(text.encode("utf-8", "replace"), digest_size=8, key=_key).hexdigest()


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)


def call_signature(tool: str, tool_input: dict | None) -> str:
    """Same signature <=> same tool doing the same thing."""
    ignored = IGNORED_INPUT_KEYS.get(tool, frozenset())
    kept = {k: v for k, v in (tool_input or {}).items() if k not in ignored}
    return digest(tool + "\0" + canonical(kept))


def main_argument(tool_input: dict | None) -> str:
    """What a call is about, whole: its command, path, pattern, URL, query or prompt, else its input."""
    inp = tool_input if isinstance(tool_input, dict) else {}
    main = next((inp[k] for k in ("command", "file_path", "path", "pattern", "url", "query", "prompt")
                 if isinstance(inp.get(k), str)), None)
    return " ".join((main if main is not None else canonical(inp) if inp else "").split())


def call_label(tool: str, tool_input: dict | None) -> str:
    """A short human description of a call, for messages ("Bash: pytest -x")."""
    main = main_argument(tool_input)
    if len(main) > LABEL_CHARS:
        main = main[: LABEL_CHARS - 3] + "..."
    return f"{tool}: {main}" if main else tool


def normalize(text: str) -> str:
    """`text` with volatile details masked."""
    for needs, pattern, repl in _VOLATILE:
        if _may_match(text, needs):
            text = pattern.sub(repl, text)
    return text


def _may_match(text: str, needs: tuple[str, ...]) -> bool:
    """Whether `text` holds one of `needs`; for a digit (\\d), any character beyond ASCII counts too."""
    return any(s in text for s in needs) or (needs is _DIGIT and not text.isascii())


def error_text(error) -> str:
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        for key in ("message", "error", "stderr"):
            if isinstance(error.get(key), str):
                return error[key]
    return canonical(error)


def exit_code(text: str) -> int | None:
    m = _EXIT_CODE.search(text[:400])
    return int(m.group(1)) if m else None


def error_lines(text: str) -> list[str]:
    """The first and last few non-blank lines of an error, masked: where errors say what went wrong."""
    lines = [ln.strip() for ln in text[:MAX_HASHED].splitlines() if ln.strip()]
    if len(text) > MAX_HASHED:
        lines += [ln.strip() for ln in text[-4096:].splitlines() if ln.strip()][-ERROR_LINES:]
    if len(lines) > 2 * ERROR_LINES:
        lines = lines[:ERROR_LINES] + lines[-ERROR_LINES:]
    return [normalize(ln) for ln in lines]


def failure_fingerprint(error) -> str:
    text = error_text(error)
    code = exit_code(text)
    return f"fail:{'' if code is None else code}:{digest(chr(10).join(error_lines(text)))}"


def success_fingerprint(response) -> str:
    text = response if isinstance(response, str) else canonical(response)
    if len(text) > MAX_HASHED:
        text = f"{text[: MAX_HASHED // 2]}\0{text[-MAX_HASHED // 2:]}\0{len(text) // 1024}"
    return "ok:" + digest(normalize(text))


def first_error_line(error) -> str:
    """The line of an error worth quoting to the model (skips a bare "Exit code N")."""
    lines = [ln.strip() for ln in error_text(error)[:4096].splitlines() if ln.strip()]
    useful = [ln for ln in lines if not _EXIT_CODE.fullmatch(ln)] or lines
    line = useful[0] if useful else ""
    return line[:160]


def stop_fingerprint(message: str | None) -> str:
    return digest(" ".join((message or "").split()))
