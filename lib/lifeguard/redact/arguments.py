"""Secrets given to command-line tools as arguments, and passwords told in words.

Called from the redactor's one scan (see redactor.py) at a trigger word, each rule reads only
the few words around it:
- password flags of common tools, decided by the program of the command the flag is in:
  `mysql -pPW`, `sshpass -p PW`, `docker login -p PW` (podman, helm registry, az, oc, cf ...),
  `redis-cli -a PW`, `sqlcmd -P PW`, `ldapsearch -w PW`, `zip -P PW`, `7z -pPW`,
  `mongosh -p PW`, `xfreerdp /p:PW`; and `htpasswd -b FILE USER PW` (its last word);
- openssl's (and others') `pass:PW` password sources;
- a password told in words or in a .netrc: `the admin password is PW`, `login me password PW`.
The trigger words are flags, not program names, so text without such a flag costs nothing more.
"""

from __future__ import annotations

import re

from ..core.lazyregex import LazyRegex  # compiled on first use: most commands have no such flag

# flag -> programs (their base names) that take the next word, or the rest of the flag's own
# word, as a password. Matched case-sensitively: mysql -P is the port, sqlcmd -P the password.
_NEXT_WORD = {
    "-p": LazyRegex(r"sshpass|mongo(?:sh|dump|restore|export|import|files)?|login"),
    "-P": LazyRegex(r"sqlcmd|bcp|osql|ipmitool|zip|unzip|zipcloak"),
    "-a": LazyRegex(r"(?:redis|valkey|keydb)-cli"),
    "-w": LazyRegex(r"ldap[a-z]+"),
}
_GLUED = {
    "-p": LazyRegex(r"(?:mysql|mariadb)[a-z_-]*|sshpass|7z[ar]?|rar|unrar|login"),  # mysql's -p alone prompts
    "-P": LazyRegex(r"sqlcmd|bcp|osql|ipmitool"),
    "-w": LazyRegex(r"ldap[a-z]+"),
    "/p:": LazyRegex(r"(?:xfreerdp|wlfreerdp|sdl-freerdp)"),
}
FLAGS = ("-p", "-a", "-w", "/p:")  # the trigger words (lowered: -p is -P too)
# `X login ... -p PW`: registry and cloud command-line tools; their program counts as "login"
_LOGIN_TOOLS = frozenset(("docker", "podman", "nerdctl", "buildah", "skopeo", "oras", "crane", "finch", "helm",
                          "az", "oc", "cf"))
_SEPARATORS = ";|&\n(`"
_PREFIXES = frozenset(("sudo", "env", "exec", "time", "nice", "nohup", "command", "builtin", "doas"))
# one shell word after a space: bare, "double quoted" and 'single quoted' parts; stops at ; | & ( ) < > and newlines
_WORD = LazyRegex(r"[ \t]+((?:[^\s;&|<>()`\"']+|\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*')+)")
_MAX_WORDS = 40

Span = tuple[int, int]  # where a secret is in the text


def words(text: str, at: int) -> list[tuple[str, int, int]]:
    """The shell words from `at` to the end of the command: (word, start, end), quotes taken off
    a word wholly in quotes (so 'PW' and PW give the same placeholder)."""
    out = []
    while len(out) < _MAX_WORDS:
        m = _WORD.match(text, at)
        if m is None:
            break
        out.append(_unquoted(m.group(1), m.start(1), m.end(1)))
        at = m.end()
    return out


def _unquoted(word: str, start: int, end: int) -> tuple[str, int, int]:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1], start + 1, end - 1
    return word, start, end


def program(text: str, at: int) -> str:
    """The base name of the program of the shell command that text[at] is part of ("" if
    none): after the last separator, past sudo/env and VAR=value words. A registry tool's
    `login` subcommand counts as the program "login"."""
    start = max(text.rfind(c, max(0, at - 400), at) for c in _SEPARATORS) + 1
    found = ""
    for word, _, end in words(" " + text[start:at], 0):
        if end > at - start + 1:
            break
        if not found:
            if word in _PREFIXES or ("=" in word and not word.startswith("-")) or word.startswith("-"):
                continue
            found = word.rsplit("/", 1)[-1]
        elif found in _LOGIN_TOOLS and word == "login":
            return "login"
        elif found == "helm" and word == "registry":
            continue
        elif not word.startswith("-"):
            break  # past the subcommand: a registry tool that was not logging in
    return found


def flag_secret(text: str, at: int) -> Span | None:
    """The password given with the flag that starts at text[at] (`-p PW`, `-pPW`, `/p:PW`), when
    the command's program takes one there; None otherwise (`mkdir -p`, `ssh -p 22`)."""
    m = _WORD.match(text, at - 1) if at and text[at - 1] in " \t" else None
    if m is None or m.start(1) != at:
        return None
    word = m.group(1)
    flag = next((f for f in ("/p:", "-p", "-P", "-a", "-w") if word.startswith(f)), None)
    if flag is None:
        return None
    if word == flag:
        rule = _NEXT_WORD.get(flag)
        if rule is None or not rule.fullmatch(program(text, at)):
            return None
        after = words(text, m.end())
        return after[0][1:] if after else None
    rule = _GLUED.get(flag)
    if rule is None or not rule.fullmatch(program(text, at)):
        return None
    return _unquoted(word[len(flag):], at + len(flag), m.end(1))[1:]


def htpasswd_secret(text: str, name_end: int) -> Span | None:
    """`htpasswd -b[c...] FILE USER PW` and `htpasswd -nb USER PW`: the password is the last word."""
    flags, positional, skip = "", [], False
    for word, start, end in words(text, name_end):
        if skip:
            skip = False
        elif word.startswith("-") and len(word) > 1:
            flags += word[1:]
            skip = word[-1] in "Cr"  # -C cost, -r rounds take a value
        else:
            positional.append((start, end))
    if "b" not in flags or len(positional) < (2 if "n" in flags else 3):
        return None
    return positional[-1]


# -- passwords told in words ---------------------------------------------------------------------

_PROSE_TAIL = LazyRegex(
    r"(?:[ \t]+(?:for|of|on)(?:[ \t]+(?!is\b|was\b)[^\s:=,;]{1,40}){1,3})?"
    r"(?P<verb>[ \t]+(?:is|was|will[ \t]+be|should[ \t]+be|has[ \t]+been|(?:is[ \t]+|was[ \t]+)?(?:set|changed|reset)"
    r"[ \t]+to|to|is[ \t]+now|becomes|equals)(?:[ \t]*:)?)?"
    r"[ \t]+(?:\"(?P<dq>[^\"\n]{1,200})\"|'(?P<sq>[^'\n]{1,200})'|`(?P<bq>[^`\n]{1,200})`|(?P<bare>[^\s\"'`,;]{1,200}))"
)
_NETRC = LazyRegex(r"(?:^|\s)(?:machine|login|default)\s", re.MULTILINE)
_NOT_A_SECRET = frozenset((
    "a an the this that it its my your our their his her and or not no to of for in on at by with from as be is was "
    "are been being has have had will can cannot must should would may might also only still now then here there "
    "required incorrect correct wrong invalid valid empty blank missing set unset changed expired stored saved hashed "
    "encrypted protected needed optional same different weak strong secure insecure hidden masked visible ok fine "
    "accepted rejected used generated random long short case-sensitive field prompt manager policy reset hash length "
    "strength change expiry expiration file authentication login stdin input argument parameter variable value unknown "
    "none null provided given supplied specified defined configured known unchanged updated verified checked "
    "validated sent read written printed shown displayed logged leaked exposed compromised redacted asked requested "
    "prompted entered typed too very").split())
_SHAPED = LazyRegex(r"(?=.*\d)(?=.*[a-z])|[!@#$%^&*+=?~]|.[A-Z]", re.IGNORECASE)


def told_secret(text: str, low: str, name_start: int, name_end: int) -> Span | None:
    """A password told in words after a password word at low[name_start:name_end]:
    "the admin password is PW", "password for root: 'PW'", a .netrc's "login me password PW"."""
    m = _PROSE_TAIL.match(low, name_end)
    if m is None:
        return None
    group = next(g for g in ("dq", "sq", "bq", "bare") if m.group(g) is not None)
    s, e = m.span(group)
    if group == "bare":
        while e > s and low[e - 1] in ".,!?):":  # the end of the sentence is not part of it
            e -= 1
    value = low[s:e]
    if not value or value in _NOT_A_SECRET:
        return None
    if group != "bare" or m.group("verb"):
        return (s, e)
    # `password WORD` with no verb: a .netrc line, or a word shaped like a password
    line_start = low.rfind("\n", 0, max(0, low.rfind("\n", 0, name_start))) + 1  # this line and the one before
    if _NETRC.search(low, line_start, name_start) or (len(value) >= 4 and _SHAPED.search(text[s:e])):
        return (s, e)
    return None
