"""The JSON of lifeguard's files (event log, state, snapshot, spool), with orjson where it pays.

A process chooses once: the stdlib, or orjson from `use_orjson()` on. Measured (process starts,
and per call): importing orjson costs a Python that has loaded a hook's modules about 12 ms more
(it imports dataclasses, inspect, uuid, datetime ...), while a hook encodes and decodes one
record and one state of a few KB, where orjson saves about 0.1 ms. So a hook never imports it
(the hot-path import test), not even in the resident helper, so a log's bytes never depend on
whether the helper was up. The tools (commands.cli, and the OpenTelemetry exporter), which read
whole logs and many states, switch it on: it reads a log line about 2 us faster (30% of decoding
it), and reads a state 2.5 and writes it 7 times faster. Without orjson (the tools under a plain
python3 when uv is missing, scripts/lifeguard's last resort) `use_orjson` leaves the stdlib in
place.

`dumps(obj) -> bytes` writes what `json.dumps(obj, separators=(",", ":"), ensure_ascii=True,
default=str)` writes: compact, ASCII only (every other character as json writes it, `\\u00e9`,
surrogate pairs above U+FFFF, DEL as `\\u007f`), keys in insertion order, non-str keys as json
turns them into strings, anything else through `str`. Where orjson cannot:
- a value orjson refuses (an int beyond 64 bits, a lone surrogate, nesting deeper than 254, a
  cycle) is written by the stdlib instead, which then writes or raises exactly as before;
- datetimes and dataclasses go through `str`, as json would, not orjson's own format.
Two differences remain with orjson, and nothing lifeguard writes has them: NaN and +-Infinity
are written as `null` (json wrote `NaN`, which is not JSON; Claude Code's input never holds
one, as JSON.stringify writes null), and a float below 1e-4 in orjson's shortest form (`1e-7`,
`0.00001`) where Python wrote `1e-07`, `1e-05`: the same number when read back. Only CRCs
compare those bytes: the log's covers each line as written, and the snapshot takes the CRC of
either form (store/snapshot.py).

`loads(data)` reads what `json.loads` reads, to the same values: orjson first, and the stdlib
where orjson would refuse the input (NaN, lone surrogate escapes, a BOM, nesting deeper than
1024: it raises, and the stdlib then reads it or raises its own error) or silently change it
(an integer beyond 64 bits, which orjson reads as a float: a number of 19 digits or more goes
to the stdlib). Errors are the stdlib's: ValueError (json.JSONDecodeError, UnicodeDecodeError)
or RecursionError.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring_ascii

orjson = None  # the module once use_orjson() has found it
_DUMPS_OPTIONS = 0
_NOT_ASCII = None  # "[^\x00-\x7e]+" (DEL too: json escapes it), compiled by use_orjson(): hooks never need it
_DIGITS = bytes.maketrans(b"0123456789", b"9999999999")
_NINETEEN = b"9" * 19
# what can come before a number; in a string, a run of digits follows a quote or other text
_BEFORE_NUMBER = frozenset(b":,[ \t\r\n")


def use_orjson() -> bool:
    """orjson from now on in this process, if it is installed; whether it is in use."""
    global orjson, _DUMPS_OPTIONS, _NOT_ASCII
    try:
        import orjson as module
    except ImportError:
        return False
    _NOT_ASCII = re.compile("[^\x00-\x7e]+")
    _DUMPS_OPTIONS = (module.OPT_NON_STR_KEYS | module.OPT_PASSTHROUGH_DATETIME
                      | module.OPT_PASSTHROUGH_DATACLASS)
    orjson = module
    return True


def dumps(obj: object) -> bytes:
    if orjson is not None:
        try:
            out = orjson.dumps(obj, default=str, option=_DUMPS_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: see above; the stdlib writes it or raises
            pass
        else:
            if out.isascii() and b"\x7f" not in out:
                return out
            # outside strings JSON is ASCII, and these characters never need a JSON escape of their own
            text = _NOT_ASCII.sub(lambda run: encode_basestring_ascii(run.group())[1:-1], out.decode("utf-8"))
            return text.encode("ascii")
    return stdlib_dumps(obj)


def stdlib_dumps(obj: object) -> bytes:
    """What the stdlib writes (and lifeguard wrote before orjson): for a check over those bytes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, default=str).encode("ascii")


def loads(data: bytes | str) -> object:
    if orjson is not None and not _long_number(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the stdlib reads it, or raises its own error
    return json.loads(data)


def _long_number(data: bytes | str) -> bool:
    """A number of 19 digits or more, maybe (a run in a string after ": " gives a false alarm,
    which only costs the stdlib's slower read). A spool file's name, 20 digits, is in a string."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    runs = data.translate(_DIGITS)
    at = runs.find(_NINETEEN)  # the usual case: two passes in C, and no run
    while at != -1:
        start = at - 1 if at and data[at - 1] == 0x2D else at  # a minus sign
        if start == 0 or data[start - 1] in _BEFORE_NUMBER:
            return True
        end = at + len(_NINETEEN)
        while end < len(runs) and runs[end] == 0x39:  # to the end of this run
            end += 1
        at = runs.find(_NINETEEN, end)
    return False
