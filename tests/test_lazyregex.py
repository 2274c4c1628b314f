"""core/lazyregex.py: a regex compiled on first use, then the compiled pattern's own methods."""

from __future__ import annotations

import re

from lifeguard.core import lazyregex
from lifeguard.core.lazyregex import LazyRegex


def test_compiled_only_when_first_used_then_the_same_as_re_compile() -> None:
    source, flags = r"(?P<name>[a-z]+)=(?P<value>\d+)", re.IGNORECASE
    lazy, eager = LazyRegex(source, flags), re.compile(source, flags)
    assert "match" not in vars(lazy)
    text = "A=1 bb=22 c=x DD=333"
    assert lazy.groupindex == eager.groupindex
    assert (lazy.pattern, lazy.flags, lazy.groups) == (eager.pattern, eager.flags, eager.groups)
    assert "match" in vars(lazy) and lazy.match.__self__ is lazy.search.__self__  # one compiled pattern
    assert lazy.match(text).groupdict() == eager.match(text).groupdict()
    assert lazy.search(text, 4).span() == eager.search(text, 4).span()
    assert lazy.fullmatch("dd=4") is not None and lazy.fullmatch("dd=4x") is None
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in eager.finditer(text)]
    assert lazy.split(text) == eager.split(text) and lazy.sub("#", text) == eager.sub("#", text)


def test_a_name_a_pattern_lacks_is_an_attribute_error_before_and_after_compiling() -> None:
    lazy = LazyRegex("x")
    for _ in range(2):
        try:
            lazy.no_such_method
        except AttributeError:
            pass
        else:
            raise AssertionError("no error")
    assert lazy.match("x") is not None


def test_compile_all_compiles_every_one_made() -> None:
    made = [LazyRegex(f"a{i}") for i in range(3)]
    lazyregex.compile_all()
    assert all("match" in vars(rx) for rx in made)
