"""The error taxonomy: every incident lifeguard records carries one of these codes.

Code that raises one names it by its constant (`codes.SESSION_LOCKED`), never by a string
literal, so `grep` finds every place a code is raised and a typo fails at import. Imports
nothing: any layer may import this module.

Severity follows consequence (docs/severity.md): info (repaired, nothing lost), low (bytes that
were never part of the record went to quarantine), medium (bytes holding recorded data went to
quarantine), high (could not repair; a feature is off), critical (data could not be recovered, or
a person must act now). The severity here is a code's default; a notice carries its own
`"severity"` when the consequence depends on the case (a repair knows whether it lost anything).
"""

from __future__ import annotations


class ErrorCode:
    """A code's entry: code, category, severity (one of SEVERITIES), summary. A plain class: the
    hot hooks import this module, and typing.NamedTuple costs them typing, a namedtuple 0.13 ms."""

    __slots__ = ("code", "category", "severity", "summary")

    def __init__(self, code: str, category: str, severity: str, summary: str) -> None:
        self.code, self.category, self.severity, self.summary = code, category, severity, summary


SEVERITIES = ("info", "low", "medium", "high", "critical")  # mildest first

WORKSPACE_ACCESS_DENIED = "WORKSPACE_ACCESS_DENIED"
CONFIG_CORRUPTED = "CONFIG_CORRUPTED"
CONFIG_INVALID = "CONFIG_INVALID"
FEATURES_OFF = "FEATURES_OFF"
RESOURCE_EXHAUSTION = "RESOURCE_EXHAUSTION"
SESSION_CORRUPTED = "SESSION_CORRUPTED"
SESSION_LOCKED = "SESSION_LOCKED"
STATE_CONFLICT = "STATE_CONFLICT"
STATE_SIZE_EXCEEDED = "STATE_SIZE_EXCEEDED"
STATE_VALIDATION_FAILED = "STATE_VALIDATION_FAILED"
STATE_SIZE_LIMIT_EXCEEDED = "STATE_SIZE_LIMIT_EXCEEDED"
MEMORY_EXHAUSTION = "MEMORY_EXHAUSTION"
PERSISTENCE_FAILED = "PERSISTENCE_FAILED"
LOG_TORN_LINE = "LOG_TORN_LINE"
STATE_REPAIRED = "STATE_REPAIRED"
EVENTS_QUARANTINED = "EVENTS_QUARANTINED"
FOREIGN_FILE_QUARANTINED = "FOREIGN_FILE_QUARANTINED"
SESSIONS_ARCHIVED = "SESSIONS_ARCHIVED"
LOG_COMPACTED = "LOG_COMPACTED"
AGENT_SPAWN_FAILED = "AGENT_SPAWN_FAILED"
AGENT_TIMEOUT = "AGENT_TIMEOUT"
AGENT_CRASHED = "AGENT_CRASHED"
AGENT_CAPACITY_EXCEEDED = "AGENT_CAPACITY_EXCEEDED"
TASK_ASSIGNMENT_FAILED = "TASK_ASSIGNMENT_FAILED"
CIRCULAR_DEPENDENCY = "CIRCULAR_DEPENDENCY"
DEPENDENCY_DEADLOCK = "DEPENDENCY_DEADLOCK"
TASK_ORPHANED = "TASK_ORPHANED"
TASK_DATA_INVALID = "TASK_DATA_INVALID"
HOOK_EXECUTION_FAILED = "HOOK_EXECUTION_FAILED"
HOOK_TIMEOUT = "HOOK_TIMEOUT"
HOOK_INFINITE_LOOP = "HOOK_INFINITE_LOOP"
HOOK_PERMISSION_DENIED = "HOOK_PERMISSION_DENIED"
HOOK_DEPENDENCY_MISSING = "HOOK_DEPENDENCY_MISSING"
HOOK_INPUT_INVALID = "HOOK_INPUT_INVALID"
HOOK_HELPER_LOST = "HOOK_HELPER_LOST"
TOOL_LOOP_DETECTED = "TOOL_LOOP_DETECTED"
TOOL_LOOP_BLOCKED = "TOOL_LOOP_BLOCKED"
CIRCUIT_OPEN = "CIRCUIT_OPEN"
STOP_LOOP_DETECTED = "STOP_LOOP_DETECTED"
MESSAGE_DELIVERY_FAILED = "MESSAGE_DELIVERY_FAILED"
PERFORMANCE_DEGRADED = "PERFORMANCE_DEGRADED"
ERROR_RATE_HIGH = "ERROR_RATE_HIGH"
METRIC_RECOVERED = "METRIC_RECOVERED"
INTERNAL_ERROR = "INTERNAL_ERROR"

_TABLE = [
    # session management
    (WORKSPACE_ACCESS_DENIED, "session", "medium", "Insufficient permissions on the .claude folder"),
    (CONFIG_CORRUPTED, "session", "medium", "Configuration file unreadable: every default is used"),
    (CONFIG_INVALID, "session", "low", "A configuration value is unusable: its default is used"),
    (FEATURES_OFF, "session", "info", "Features turned off by LIFEGUARD_SKIP"),
    (RESOURCE_EXHAUSTION, "session", "medium", "Insufficient system resources"),
    (SESSION_CORRUPTED, "session", "critical", "Session state damaged beyond recovery: it started clean"),
    (SESSION_LOCKED, "session", "low", "Session state locked by another process"),
    # state management
    (STATE_CONFLICT, "state", "low", "Concurrent modification conflict"),
    (STATE_SIZE_EXCEEDED, "state", "low", "State exceeds its size limit"),
    (STATE_VALIDATION_FAILED, "state", "high", "State failed schema validation"),
    (STATE_SIZE_LIMIT_EXCEEDED, "state", "low", "State size exceeds configured limits"),
    (MEMORY_EXHAUSTION, "state", "medium", "Insufficient memory for state operations"),
    (PERSISTENCE_FAILED, "state", "high", "Writing state to disk failed"),
    (LOG_TORN_LINE, "state", "low", "A torn event-log line was quarantined"),
    (STATE_REPAIRED, "state", "info", "Session state repaired; nothing was lost"),
    (EVENTS_QUARANTINED, "state", "medium", "Damaged events or state moved to quarantine"),
    (FOREIGN_FILE_QUARANTINED, "state", "low", "A file not lifeguard's, where it writes, moved to quarantine"),
    (SESSIONS_ARCHIVED, "state", "info", "Stale sessions archived"),
    (LOG_COMPACTED, "state", "info", "Event log compacted into a snapshot"),
    # agent coordination
    (AGENT_SPAWN_FAILED, "agent", "medium", "Subagent could not be started"),
    (AGENT_TIMEOUT, "agent", "low", "Subagent exceeded its time limit"),
    (AGENT_CRASHED, "agent", "high", "Subagent terminated unexpectedly"),
    (AGENT_CAPACITY_EXCEEDED, "agent", "low", "Too many concurrent subagents"),
    (TASK_ASSIGNMENT_FAILED, "task", "low", "Unable to assign task"),
    (CIRCULAR_DEPENDENCY, "task", "medium", "Circular dependency in the task graph"),
    (DEPENDENCY_DEADLOCK, "task", "medium", "Tasks waiting on each other"),
    (TASK_ORPHANED, "task", "low", "Task owned by an agent that is gone"),
    (TASK_DATA_INVALID, "task", "low", "Task data failed validation"),
    # hook execution
    (HOOK_EXECUTION_FAILED, "hook", "high", "Hook script execution failed"),
    (HOOK_TIMEOUT, "hook", "medium", "Hook exceeded its time limit"),
    (HOOK_INFINITE_LOOP, "hook", "medium", "Hook appears to be re-entering in a loop"),
    (HOOK_PERMISSION_DENIED, "hook", "medium", "Hook command is not executable"),
    (HOOK_DEPENDENCY_MISSING, "hook", "medium", "Hook command or dependency not found"),
    (HOOK_INPUT_INVALID, "hook", "low", "Hook received input it could not parse"),
    (HOOK_HELPER_LOST, "hook", "medium", "The resident helper stopped while running a hook"),
    # tool loops and breakers
    (TOOL_LOOP_DETECTED, "loop", "low", "The same tool call keeps repeating"),
    (TOOL_LOOP_BLOCKED, "loop", "medium", "A repeating tool call was refused"),
    (CIRCUIT_OPEN, "loop", "medium", "A tool's circuit breaker is open"),
    (STOP_LOOP_DETECTED, "loop", "low", "Stop keeps coming back with the same message"),
    # communication
    (MESSAGE_DELIVERY_FAILED, "communication", "high", "Message could not be delivered"),
    # performance and resources (alert thresholds, see thresholds.py and features/metrics.py)
    (PERFORMANCE_DEGRADED, "performance", "medium", "An operation is slower than its alert threshold"),
    (ERROR_RATE_HIGH, "performance", "medium", "Tool calls fail more often than the alert threshold"),
    (METRIC_RECOVERED, "performance", "info", "A measure is back within its alert thresholds"),
    # lifeguard itself
    (INTERNAL_ERROR, "internal", "medium", "Lifeguard hit an internal fault and failed open"),
]

CODES: dict[str, ErrorCode] = {row[0]: ErrorCode(*row) for row in _TABLE}


def lookup(code: str) -> ErrorCode:
    """The entry for `code`; unknown codes map to a generic internal error, never raise."""
    return CODES.get(code) or ErrorCode(code, "internal", "medium", "Unknown error code")


def severity_of(notice: dict) -> str:
    """A notice's severity: its own when it names a known one, else its code's default."""
    given = notice.get("severity")
    return given if given in SEVERITIES else lookup(str(notice.get("code") or "")).severity
