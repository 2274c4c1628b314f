#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = ["pydantic==2.14.4", "filelock==4.3.1", "orjson==3.13.0", "rich==15.0.0"]
# ///
"""lifeguard's recovery tools: analyze, backup, backups, restore, repair, doctor, incidents, off, on, stats.

    uv run --script .claude/scripts/state_recovery.py --help

Installed in .claude/scripts/, it works on that .claude folder; elsewhere pass --workspace DIR.
It also runs under a plain python3 (3.11+) when uv itself is broken: output is then plain text.
"""

import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "lib"))  # .claude/lib, or the checkout's lib
from lifeguard.commands.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], script=os.path.abspath(__file__)))
