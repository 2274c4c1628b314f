"""The pydantic model of lifeguard.json. Imported only when the file changed (see load.py).

Fields carry no defaults here: DEFAULTS in load.py is the single source, merged first.
Each section forbids unknown keys so a typo is reported instead of silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, ValidationInfo, field_validator, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Locks(_Section):
    timeout_seconds: float = Field(gt=0, le=30)


class Helper(_Section):
    enabled: bool
    idle_minutes: float = Field(gt=0, le=1440)


class Loops(_Section):
    # Runs of one call are counted in a window of 20 calls (features/loops/feature.py WINDOW_KEEP).
    enabled: bool
    failure_warn_after: int = Field(ge=2, le=15)
    failure_block_after: int = Field(ge=2, le=20)
    repeat_warn_after: int = Field(ge=2, le=15)
    repeat_block_after: int = Field(ge=2, le=20)
    cycle_warn_rounds: int = Field(ge=2, le=6)
    cycle_block_rounds: int = Field(ge=3, le=8)
    stop_warn_after: int = Field(ge=2, le=50)
    stop_halt_after: int = Field(ge=0, le=100)
    allow: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(max_length=100)

    @model_validator(mode="after")
    def _warn_before_block(self):
        if self.cycle_block_rounds <= self.cycle_warn_rounds:
            raise ValueError(f"cycle_block_rounds ({self.cycle_block_rounds}) must be greater than cycle_warn_rounds"
                             f" ({self.cycle_warn_rounds}), so the model is warned before a call is refused")
        for kind in ("failure", "repeat"):
            warn, block = getattr(self, f"{kind}_warn_after"), getattr(self, f"{kind}_block_after")
            if block <= warn:
                raise ValueError(f"{kind}_block_after ({block}) must be greater than {kind}_warn_after ({warn}),"
                                 " so the model is warned before a call is refused")
        if self.stop_halt_after and self.stop_halt_after <= self.stop_warn_after:
            raise ValueError(f"stop_halt_after ({self.stop_halt_after}) must be 0 (never) or greater than"
                             f" stop_warn_after ({self.stop_warn_after})")
        return self


class Breakers(_Section):
    enabled: bool
    tools: list[str]
    failure_threshold: int = Field(ge=1, le=100)
    recovery_timeout_seconds: float = Field(ge=1, le=3600)


class Threshold(_Section):
    warning: float = Field(ge=0)
    critical: float = Field(ge=0)
    check_interval_seconds: float = Field(gt=0, le=86400)


class Thresholds(_Section):
    session_init_time_ms: Threshold
    state_query_time_ms: Threshold
    agent_spawn_time_ms: Threshold
    memory_usage_percent: Threshold
    cpu_usage_percent: Threshold
    disk_usage_percent: Threshold
    success_rate_percent: Threshold
    error_rate_percent: Threshold

    @field_validator("*")
    @classmethod
    def _ordered(cls, limits: Threshold, info: ValidationInfo) -> Threshold:
        name = info.field_name
        if name.endswith("_percent") and max(limits.warning, limits.critical) > 100:
            raise ValueError("percentages must be between 0 and 100")
        if name == "success_rate_percent":  # lower is worse
            if limits.critical >= limits.warning:
                raise ValueError(f"critical ({limits.critical:g}) must be below warning ({limits.warning:g})")
        elif limits.critical <= limits.warning:
            raise ValueError(f"critical ({limits.critical:g}) must be above warning ({limits.warning:g})")
        return limits


AlertStep = Literal["log", "notify_user", "attempt_recovery", "escalate_to_human", "emergency_stop"]


class Escalation(_Section):
    CRITICAL: list[AlertStep]
    HIGH: list[AlertStep]
    MEDIUM: list[AlertStep]
    LOW: list[AlertStep]
    INFO: list[AlertStep]

    @model_validator(mode="after")
    def _stop_only_when_critical(self):
        for level in ("HIGH", "MEDIUM", "LOW", "INFO"):
            if "emergency_stop" in getattr(self, level):
                raise ValueError(f"{level}: emergency_stop is allowed only for CRITICAL")
        return self


class EmergencyStop(_Section):
    critical_count: int = Field(ge=2, le=100)
    window_seconds: float = Field(gt=0, le=86400)


class Alerts(_Section):
    enabled: bool
    thresholds: Thresholds
    rate_window_events: int = Field(ge=5, le=100)
    escalation: Escalation
    emergency_stop: EmergencyStop
    log_max_bytes: int = Field(ge=4096, le=1 << 30)


class Guard(_Section):
    # The loop window keeps the last 12 runs per hook (features/guarded_hooks.RECENT_KEEP).
    failure_threshold: int = Field(ge=1, le=100)
    cooldown_seconds: float = Field(ge=0, le=86400)
    loop_window_seconds: float = Field(gt=0, le=86400)
    loop_max_runs: int = Field(ge=2, le=12)
    loop_repeat_limit: int = Field(ge=2, le=12)
    warn_interval_seconds: float = Field(ge=0, le=86400)
    kill_grace_seconds: float = Field(gt=0, le=10)


class Limits(_Section):
    state_size_bytes: int = Field(ge=64 * 1024, le=1 << 34)
    event_count: int = Field(ge=100, le=10_000_000)
    min_free_disk_bytes: int = Field(ge=0, le=1 << 40)
    archive_idle_hours: float = Field(gt=0, le=24 * 365)
    agent_silent_minutes: float = Field(gt=0, le=7 * 24 * 60)
    pending_messages: int = Field(ge=1, le=10_000_000)
    checkpoints_kept: int = Field(ge=1, le=1000)
    backups_kept: int = Field(ge=1, le=1000)
    backup_interval_minutes: float = Field(ge=0, le=7 * 24 * 60)


class Coordination(_Section):
    enabled: bool
    max_concurrent_agents: int = Field(ge=0, le=100)  # 0 = no limit
    agent_timeout_seconds: float = Field(ge=10, le=86400)
    lost_agent_grace_seconds: float = Field(ge=0, le=3600)
    spawn_failure_limit: int = Field(ge=1, le=20)
    spawn_backoff_base_seconds: float = Field(ge=0, le=3600)
    spawn_backoff_cap_seconds: float = Field(ge=0, le=86400)
    message_backoff_cap_seconds: float = Field(ge=0, le=86400)
    queue_max: int = Field(ge=10, le=10000)
    queue_keep_normal: int = Field(ge=0, le=10000)


class Redaction(_Section):
    # Each extra pattern is compiled by redact/redactor.py, which skips and reports a bad one (keeping
    # the good ones) rather than dropping the whole list here.
    enabled: bool
    extra_patterns: list[str]
    allow: list[str]


class Telemetry(_Section):
    enabled: bool
    include_paths: bool
    export_interval_seconds: float = Field(ge=5, le=86400)
    environment: dict[str, str]

    @field_validator("environment")
    @classmethod
    def _otel_names(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = sorted(name for name in value if not name.startswith("OTEL_"))
        if wrong:
            raise ValueError(f"only OTEL_* variables belong here, not {', '.join(wrong)}")
        return value


class LifeguardConfig(_Section):
    enabled: bool = Field(strict=True)  # exactly true or false: switch.py reads the raw file
    locks: Locks
    helper: Helper
    telemetry: Telemetry
    redaction: Redaction
    limits: Limits
    alerts: Alerts
    loops: Loops
    breakers: Breakers
    guard: Guard
    coordination: Coordination


def validation_errors(data: dict) -> list[tuple[tuple, str]]:
    """(where, what is wrong in plain words: "is not a whole number") for each bad value."""
    try:
        LifeguardConfig.model_validate(data)
    except ValidationError as exc:
        return [(tuple(err["loc"]), _plain(err)) for err in exc.errors()]
    return []


_WORDS = {
    "int_parsing": "is not a whole number", "int_type": "is not a whole number",
    "int_from_float": "is not a whole number", "float_parsing": "is not a number", "float_type": "is not a number",
    "bool_parsing": "is not true or false", "bool_type": "is not true or false", "list_type": "is not a list",
    "string_type": "is not a string", "dict_type": "is not an object ({...})", "model_type": "is not an object ({...})",
    "model_attributes_type": "is not an object ({...})", "extra_forbidden": "is not a setting here (a typo?)",
}
_BOUNDS = {"greater_than_equal": ("ge", "is below the minimum"), "greater_than": ("gt", "must be more than"),
           "less_than_equal": ("le", "is above the maximum"), "less_than": ("lt", "must be less than")}


def _plain(err: dict) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind in _WORDS:
        return _WORDS[kind]
    if kind in _BOUNDS and _BOUNDS[kind][0] in ctx:
        key, words = _BOUNDS[kind]
        bound = ctx[key]
        return f"{words} {bound:g}" if isinstance(bound, float) else f"{words} {bound}"
    message = str(err.get("msg") or kind)
    return message.removeprefix("Value error, ")
