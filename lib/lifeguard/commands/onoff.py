"""`off` and `on`: turn lifeguard off or on for this workspace (`"enabled"` in lifeguard.json).

Only that one key is changed; the rest of the file is kept as it is. A file that is not a JSON
object is left alone and the command fails (exit 1) saying so: writing over it would lose the
user's settings. See switch.py for what "off" means.
"""

from __future__ import annotations

import json
import os

from ..core import fsutil
from ..core.paths import Layout
from ..config.switch import DISABLE_ENV, env_disabled


def run_off(args, layout: Layout, ui) -> int:
    return _set(layout, ui, False)


def run_on(args, layout: Layout, ui) -> int:
    return _set(layout, ui, True)


def _set(layout: Layout, ui, enabled: bool) -> int:
    path = layout.config_file
    try:
        data = json.loads(fsutil.read_bytes_nofollow(path))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as exc:
        ui.warn(f"lifeguard: cannot read {path} ({exc}); fix it by hand, then run this again. Nothing was changed.")
        return 1
    if not isinstance(data, dict):
        ui.warn(f"lifeguard: {path} does not hold a JSON object; fix it by hand, then run this again. Nothing was changed.")
        return 1
    was = data.get("enabled", True) is not False
    if was != enabled or "enabled" not in data:
        data = {"enabled": enabled, **{k: v for k, v in data.items() if k != "enabled"}}
        fsutil.atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())
        os.chmod(path, 0o644)
    project = layout.claude_dir.parent
    if enabled:
        ui.say(f"lifeguard is {'now' if not was else 'already'} on in {project}.")
        if env_disabled():
            ui.warn(f"lifeguard: but {DISABLE_ENV} is set in this environment, which keeps every hook off; unset it.")
    else:
        ui.say(f"lifeguard is {'now' if was else 'already'} off in {project}: every hook is a quiet no-op "
               f"(\"enabled\": false in {path.name}). Turn it back on with: .claude/lifeguard on")
    return 0
