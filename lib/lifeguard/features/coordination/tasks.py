"""Task data validation (the spec's TaskDataValidator), for Claude Code's task tools.

Each function returns None when the data is fine, else one clear sentence saying what is
wrong and what would be right. Nothing here raises on odd input: a wrong type is a message.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # typing costs a hot hook several ms to import; annotations are strings
if TYPE_CHECKING:
    from typing import Any

# Claude Code's TaskUpdate statuses, plus the spec's task statuses for stored tasks.
UPDATE_STATUSES = ("pending", "in_progress", "completed", "deleted")
TASK_STATUSES = ("pending", "assigned", "in_progress", "review", "completed", "blocked", "cancelled", "deleted")
PRIORITIES = ("critical", "high", "medium", "low")
MAX_SUBJECT = 500
MAX_LINKS = 100


# (valid: bool, error: str | None); a plain namedtuple keeps typing off the hot path
ValidationResult = namedtuple("ValidationResult", "valid error", defaults=(None,))


def _id_list(value: Any, field: str) -> str | None:
    if not isinstance(value, list):
        return f"{field} must be a list of task ids (e.g. [\"2\"]), not {type(value).__name__}"
    if len(value) > MAX_LINKS:
        return f"{field} lists {len(value)} tasks; at most {MAX_LINKS} at once"
    for item in value:
        if not isinstance(item, (str, int)) or isinstance(item, bool) or not str(item).strip():
            return f"{field} must hold task ids such as \"2\"; {item!r} is not one"
    return None


def _priority(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return f"metadata must be an object, not {type(metadata).__name__}"
    priority = metadata.get("priority")
    if priority is not None and priority not in PRIORITIES:
        return f"metadata.priority {priority!r} is not one of {', '.join(PRIORITIES)}"
    return None


def validate_create(tool_input: Any) -> str | None:
    """TaskCreate input: a non-empty subject, a description, an optional valid priority."""
    if not isinstance(tool_input, dict):
        return "TaskCreate input must be an object with subject and description"
    subject = tool_input.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        return "TaskCreate needs a non-empty subject (a brief title for the task)"
    if len(subject) > MAX_SUBJECT:
        return f"the task subject is {len(subject)} characters; keep it under {MAX_SUBJECT} (put details in description)"
    if "description" in tool_input and not isinstance(tool_input["description"], str):
        return "TaskCreate description must be text"
    return _priority(tool_input.get("metadata"))


def validate_update(tool_input: Any) -> str | None:
    """TaskUpdate input: a task id, a known status, id lists for the links, a valid priority."""
    if not isinstance(tool_input, dict):
        return "TaskUpdate input must be an object with taskId"
    task_id = tool_input.get("taskId")
    if not isinstance(task_id, (str, int)) or isinstance(task_id, bool) or not str(task_id).strip():
        return "TaskUpdate needs taskId, the id of the task to update (e.g. \"1\")"
    status = tool_input.get("status")
    if status is not None and status not in UPDATE_STATUSES:
        return f"status {status!r} is not one of {', '.join(UPDATE_STATUSES)}"
    for field in ("addBlocks", "addBlockedBy"):
        if field in tool_input and tool_input[field] is not None:
            problem = _id_list(tool_input[field], field)
            if problem:
                return problem
    owner = tool_input.get("owner")
    if owner is not None and not isinstance(owner, str):
        return "owner must be an agent name (text)"
    return _priority(tool_input.get("metadata"))


def validate_task(task: Any) -> ValidationResult:
    """A stored task record, checked as the spec's TaskDataValidator checks task data."""
    if not isinstance(task, dict):
        return ValidationResult(False, "task data must be an object")
    missing = [f for f in ("id", "title", "status", "priority") if f not in task]
    if missing:
        return ValidationResult(False, f"Missing required fields: {', '.join(missing)}")
    if task["status"] not in TASK_STATUSES:
        return ValidationResult(False, f"Invalid status: {task['status']}")
    if task["priority"] not in PRIORITIES:
        return ValidationResult(False, f"Invalid priority: {task['priority']}")
    for field in ("dependencies", "blocks", "blocked_by"):
        if field in task and not isinstance(task[field], list):
            return ValidationResult(False, f"{field.capitalize()} must be a list")
    return ValidationResult(True)
