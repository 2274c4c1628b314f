"""The error taxonomy: every incident lifeguard records carries one of these codes.

Code that raises one names it by its constant (`codes.SESSION_LOCKED`), never by a string
literal, so `grep` finds every place a code is raised and a typo fails at import. Stdlib only
(collections): any layer may import this module."""

from __future__ import annotations

from collections import namedtuple

# code, category, severity ("info" | "warning" | "error" | "critical"), summary. A plain
# namedtuple, not typing.NamedTuple: the hot hooks import this module, and typing is costly.
ErrorCode = namedtuple("ErrorCode", "code category severity summary")

WORKSPACE_ACCESS_DENIED = "WORKSPACE_ACCESS_DENIED"
CONFIG_CORRUPTED = "CONFIG_CORRUPTED"
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
    (WORKSPACE_ACCESS_DENIED, "session", "error", "Insufficient permissions on the .claude folder"),
    (CONFIG_CORRUPTED, "session", "warning", "Invalid or corrupted configuration file"),
    (RESOURCE_EXHAUSTION, "session", "error", "Insufficient system resources"),
    (SESSION_CORRUPTED, "session", "critical", "Session state failed validation"),
    (SESSION_LOCKED, "session", "warning", "Session state locked by another process"),
    # state management
    (STATE_CONFLICT, "state", "warning", "Concurrent modification conflict"),
    (STATE_SIZE_EXCEEDED, "state", "warning", "State exceeds its size limit"),
    (STATE_VALIDATION_FAILED, "state", "error", "State failed schema validation"),
    (STATE_SIZE_LIMIT_EXCEEDED, "state", "warning", "State size exceeds configured limits"),
    (MEMORY_EXHAUSTION, "state", "error", "Insufficient memory for state operations"),
    (PERSISTENCE_FAILED, "state", "error", "Writing state to disk failed"),
    (LOG_TORN_LINE, "state", "warning", "A torn event-log line was quarantined"),
    # agent coordination
    (AGENT_SPAWN_FAILED, "agent", "error", "Subagent could not be started"),
    (AGENT_TIMEOUT, "agent", "warning", "Subagent exceeded its time limit"),
    (AGENT_CRASHED, "agent", "error", "Subagent terminated unexpectedly"),
    (AGENT_CAPACITY_EXCEEDED, "agent", "warning", "Too many concurrent subagents"),
    (TASK_ASSIGNMENT_FAILED, "task", "warning", "Unable to assign task"),
    (CIRCULAR_DEPENDENCY, "task", "error", "Circular dependency in the task graph"),
    (DEPENDENCY_DEADLOCK, "task", "error", "Tasks waiting on each other"),
    (TASK_ORPHANED, "task", "warning", "Task owned by an agent that is gone"),
    (TASK_DATA_INVALID, "task", "warning", "Task data failed validation"),
    # hook execution
    (HOOK_EXECUTION_FAILED, "hook", "error", "Hook script execution failed"),
    (HOOK_TIMEOUT, "hook", "error", "Hook exceeded its time limit"),
    (HOOK_INFINITE_LOOP, "hook", "error", "Hook appears to be re-entering in a loop"),
    (HOOK_PERMISSION_DENIED, "hook", "error", "Hook command is not executable"),
    (HOOK_DEPENDENCY_MISSING, "hook", "error", "Hook command or dependency not found"),
    (HOOK_INPUT_INVALID, "hook", "warning", "Hook received input it could not parse"),
    (HOOK_HELPER_LOST, "hook", "error", "The resident helper stopped while running a hook"),
    # tool loops and breakers
    (TOOL_LOOP_DETECTED, "loop", "warning", "The same tool call keeps repeating"),
    (TOOL_LOOP_BLOCKED, "loop", "error", "A repeating tool call was refused"),
    (CIRCUIT_OPEN, "loop", "error", "A tool's circuit breaker is open"),
    (STOP_LOOP_DETECTED, "loop", "warning", "Stop keeps coming back with the same message"),
    # communication
    (MESSAGE_DELIVERY_FAILED, "communication", "error", "Message could not be delivered"),
    # performance and resources (alert thresholds, see thresholds.py and features/metrics.py)
    (PERFORMANCE_DEGRADED, "performance", "warning", "An operation is slower than its alert threshold"),
    (ERROR_RATE_HIGH, "performance", "warning", "Tool calls fail more often than the alert threshold"),
    (METRIC_RECOVERED, "performance", "info", "A measure is back within its alert thresholds"),
    # lifeguard itself
    (INTERNAL_ERROR, "internal", "error", "Lifeguard hit an internal fault and failed open"),
]

CODES: dict[str, ErrorCode] = {row[0]: ErrorCode(*row) for row in _TABLE}


def lookup(code: str) -> ErrorCode:
    """The entry for `code`; unknown codes map to a generic internal error, never raise."""
    return CODES.get(code) or ErrorCode(code, "internal", "error", "Unknown error code")
