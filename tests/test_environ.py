"""hook.environ: the environment as os.environ gives it, read without importing os."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib"
sys.path.insert(0, str(LIB))

from lifeguard.hook import environ  # noqa: E402

# In a fresh `python -I -S` (no os loaded): environ's view, then os.environ's, of the same process.
BEFORE_OS = """
import sys
sys.path.insert(0, sys.argv[1])
from lifeguard.hook import environ
loaded = "os" in sys.modules
mine = (environ.get("LG_TEST_A"), environ.get("LG_TEST_MISSING"), sorted(environ.items()))
import os
print(repr((loaded, mine == (os.environ.get("LG_TEST_A"), os.environ.get("LG_TEST_MISSING"), sorted(os.environ.items())),
            ascii(mine[0]))))
"""


def test_without_os_it_reads_what_os_environ_would_give_byte_for_byte() -> None:
    """Not UTF-8 bytes included (surrogate escapes, as os.fsdecode gives them)."""
    env = {"LG_TEST_A": b"caf\xe9 \xff", "LG_TEST_B": "r\u00e9sum\u00e9".encode(), "PATH": b"/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-I", "-S", "-c", BEFORE_OS, str(LIB)], env=env, capture_output=True,
                         check=True)
    loaded, same, value = eval(res.stdout)  # noqa: S307 - our own repr
    assert loaded is False  # read without os: the point
    assert same is True
    assert value == ascii("caf\udce9 \udcff")


def test_a_change_made_through_os_environ_is_seen(monkeypatch) -> None:
    """The helper's worker sets the hook's variables through os.environ; the runner then reads
    them here (the settings timeout)."""
    monkeypatch.setenv("LG_TEST_SET_LATER", "worker")
    assert environ.get("LG_TEST_SET_LATER") == "worker"
    assert ("LG_TEST_SET_LATER", "worker") in environ.items()
    monkeypatch.delenv("LG_TEST_SET_LATER")
    assert environ.get("LG_TEST_SET_LATER") is None
    assert "LG_TEST_SET_LATER" not in dict(environ.items())


def test_fsencode_is_os_s() -> None:
    import os

    for text in ["plain", "r\u00e9sum\u00e9", "caf\udce9", ""]:
        assert environ.fsencode(text) == os.fsencode(text)
