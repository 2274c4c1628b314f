"""The error taxonomy: every incident lifeguard records carries one of these codes."""

from __future__ import annotations

from collections import namedtuple

# code, category, severity ("info" | "warning" | "error" | "critical"), summary. A plain
# namedtuple, not typing.NamedTuple: the hot hooks import this module, and typing is costly.
ErrorCode = namedtuple("ErrorCode", "code category severity summary")


_TABLE = [
    # session management
    ("SESSION_INIT_FAILED", "session", "error", "Session state initialization failed"),
    ("WORKSPACE_ACCESS_DENIED", "session", "error", "Insufficient permissions on the .claude folder"),
    ("CONFIG_CORRUPTED", "session", "warning", "Invalid or corrupted configuration file"),
    ("RESOURCE_EXHAUSTION", "session", "error", "Insufficient system resources"),
    ("SESSION_TIMEOUT", "session", "warning", "Session exceeded its maximum lifetime"),
    ("SESSION_CORRUPTED", "session", "critical", "Session state failed validation"),
    ("SESSION_LOCKED", "session", "warning", "Session state locked by another process"),
    ("SESSION_ZOMBIE", "session", "warning", "Session exists but is unresponsive"),
    # state management
    ("STATE_CONFLICT", "state", "warning", "Concurrent modification conflict"),
    ("STATE_SIZE_EXCEEDED", "state", "warning", "State exceeds its size limit"),
    ("STATE_VALIDATION_FAILED", "state", "error", "State failed schema validation"),
    ("STATE_CIRCULAR_REFERENCE", "state", "error", "Circular reference in state"),
    ("STATE_SIZE_LIMIT_EXCEEDED", "state", "warning", "State size exceeds configured limits"),
    ("MEMORY_EXHAUSTION", "state", "error", "Insufficient memory for state operations"),
    ("PERSISTENCE_FAILED", "state", "error", "Writing state to disk failed"),
    ("CACHE_OVERFLOW", "state", "warning", "In-memory cache exceeded capacity"),
    ("LOG_TORN_LINE", "state", "warning", "A torn event-log line was quarantined"),
    # agent coordination
    ("AGENT_SPAWN_FAILED", "agent", "error", "Subagent could not be started"),
    ("AGENT_TIMEOUT", "agent", "warning", "Subagent exceeded its time limit"),
    ("AGENT_CRASHED", "agent", "error", "Subagent terminated unexpectedly"),
    ("AGENT_COMMUNICATION_LOST", "agent", "error", "Lost contact with a subagent"),
    ("AGENT_CAPACITY_EXCEEDED", "agent", "warning", "Too many concurrent subagents"),
    ("TASK_ASSIGNMENT_FAILED", "task", "warning", "Unable to assign task"),
    ("CIRCULAR_DEPENDENCY", "task", "error", "Circular dependency in the task graph"),
    ("DEPENDENCY_DEADLOCK", "task", "error", "Tasks waiting on each other"),
    ("TASK_ORPHANED", "task", "warning", "Task owned by an agent that is gone"),
    ("TASK_DATA_INVALID", "task", "warning", "Task data failed validation"),
    # hook execution
    ("HOOK_EXECUTION_FAILED", "hook", "error", "Hook script execution failed"),
    ("HOOK_TIMEOUT", "hook", "error", "Hook exceeded its time limit"),
    ("HOOK_INFINITE_LOOP", "hook", "error", "Hook appears to be re-entering in a loop"),
    ("HOOK_PERMISSION_DENIED", "hook", "error", "Hook command is not executable"),
    ("HOOK_DEPENDENCY_MISSING", "hook", "error", "Hook command or dependency not found"),
    ("HOOK_INPUT_INVALID", "hook", "warning", "Hook received input it could not parse"),
    ("HOOK_HELPER_LOST", "hook", "error", "The resident helper stopped while running a hook"),
    # tool loops and breakers
    ("TOOL_LOOP_DETECTED", "loop", "warning", "The same tool call keeps repeating"),
    ("TOOL_LOOP_BLOCKED", "loop", "error", "A repeating tool call was refused"),
    ("CIRCUIT_OPEN", "loop", "error", "A tool's circuit breaker is open"),
    ("STOP_LOOP_DETECTED", "loop", "warning", "Stop keeps coming back with the same message"),
    # communication
    ("MESSAGE_QUEUE_OVERFLOW", "communication", "warning", "Message queue exceeded capacity"),
    ("MESSAGE_DELIVERY_FAILED", "communication", "error", "Message could not be delivered"),
    ("MESSAGE_CORRUPTION", "communication", "error", "Message data corrupted"),
    ("CHANNEL_UNAVAILABLE", "communication", "warning", "Communication channel not accessible"),
    ("BROADCAST_FAILED", "communication", "warning", "Broadcast did not reach every recipient"),
    # performance and resources (alert thresholds, see thresholds.py and features/metrics.py)
    ("PERFORMANCE_DEGRADED", "performance", "warning", "An operation is slower than its alert threshold"),
    ("ERROR_RATE_HIGH", "performance", "warning", "Tool calls fail more often than the alert threshold"),
    ("METRIC_RECOVERED", "performance", "info", "A measure is back within its alert thresholds"),
    # lifeguard itself
    ("INTERNAL_ERROR", "internal", "error", "Lifeguard hit an internal fault and failed open"),
]

CODES: dict[str, ErrorCode] = {row[0]: ErrorCode(*row) for row in _TABLE}


def lookup(code: str) -> ErrorCode:
    """The entry for `code`; unknown codes map to a generic internal error, never raise."""
    return CODES.get(code) or ErrorCode(code, "internal", "error", "Unknown error code")
