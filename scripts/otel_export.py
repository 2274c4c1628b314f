#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "pydantic==2.14.4",
#     "filelock==4.3.1",
#     "orjson==3.13.0",
#     "opentelemetry-sdk==1.45.2",
#     "opentelemetry-exporter-otlp-proto-http==1.45.2",
# ]
# ///
"""lifeguard's OpenTelemetry exporter: sends what was recorded since its last run, then exits.

    uv run --script .claude/scripts/otel_export.py [--workspace DIR]

Hooks start it, detached, when the export is switched on (LIFEGUARD_OTEL=1 or telemetry.enabled
in lifeguard.json), and not while it backs off from a collector that did not accept; run by hand
it sends at once. Where to: OTEL_EXPORTER_OTLP_ENDPOINT and the other standard OTEL_* variables.
Without the switch it sends nothing. It runs at the lowest CPU priority (nice 19): background
work that must not compete with the session. A run sends at most a bounded batch of the backlog;
the next runs send the rest. The last run's outcome is in .claude/state/telemetry/export-status.json.
"""

import argparse
import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "lib"))  # .claude/lib, or the checkout's lib


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", metavar="DIR", help="the project's .claude folder (default: the one this "
                        "script is installed in)")
    args = parser.parse_args()
    os.nice(19)  # the lowest priority (the kernel caps it there): background work, the session comes first
    from lifeguard.commands.cli import locate
    from lifeguard.telemetry import export

    return export.run(str(locate(args.workspace, os.path.abspath(__file__))))


if __name__ == "__main__":
    sys.exit(main())
