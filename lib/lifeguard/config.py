"""Lifeguard's settings: `.claude/lifeguard.json`, merged over DEFAULTS, validated.

DEFAULTS is the one place defaults live. Validation uses the pydantic model in
`config_model.py`, which costs more to import than a hot hook may spend, so the validated
result is cached in `state/config.cache.json`, keyed by the file's size, mtime and inode;
the hot path then reads one small JSON file. A bad value never stops lifeguard: that
value falls back to its default and the problem is reported once, in plain words.
"""

from __future__ import annotations

import copy
import json
import os

from . import fsutil
from .paths import Layout

DEFAULTS: dict = {
    "locks": {"timeout_seconds": 2.0},
}


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Config(dict):
    """The effective settings (a plain dict) plus the problems found reading them."""

    problems: list[str]

    def __init__(self, data: dict, problems: list[str] | None = None):
        super().__init__(data)
        self.problems = problems or []


def load(layout: Layout) -> Config:
    try:
        st = os.stat(layout.config_file)
    except FileNotFoundError:
        return Config(copy.deepcopy(DEFAULTS))
    except OSError as exc:
        return Config(copy.deepcopy(DEFAULTS), [f"{layout.config_file.name}: unreadable ({exc.strerror})"])
    key = [st.st_size, st.st_mtime_ns, st.st_ino]
    cache_path = layout.state_dir / "config.cache.json"
    try:
        cached = json.loads(fsutil.read_bytes_nofollow(cache_path))
        if cached.get("key") == key and cached.get("defaults") == DEFAULTS:
            return Config(cached["config"], cached.get("problems"))
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    config = validate_file(layout)
    try:
        fsutil.ensure_private_dir(layout.state_dir)
        payload = {"key": key, "defaults": DEFAULTS, "config": dict(config), "problems": config.problems}
        fsutil.atomic_write(cache_path, json.dumps(payload).encode())
    except OSError:
        pass  # the cache is only an optimisation
    return config


def validate_file(layout: Layout) -> Config:
    name = layout.config_file.name
    try:
        raw = fsutil.read_bytes_nofollow(layout.config_file)
        user = json.loads(raw)
    except (OSError, ValueError) as exc:
        return Config(copy.deepcopy(DEFAULTS), [f"{name} is not valid JSON ({exc}); using the defaults"])
    if not isinstance(user, dict):
        return Config(copy.deepcopy(DEFAULTS), [f"{name} must hold a JSON object; using the defaults"])
    return validate(user, name)


def validate(user: dict, name: str = "lifeguard.json") -> Config:
    from .config_model import validation_errors  # pydantic: off the hot path

    problems: list[str] = []
    unknown = sorted(set(user) - set(DEFAULTS))
    for key in unknown:
        problems.append(f"{name}: unknown section {key!r} ignored")
    merged = merge(DEFAULTS, {k: v for k, v in user.items() if k in DEFAULTS})
    for _ in range(50):
        errors = validation_errors(merged)
        if not errors:
            break
        for loc, message in errors:
            problems.append(f"{name}: {'.'.join(map(str, loc))}: {message}; using the default")
            _restore_default(merged, loc)
    else:  # pragma: no cover - cannot converge only if DEFAULTS itself were invalid
        return Config(copy.deepcopy(DEFAULTS), problems)
    return Config(merged, problems)


def _restore_default(merged: dict, loc: tuple) -> None:
    target, default = merged, DEFAULTS
    for part in loc[:-1]:
        if not isinstance(default, dict) or part not in default:
            break
        target, default = target.setdefault(part, {}), default[part]
        if not isinstance(target, dict):
            break
    else:
        last = loc[-1] if loc else None
        if isinstance(default, dict) and last in default:
            target[last] = copy.deepcopy(default[last])
            return
        if isinstance(target, dict) and last in target:
            del target[last]
            return
    # the error sits above a known leaf: restore the whole top-level section
    if loc and loc[0] in DEFAULTS:
        merged[loc[0]] = copy.deepcopy(DEFAULTS[loc[0]])
