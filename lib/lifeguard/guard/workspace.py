"""The guard's breaker, kept for the whole workspace (`state/guarded-hooks.json`).

A user's hook that keeps failing fails the same way in every session of the project, so its
pause belongs to the workspace: a new or resumed session skips it too until the cooldown ends,
instead of waiting on it again. Per hook name:

    {"label": the command as shown, "event": the Claude Code event, "failures_in_row": k,
     "timeouts": how many runs timed out in all, "open_until": epoch or None,
     "last": {"t": epoch, "outcome": ..., "code": ..., "session": id}}

Rules (pure, in `policy`): `failures_in_row` reaching the threshold opens the breaker until
`open_until`; the first run after that is the trial: a success closes it (the entry keeps
the hook's count of timeouts, for doctor), a failure opens it again at once.

Reading takes no lock (the file is replaced atomically; a missing or unreadable file reads as
empty: no memory is better than no hook). Writing happens only after a failure, or after the
first success following failures (`needs_update`): read-modify-write under `guarded-hooks.lock` with a short
bounded wait; when the lock stays busy the update is dropped (the next failure counts again).
"""

from __future__ import annotations

import json

from ..core import fsutil
from ..core.locking import LockTimeout, SessionLock
from ..core.paths import Layout

FILE = "guarded-hooks.json"
LOCK = "guarded-hooks.lock"
LOCK_WAIT = 0.3  # seconds
FORGET_AFTER = 7 * 86400.0  # an entry untouched this long is dropped on the next write
MAX_BYTES = 256 * 1024


def read(layout: Layout) -> dict[str, dict]:
    """Every hook's entry; {} when there is no file or it cannot be read."""
    try:
        data = json.loads(fsutil.read_bytes_nofollow(layout.state_dir / FILE, MAX_BYTES))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def entry(layout: Layout, name: str) -> dict:
    return read(layout).get(name) or {}


def needs_update(current: dict, failed: bool) -> bool:
    """Whether a run changes the hook's entry: the hot path writes nothing while a hook is well."""
    return failed or bool(current.get("failures_in_row")) or current.get("open_until") is not None


def update(layout: Layout, name: str, *, failed: bool, outcome: str, code: str | None, threshold: int,
           cooldown: float, now: float, label: str, event: str, session: str) -> dict | None:
    """Fold one run into the hook's entry; the new entry (None when it could not be written)."""
    try:
        fsutil.ensure_private_dir(layout.state_dir)
        with SessionLock(layout.state_dir / LOCK, LOCK_WAIT):
            hooks = read(layout)
            current = hooks.get(name)
            new = dict(current or {})
            if failed:
                new["failures_in_row"] = int(new.get("failures_in_row") or 0) + 1
                new["timeouts"] = int(new.get("timeouts") or 0) + (outcome == "timeout")
                if new["failures_in_row"] >= threshold:
                    new["open_until"] = now + cooldown
            else:
                new.update(failures_in_row=0, open_until=None)
            new.update(label=label, event=event, last={"t": now, "outcome": outcome, "code": code, "session": session})
            hooks[name] = new
            hooks = {k: v for k, v in hooks.items() if now - float((v.get("last") or {}).get("t") or now) < FORGET_AFTER}
            fsutil.atomic_write(layout.state_dir / FILE, json.dumps(hooks, indent=1, sort_keys=True).encode())
            return new
    except (OSError, LockTimeout):
        return None


def troubled(layout: Layout) -> list[tuple[str, dict]]:
    """Hooks that failed lately or ever timed out, most timeouts first (for doctor)."""
    hooks = read(layout).items()
    out = [(k, v) for k, v in hooks if int(v.get("failures_in_row") or 0) or int(v.get("timeouts") or 0)]
    return sorted(out, key=lambda kv: (-int(kv[1].get("timeouts") or 0), -int(kv[1].get("failures_in_row") or 0)))
