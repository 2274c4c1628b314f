"""store.jsoncodec: orjson where it writes and reads what the stdlib json did, the stdlib elsewhere.
Every test here runs with orjson switched on (as in the tools) unless it says otherwise."""

import dataclasses
import datetime
import json
import math

import pytest

from lifeguard.store import jsoncodec


@pytest.fixture(autouse=True)
def with_orjson():
    """Switched on for this test only (conftest puts the stdlib back): the suite runs as hooks do."""
    assert jsoncodec.use_orjson()  # the suite runs in the hooks' environment, where pyproject pins orjson


def stdlib(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, default=str).encode("ascii")


@dataclasses.dataclass
class Point:
    x: int


SAME_BYTES = [
    {"seq": 1, "ts": "2026-11-30T10:00:00.000Z", "event": "PreToolUse", "tool_input": {"command": "ls -la"}},
    {"text": "café — 東京 😀 \u2028 \x7f \x00 \x1f \t\n \" \\ </script>"},  # non-ASCII, DEL, controls
    {"nested": [[[{"a": [1, 2.5, -3, True, False, None]}]]], "empty": {}, "list": []},
    {1: "int key", None: "none key", 2.5: "float key"},
    {True: "bool key", False: "false key"},  # apart: True == 1 would overwrite the int key above
    {"u64": 2**64 - 1, "i64": -2**63, "big": 2**64, "negbig": -2**63 - 1, "huge": 10**40},  # the last 3: stdlib
    {"surrogate": "\ud800 alone"},  # orjson refuses; the stdlib writes \ud800
    {"tuple": (1, 2), "set": {3}, "when": datetime.datetime(2026, 11, 30, 10, 0), "point": Point(1)},
    {"floats": [0.1, 1.0, -0.0, 123456789.123, 1e16, 1e22, 5e-324, 1e308, 0.0001]},
    {"deep": json.loads("[" * 300 + "]" * 300)},  # deeper than orjson writes
]


@pytest.mark.parametrize("obj", SAME_BYTES, ids=range(len(SAME_BYTES)))
def test_dumps_writes_the_stdlib_bytes(obj):
    assert jsoncodec.dumps(obj) == stdlib(obj)
    assert jsoncodec.dumps(obj).isascii()


@pytest.mark.parametrize("obj", SAME_BYTES, ids=range(len(SAME_BYTES)))
def test_loads_reads_the_stdlib_values(obj):
    data = stdlib(obj)
    assert jsoncodec.loads(data) == json.loads(data)
    assert jsoncodec.loads(data.decode()) == json.loads(data)


def test_the_two_documented_differences_read_back_the_same():
    """NaN and Infinity become null (json wrote NaN, which is not JSON); a tiny float is written
    in orjson's shortest form, the same number when read back."""
    assert jsoncodec.dumps({"x": math.nan, "y": math.inf}) == b'{"x":null,"y":null}'
    tiny = [1e-05, 1e-07, 1.5e-10]
    assert json.loads(jsoncodec.dumps(tiny)) == tiny


def test_loads_keeps_every_digit_of_long_integers():
    """orjson reads an integer beyond 64 bits as a float: those go to the stdlib."""
    for text in (b'{"n":123456789012345678901234567890}', b'{"n": -9223372036854775809}',
                 b'{"n":[18446744073709551616]}', b"12345678901234567890123"):
        assert jsoncodec.loads(text) == json.loads(text)  # an int is never == its float approximation
    big = {"n": 2**70, "m": -(2**70), "edge": [2**64, -(2**63) - 1]}
    back = jsoncodec.loads(jsoncodec.dumps(big))
    assert back == big and type(back["n"]) is int and type(back["edge"][1]) is int


def test_a_long_digit_run_in_a_string_is_no_long_number():
    """A spool file's name holds 20 digits, in a string: orjson still reads it."""
    data = b'{"spool_done":["00000001764500000000-123-abcdef.json"],"id":"x-1234567890123456789"}'
    assert not jsoncodec._long_number(data)
    assert jsoncodec._long_number(b'{"n":1234567890123456789}')
    assert jsoncodec._long_number(b'{"n": -1234567890123456789}')
    assert jsoncodec._long_number(b"[1,1234567890123456789]")
    assert jsoncodec.loads(data) == json.loads(data)


@pytest.mark.parametrize("data", [b'{"x": NaN, "y": -Infinity}', b'{"s": "\\ud800"}',
                                  b'\xef\xbb\xbf{"bom": 1}'])
def test_loads_reads_what_orjson_refuses_as_the_stdlib_did(data):
    expected = json.loads(data)
    got = jsoncodec.loads(data)
    if isinstance(expected, dict) and isinstance(expected.get("x"), float):
        assert math.isnan(got["x"]) and got["y"] == -math.inf
    else:
        assert got == expected


@pytest.mark.parametrize("data", [b"", b"{", b'{"a":1} x', b'"\xff"', b"[" * 5000 + b"]" * 5000, b"nul"])
def test_loads_raises_the_stdlib_errors(data):
    try:
        json.loads(data)
    except (ValueError, RecursionError) as exc:
        expected = type(exc)
    with pytest.raises(expected):
        jsoncodec.loads(data)


def test_dumps_raises_what_the_stdlib_raises():
    cycle = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular"):
        jsoncodec.dumps(cycle)


def test_without_orjson_it_is_the_stdlib(monkeypatch):
    """A plain python3 (the launcher's last resort) has no orjson: the same bytes, the same values."""
    monkeypatch.setattr(jsoncodec, "orjson", None)
    for obj in SAME_BYTES:
        assert jsoncodec.dumps(obj) == stdlib(obj)
        assert jsoncodec.loads(stdlib(obj)) == json.loads(stdlib(obj))
    assert math.isnan(jsoncodec.loads(b"NaN"))


def test_use_orjson_without_orjson_keeps_the_stdlib(monkeypatch):
    monkeypatch.setattr(jsoncodec, "orjson", None)
    monkeypatch.setitem(__import__("sys").modules, "orjson", None)  # import orjson -> ImportError
    assert not jsoncodec.use_orjson()
    assert jsoncodec.orjson is None and jsoncodec.dumps({"x": math.nan}) == b'{"x":NaN}'


def test_the_tools_switch_it_on_and_the_hooks_do_not(tmp_path, monkeypatch):
    from lifeguard.commands import cli
    from lifeguard.commands.ui import UI

    monkeypatch.setattr(jsoncodec, "orjson", None)
    (tmp_path / ".claude").mkdir()
    assert cli.main(["--workspace", str(tmp_path), "stats"], ui=UI(plain=True)) == 0
    assert jsoncodec.orjson is not None
    # the hooks: tests/test_runner.py::test_the_hot_path_stays_off_costly_imports
