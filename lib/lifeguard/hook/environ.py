"""The process environment, read without importing os: the hook client runs on every hook
under `python -I -S`, where `import os` alone costs about 1 ms (it builds os.environ on
_collections_abc). On POSIX os.environ is a view of posix.environ (the same dict, kept in
step by every change made through os.environ), decoded as below; so this reads exactly what
os.environ holds, changes included."""

import posix
import sys


def get(name: str) -> str | None:
    """os.environ.get(name)."""
    value = posix.environ.get(_encode(name))
    return None if value is None else _decode(value)


def items() -> list[tuple[str, str]]:
    """list(os.environ.items())."""
    return [(_decode(k), _decode(v)) for k, v in posix.environ.items()]


def fsencode(text: str) -> bytes:
    """os.fsencode: how Python turns a str into the bytes of a path."""
    return text.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _encode(text: str) -> bytes:
    return text.encode(sys.getfilesystemencoding(), "surrogateescape")  # as os.environ encodes


def _decode(raw: bytes) -> str:
    return raw.decode(sys.getfilesystemencoding(), "surrogateescape")
