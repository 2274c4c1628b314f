#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = ["pydantic==2.14.4", "filelock==4.3.1", "orjson==3.13.0"]
# ///
"""lifeguard PostToolUseFailure hook. After a tool fails: records the failure, warns on repetition."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "lib"))
from lifeguard.hook.client import run_hook  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_hook("PostToolUseFailure", __file__))
