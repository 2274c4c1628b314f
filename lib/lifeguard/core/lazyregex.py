"""Regexes compiled when first used, not when their module is imported.

A hook that runs in its own process imports the redaction rules every time, and compiling
their thirty-odd regexes at import cost it about 3 ms, more than redacting a typical event;
most events need none of them, or two or three. `LazyRegex(pattern, flags)` stands where
`re.compile(pattern, flags)` stood: the same attributes and methods with the same results,
since on first use it takes those of that very compiled pattern as its own. `compile_all()`
compiles every one made so far: the resident helper does it once before it forks workers.
"""

from __future__ import annotations

import re

# what a compiled pattern offers (match, search, sub, split, pattern, groupindex, ...)
_ATTRIBUTES = tuple(name for name in dir(re.Pattern) if not name.startswith("_"))
_made: list[LazyRegex] = []


class LazyRegex:
    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)
        _made.append(self)

    def __getattr__(self, name: str):
        """Python calls this only for an attribute the object lacks, i.e. before it is compiled;
        after that, a method is the compiled pattern's own bound method, found at once."""
        if name.startswith("_") or "match" in self.__dict__:
            raise AttributeError(name)
        self.compile()
        return getattr(self, name)

    def compile(self) -> None:
        if "match" not in self.__dict__:
            compiled = re.compile(*self._source)
            self.__dict__.update((name, getattr(compiled, name)) for name in _ATTRIBUTES)


def compile_all() -> None:
    for regex in _made:
        regex.compile()
