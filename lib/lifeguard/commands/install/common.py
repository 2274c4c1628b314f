"""What every part of install.sh's work shares: the checkout it installs from, its one error
(a reason to stop before changing anything), how it speaks, and how it writes a public file."""

from __future__ import annotations

import os
from pathlib import Path

from ...core import fsutil

REPO = Path(__file__).resolve().parents[4]


class InstallError(Exception):
    """A reason to stop before changing anything; the message is for the user."""


def say(text: str) -> None:
    print(f"lifeguard: {text}", flush=True)


def write_public(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Atomic write of a file meant to be read by others (settings, code): 0644 or 0755."""
    fsutil.atomic_write(path, data)
    os.chmod(path, mode)
