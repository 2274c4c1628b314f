#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = ["pydantic==2.14.4", "filelock==4.3.1", "orjson==3.13.0"]
# ///
"""lifeguard guard: runs one hook command under a timeout, so a hung, crashing or missing hook
cannot stall or break the session. Usage:

    uv run --script .claude/hooks/guard.py --timeout SECONDS [--on-timeout block|allow] [--name NAME] -- COMMAND [ARGS...]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "lib"))
from lifeguard.guard.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __file__))
