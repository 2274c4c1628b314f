"""Lifeguard's settings: `.claude/lifeguard.json`, merged over DEFAULTS, validated.

DEFAULTS is the one place defaults live. Validation uses the pydantic model in
`model.py`, which costs more to import than a hot hook may spend, so the validated
result is cached in `state/config.cache.json`, keyed by the file's size, mtime and inode;
the hot path then reads one small JSON file. A bad value never stops lifeguard: that
value falls back to its default and the problem is reported once, in plain words.
"""

from __future__ import annotations

import json
import os
import zlib

from ..core import fsutil
from ..core.paths import Layout

DEFAULTS: dict = {
    # false: every lifeguard hook of this workspace is a quiet no-op (switch.py; `state_recovery.py off`)
    "enabled": True,
    "locks": {"timeout_seconds": 2.0},
    # The resident helper (helper.py): a warm process per installed .claude/ that runs hooks in
    # forked workers, several times faster than a cold start. It exits after idle_minutes
    # without a hook; enabled: false (or LIFEGUARD_HELPER=0) runs every hook in its own process.
    "helper": {"enabled": True, "idle_minutes": 10},
    # OpenTelemetry export (telemetry/export.py): off unless enabled here or LIFEGUARD_OTEL=1 (=0
    # turns it off whatever this says). Where to send is configured the OpenTelemetry way, by
    # OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, ...); Claude Code removes the OTLP ones from
    # the environment hooks get, so `environment` holds them (a variable set in the exporter's
    # own environment wins). The workspace path is sent hashed unless include_paths. During a
    # turn the exporter starts at most once per export_interval_seconds; always at Stop and
    # SessionEnd.
    "telemetry": {"enabled": False, "include_paths": False, "export_interval_seconds": 60, "environment": {}},
    # Secret redaction (redact/): every string lifeguard writes is scrubbed of tokens, keys and
    # passwords first. extra_patterns: more regexes to redact (the group named `secret`, else the
    # first group, else the whole match); allow: literal strings never redacted.
    "redaction": {"enabled": True, "extra_patterns": [], "allow": []},
    # State size, resources and recovery (health.py, cleanup.py, features/health.py). Cleanup is
    # graded: warning at 80% of state_size_bytes, critical at 100%, emergency at 150% or when free
    # disk is below min_free_disk_bytes. The log is compacted into a snapshot past event_count.
    # A session with no event for archive_idle_hours is archived (upkeep/sweep.py), never sooner.
    "limits": {
        "state_size_bytes": 5242880,
        "event_count": 20000,
        "min_free_disk_bytes": 52428800,
        "archive_idle_hours": 24,
        "agent_silent_minutes": 60,
        "pending_messages": 500,
        "checkpoints_kept": 5,
        "backups_kept": 3,
        "backup_interval_minutes": 60,
    },
    # Alerts (alerts.py): the spec's thresholds (warning / critical; success rate: lower is
    # worse) and what each level does (levels are severities, docs/severity.md). An emergency stop (continue: false) needs at least
    # `critical_count` CRITICAL incidents in the session within `window_seconds`.
    "alerts": {
        "enabled": True,
        "thresholds": {
            "session_init_time_ms": {"warning": 150, "critical": 300, "check_interval_seconds": 60},
            "state_query_time_ms": {"warning": 75, "critical": 150, "check_interval_seconds": 30},
            "agent_spawn_time_ms": {"warning": 1500, "critical": 3000, "check_interval_seconds": 120},
            "memory_usage_percent": {"warning": 75, "critical": 90, "check_interval_seconds": 30},
            "cpu_usage_percent": {"warning": 80, "critical": 95, "check_interval_seconds": 30},
            "disk_usage_percent": {"warning": 85, "critical": 95, "check_interval_seconds": 300},
            "success_rate_percent": {"warning": 85, "critical": 70, "check_interval_seconds": 300},
            "error_rate_percent": {"warning": 2, "critical": 5, "check_interval_seconds": 60},
        },
        "rate_window_events": 50,
        "escalation": {
            "CRITICAL": ["log", "notify_user", "attempt_recovery", "escalate_to_human", "emergency_stop"],
            "HIGH": ["log", "notify_user", "attempt_recovery"],
            "MEDIUM": ["log"],
            "LOW": ["log"],
            "INFO": ["log"],
        },
        "emergency_stop": {"critical_count": 3, "window_seconds": 600},
        "log_max_bytes": 1048576,
    },
    # Loop detection (features/loops/). "warn_after N": tell the model after the Nth
    # repetition; "block_after N": refuse the Nth run. Cycles of 2 or 3 calls: warn after the
    # Nth full round, refuse a call that would start round N. Stops: tell the user after N
    # identical stops in a row, end the turn (continue: false) after N (0 = never). allow:
    # calls that may repeat, as tool names ("mcp__ci__*") or a tool with a pattern of its
    # command or main argument ("Bash(gh run watch*)").
    "loops": {
        "enabled": True,
        "failure_warn_after": 3,
        "failure_block_after": 5,
        "repeat_warn_after": 4,
        "repeat_block_after": 6,
        "cycle_warn_rounds": 2,
        "cycle_block_rounds": 3,
        "stop_warn_after": 3,
        "stop_halt_after": 6,
        "allow": [],
    },
    # Circuit breakers per tool and per MCP server, for tools matching `tools` (fnmatch
    # patterns). Bash, Read, Edit... are left out by default: their failures are the input's
    # fault (a failing test, a missing file), not a sign the tool itself is broken.
    "breakers": {
        "enabled": True,
        "tools": ["mcp__*", "WebFetch", "WebSearch"],
        "failure_threshold": 5,
        "recovery_timeout_seconds": 60,
    },
    # Guarded hooks (hooks/guard.py, install.sh --guard-existing): a hook that fails or times
    # out `failure_threshold` times in a row is skipped for `cooldown_seconds`, then tried again;
    # a run is skipped as a loop after the same input `loop_repeat_limit` times in a row or
    # `loop_max_runs` times within `loop_window_seconds` (the spec: 3; 10 in 5 minutes).
    "guard": {
        "failure_threshold": 3,
        "cooldown_seconds": 300,
        "loop_window_seconds": 300,
        "loop_max_runs": 10,
        "loop_repeat_limit": 3,
        "warn_interval_seconds": 60,
        "kill_grace_seconds": 1.0,
    },
    # Agent and task coordination (features/coordination/). An Agent call beyond
    # max_concurrent_agents is refused; a subagent running past agent_timeout_seconds is
    # reported once; after spawn_failure_limit failed spawns in a row, Agent calls wait
    # base * 2^(n-1) seconds (capped). Queue: lifeguard's deferred notices for the main agent.
    "coordination": {
        "enabled": True,
        "max_concurrent_agents": 5,
        "agent_timeout_seconds": 900,
        "lost_agent_grace_seconds": 30,
        "spawn_failure_limit": 3,
        "spawn_backoff_base_seconds": 2,
        "spawn_backoff_cap_seconds": 300,
        "message_backoff_cap_seconds": 300,
        "queue_max": 100,
        "queue_keep_normal": 50,
    },
}


def section(cfg, name: str) -> dict:
    """The config section `name` over its DEFAULTS (one level deep): what a feature or tool
    reads, whether `cfg` is a loaded Config (already merged) or a plain dict (a test, a tool),
    or None. The one merger of defaults besides `load` itself."""
    given = cfg.get(name) if isinstance(cfg, dict) else None
    return {**DEFAULTS[name], **given} if isinstance(given, dict) else dict(DEFAULTS[name])


def _copy(data):
    """A deep copy of (part of) DEFAULTS. `copy` is imported here, not at the top: a hook with the
    config cached copies nothing, and importing copy (and weakref) would cost it 1 ms."""
    import copy

    return copy.deepcopy(data)


def merge(base: dict, over: dict) -> dict:
    out = _copy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Config(dict):
    """The effective settings (a plain dict) plus the problems found reading them; `unreadable`
    when the file as a whole could not be used (every default applies)."""

    problems: list[str]

    def __init__(self, data: dict, problems: list[str] | None = None, unreadable: bool = False):
        super().__init__(data)
        self.problems = problems or []
        self.unreadable = unreadable


def load(layout: Layout, keep: bool = True) -> Config:
    """The effective settings, with the features LIFEGUARD_SKIP names turned off. `keep=False`:
    a validation is not written to the cache (a tool that must not touch the state folder)."""
    return _skip_features(_load(layout, keep))


def _skip_features(config: Config) -> Config:
    from .switch import SKIP_ENV, SKIPPABLE, skipped

    names, unknown = skipped()
    for name in names:
        config[name] = {**config[name], "enabled": False}
    for name in unknown:
        config.problems.append(f"{SKIP_ENV}: {name!r} is not a feature that can be turned off "
                               f"({', '.join(SKIPPABLE)}); ignored")
    return config


def _load(layout: Layout, keep: bool = True) -> Config:
    try:
        st = os.stat(layout.config_path)
        raw = fsutil.read_bytes_nofollow(layout.config_path, 1 << 20)
    except FileNotFoundError:
        return Config(_copy(DEFAULTS))
    except OSError as exc:
        return Config(_copy(DEFAULTS), [f"{os.path.basename(layout.config_path)}: unreadable ({exc.strerror})"], True)
    # the content's CRC too: a same-size rewrite within one mtime tick must not hit a stale cache
    key = [st.st_size, st.st_mtime_ns, st.st_ino, zlib.crc32(raw)]
    cache_path = os.path.join(layout.state, "config.cache.json")
    try:
        cached = json.loads(fsutil.read_bytes_nofollow(cache_path))
        if cached.get("key") == key and cached.get("defaults") == DEFAULTS:
            return Config(cached["config"], cached.get("problems"), bool(cached.get("unreadable")))
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    config = validate_file(layout)
    if not keep:
        return config
    try:
        fsutil.ensure_private_dir(layout.state)
        fsutil.quarantine_planted(layout.quarantine, cache_path)  # else every hook would re-validate
        payload = {"key": key, "defaults": DEFAULTS, "config": dict(config), "problems": config.problems,
                   "unreadable": config.unreadable}
        fsutil.atomic_write(cache_path, json.dumps(payload).encode())
    except OSError:
        pass  # the cache is only an optimisation
    return config


def validate_file(layout: Layout) -> Config:
    name = os.path.basename(layout.config_path)
    try:
        raw = fsutil.read_bytes_nofollow(layout.config_path)
        user = json.loads(raw)
    except (OSError, ValueError) as exc:
        return Config(_copy(DEFAULTS), [f"{name} is not valid JSON ({exc}); using the defaults"], True)
    if not isinstance(user, dict):
        return Config(_copy(DEFAULTS), [f"{name} must hold a JSON object; using the defaults"], True)
    return validate(user, name)


# Settings that no longer exist, with their old default and what replaced them. Every install
# before them wrote them into lifeguard.json: dropped quietly at their old default, named if changed.
RETIRED = {
    ("loops", "alternation_warn_after"):
        (3, "loops.cycle_warn_rounds (a cycle of 2 or 3 calls is warned at its Nth round)"),
    ("loops", "alternation_block_after"): (5, "loops.cycle_block_rounds (a cycle is refused in its Nth round)"),
    ("limits", "sessions_kept"):
        (50, "limits.archive_idle_hours (a session is archived when idle, never for the number of others)"),
}
# Settings renamed: the old name is read as the new one (the new one wins when both are set).
RENAMED = {("limits", "stale_session_hours"): "archive_idle_hours"}


def _drop_retired(user: dict, name: str, problems: list[str]) -> dict:
    user = dict(user)
    for (section, key), new in RENAMED.items():
        node = user.get(section)
        if isinstance(node, dict) and key in node:
            user[section] = node = dict(node)
            node.setdefault(new, node.pop(key))
    for (section, key), (old_default, instead) in RETIRED.items():
        node = user.get(section)
        if isinstance(node, dict) and key in node:
            user[section] = node = dict(node)
            value = node.pop(key)
            if value != old_default:
                problems.append(f"{name}: {section}.{key} is no longer used; {value!r} ignored. See {instead}")
    return user


def validate(user: dict, name: str = "lifeguard.json") -> Config:
    from .model import validation_errors  # pydantic: off the hot path

    problems: list[str] = []
    user = _drop_retired(user, name, problems)
    unknown = sorted(set(user) - set(DEFAULTS))
    for key in unknown:
        problems.append(f"{name}: unknown section {key!r} ignored")
    merged = merge(DEFAULTS, {k: v for k, v in user.items() if k in DEFAULTS})
    for _ in range(50):
        errors = validation_errors(merged)
        if not errors:
            break
        for loc, words in errors:
            problems.append(_problem(name, loc, words, merged))
            _restore_default(merged, loc)
    else:  # pragma: no cover - cannot converge only if DEFAULTS itself were invalid
        return Config(_copy(DEFAULTS), problems)
    return Config(merged, problems)


def _problem(name: str, loc: tuple, words: str, merged: dict) -> str:
    """One bad value in plain words, with the key, the value and what is used instead:
    "lifeguard.json: loops.failure_warn_after: 'three' is not a whole number; using 3"."""
    where = ".".join(map(str, loc))
    value, default = _at(merged, loc), _at(DEFAULTS, loc)
    if default is _MISSING:
        return f"{name}: {where} {words}; ignored"
    if isinstance(value, dict):  # a rule across a section's values: the whole section falls back
        return f"{name}: {where}: {words}; using the defaults of {where}"
    if isinstance(default, dict):
        return f"{name}: {where}: {_shown(value)} {words}; using the defaults of {where}"
    return f"{name}: {where}: {_shown(value)} {words}; using {_shown(default)}"


_MISSING = object()


def _at(data: object, loc: tuple) -> object:
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _shown(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


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
            target[last] = _copy(default[last])
            return
        if isinstance(target, dict) and last in target:
            del target[last]
            return
    # the error sits above a known leaf: restore the whole top-level section
    if loc and loc[0] in DEFAULTS:
        merged[loc[0]] = _copy(DEFAULTS[loc[0]])
