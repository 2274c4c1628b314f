"""What the user reads when something goes wrong: one template per error code.

Each template says what happened, why it usually happens, what to do, how to keep working
meanwhile, whether data is safe, and what lifeguard does by itself. Placeholders such as
{repair_all} are filled with this workspace's own commands and paths by `render`.

Stdlib only: the alerts feature renders these on the hot path when a notice escalates.
"""

from __future__ import annotations

from typing import NamedTuple
from . import codes

FIELDS = ("title", "message", "causes", "actions", "workaround", "data_safety", "automatic")


class Template(NamedTuple):
    title: str
    message: str
    causes: tuple[str, ...]
    actions: tuple[str, ...]
    workaround: str
    data_safety: str
    automatic: str


def _t(title, message, causes, actions, workaround, data_safety, automatic) -> Template:
    return Template(title, message, tuple(causes), tuple(actions), workaround, data_safety, automatic)


# Placeholders ({repair_all}, {state_dir}, ...) are filled by `guidance(layout)`.
_KEPT = "Nothing is deleted: damaged bytes are kept in {quarantine} and backups in {backups}."
_LOG_TRUTH = "The event log is the record of truth; the state is rebuilt from it. " + _KEPT
_NO_DATA = "Your session data is not affected."
_FAIL_OPEN = "Lifeguard fails open: your session goes on without this check; the fault is recorded in {faults}."

TEMPLATES: dict[str, Template] = {
    # -- session management ---------------------------------------------------------
    codes.WORKSPACE_ACCESS_DENIED: _t(
        "No permission on the .claude folder",
        "Lifeguard cannot read or write its state folder.",
        ["The folder belongs to another user (e.g. created with sudo)", "A read-only file system or mount",
         "Permissions changed by hand"],
        ["Check the owner and mode: ls -ld {state_dir}", "Give it back to yourself: chown -R \"$USER\" {state_dir}",
         "Then verify: {doctor}"],
        "Claude Code keeps working without lifeguard's state until the folder is writable.",
        "Nothing was written or removed; existing state is untouched.",
        "Lifeguard fails open on every hook and catches up from the event log once writing works again.",
    ),
    codes.CONFIG_CORRUPTED: _t(
        "Unreadable lifeguard configuration",
        "{config} cannot be read as a JSON object; every default is used.",
        ["A hand edit that left invalid JSON", "The file was cut short"],
        ["See each problem and its fix: {doctor}", "Edit {config} (the defaults are in lib/lifeguard/config/load.py)",
         "Or go back to the defaults: {emergency_reset}"],
        "Nothing to do right away: every invalid value falls back to its default.",
        _NO_DATA, "Each invalid value is replaced by its default; the problem is reported once per change.",
    ),
    codes.RESOURCE_EXHAUSTION: _t(
        "Not enough system resources",
        "The machine is short of disk space, memory or CPU for lifeguard's work.",
        ["Disk almost full", "Other processes using most memory or CPU", "A very large state or event log"],
        ["Check free space: df -h {state_dir}", "Find large sessions: {analyze}",
         "Back up and clean old state: {backup} then {emergency_clean}"],
        "Close other heavy programs; lifeguard keeps working in memory for a hook that cannot write.",
        _KEPT, "Lifeguard archives completed work and compacts large logs when limits are reached.",
    ),
    codes.SESSION_CORRUPTED: _t(
        "Session state could not be recovered",
        "A session's state, its event log and its backups were all unusable, so it started clean: "
        "lifeguard's record of that session before now is gone.",
        ["An unexpected shutdown or kill during a write", "A hand edit of the state or log files",
         "Disk or file-system errors"],
        ["See what is damaged: {analyze}", "Look for a backup to go back to: {list_backups}",
         "and restore one: {restore}", "The unusable files are in {quarantine}"],
        "Keep working: the session goes on with a fresh state.",
        "The damaged files were moved to {quarantine}, not deleted; what they held could not be read back.",
        "Nothing more: this needs a person to decide whether a backup should be restored.",
    ),
    codes.SESSION_LOCKED: _t(
        "Session state locked by another process",
        "Another hook held this session's lock for longer than the wait allows.",
        ["Several hooks running at once (parallel tool calls)", "A slow disk", "A hung process holding the lock"],
        ["Usually nothing: the event was kept in the spool and is applied by the next hook",
         "If it repeats, check the installation: {doctor}", "Look for stuck processes: ps aux | grep lifeguard"],
        "Keep working; no event is lost.",
        "The event was written to {state_dir}/spool/ and is applied by the next hook.",
        "The next hook drains the spool into the event log in order.",
    ),
    # -- state management -----------------------------------------------------------
    codes.STATE_CONFLICT: _t(
        "Concurrent modification conflict",
        "Two writers changed the same session state at the same time.",
        ["Two Claude Code windows sharing one session id", "A tool editing files in {state_dir}"],
        ["Close the duplicate window", "Check the state: {analyze}", "Repair if needed: {repair_all}"],
        "Work in one window per session.",
        _LOG_TRUTH, "The session lock serialises writers; the log decides what happened.",
    ),
    codes.STATE_SIZE_EXCEEDED: _t(
        "Session state is too large",
        "The state has grown past its size limit.",
        ["A very long session", "Many subagents or tasks kept in the state"],
        ["See the sizes: {analyze}", "Back up: {backup}", "Start a new session when convenient"],
        "Keep working; lifeguard trims what it keeps.",
        _KEPT, "Completed work is archived and the log compacted; archives are kept, not deleted.",
    ),
    codes.STATE_VALIDATION_FAILED: _t(
        "State failed schema validation",
        "The session state does not have the shape lifeguard expects.",
        ["A hand edit of the state file", "A state written by a newer lifeguard version",
         "A partially written file after a crash"],
        ["See each problem: {analyze}", "Repair: {repair_all}", "Or list the backups: {list_backups}",
         "and restore one: {restore}"],
        "Lifeguard rebuilds the state from the event log; you can keep working.",
        _LOG_TRUTH, "Missing sections are filled from the defaults, or the state is rebuilt from the log.",
    ),
    codes.STATE_SIZE_LIMIT_EXCEEDED: _t(
        "State size exceeds the configured limit",
        "The state is over the size limit set in {config}.",
        ["A long session", "A limit set too low in {config}"],
        ["See the sizes: {analyze}", "Raise the limit in {config} if it is too low", "Back up: {backup}"],
        "Keep working; lifeguard applies its graded cleanup.",
        _KEPT, "Lifeguard archives completed work (kept, not deleted) to get back under the limit.",
    ),
    codes.MEMORY_EXHAUSTION: _t(
        "Not enough memory for state operations",
        "A hook ran out of memory while handling the session state.",
        ["Other programs using most of the memory", "A very large state or event log"],
        ["Free some memory", "Find large sessions: {analyze}"],
        "Lifeguard fails open; Claude Code keeps working.",
        _LOG_TRUTH, _FAIL_OPEN,
    ),
    codes.PERSISTENCE_FAILED: _t(
        "Writing state to disk failed",
        "Lifeguard could not write its state or event log.",
        ["Disk full", "A read-only or failing disk", "Permissions changed on {state_dir}"],
        ["Check free space: df -h {state_dir}", "Check the installation: {doctor}",
         "Then look at the state: {analyze}"],
        "Claude Code keeps working; lifeguard catches up when writing works again.",
        "What was committed before stays intact; a write that failed was never half-applied.",
        "Writes are atomic; the next hook retries and catches up from the log.",
    ),
    codes.LOG_TORN_LINE: _t(
        "A damaged event-log line was set aside",
        "The end of the event log held a partial line (a write cut short) and was quarantined.",
        ["A crash or kill -9 in the middle of a write", "Disk full during a write"],
        ["Nothing needed; to check every session: {analyze}", "The damaged bytes are in {quarantine}"],
        "Keep working.", "Every complete event is kept; only the partial line was moved to {quarantine}.",
        "The log is cut back to its last good line before the next append.",
    ),
    codes.STATE_REPAIRED: _t(
        "Session state repaired",
        "A session's state file was damaged and lifeguard rebuilt it; nothing was lost.",
        ["A kill or crash while the state file was written", "A hand edit of the state file"],
        ["Nothing needed; to check every session: {analyze}"],
        "Keep working.", "Every recorded event is kept; the damaged copy is in {quarantine}.",
        "The state is rebuilt from the event log whenever it cannot be read.",
    ),
    codes.EVENTS_QUARANTINED: _t(
        "Damaged events set aside",
        "Part of a session's event log or state was damaged; lifeguard kept every good part and moved "
        "the rest to quarantine.",
        ["Disk or file-system errors", "A hand edit of the log", "A crash during a write on a file system "
         "without ordered writes"],
        ["See what was set aside: {quarantine}", "Check every session: {analyze}"],
        "Keep working.", "The damaged bytes are in {quarantine}; the session goes on from its good events.",
        "The log is rebased on a snapshot of what could be kept, so it loads cleanly from now on.",
    ),
    codes.FOREIGN_FILE_QUARANTINED: _t(
        "A foreign file was moved aside",
        "Something that is not lifeguard's (a link or a file) sat where lifeguard writes; it was moved to "
        "quarantine instead of written through.",
        ["Another tool or a person put it there", "A link planted to redirect lifeguard's writes"],
        ["Look at what was moved: {quarantine}"],
        "Keep working.", "Nothing of yours was overwritten; the file is in {quarantine}.",
        "Lifeguard never writes through links; it moves them aside.",
    ),
    codes.SESSIONS_ARCHIVED: _t(
        "Stale sessions archived",
        "Sessions with no activity for a long time were moved to the archive.",
        ["Old sessions (limits.stale_session_hours)"],
        ["Nothing needed; they are kept in {state_dir}/archive"],
        "Keep working.", "Nothing was deleted: archived sessions are kept in the archive folder.",
        "Stale sessions are archived at session start.",
    ),
    codes.LOG_COMPACTED: _t(
        "Event log compacted",
        "A long event log was compacted into a snapshot; the old segment was archived.",
        ["A long session (limits.event_count)"],
        ["Nothing needed"],
        "Keep working.", "Nothing was deleted: the old segment is in the archive folder.",
        "Logs are compacted when they pass limits.event_count events.",
    ),
    codes.CONFIG_INVALID: _t(
        "A lifeguard setting is unusable",
        "A value in {config} is not usable; its default is used instead.",
        ["A typo or a value out of range in {config}"],
        ["See each problem and its fix: {doctor}", "Edit {config}"],
        "Nothing to do right away: the default is used.", _NO_DATA,
        "The default is used until the value is fixed; the problem is reported at each session start.",
    ),
    codes.FEATURES_OFF: _t(
        "Some lifeguard features are off",
        "LIFEGUARD_SKIP turned off some features for this Claude Code.",
        ["LIFEGUARD_SKIP is set in Claude Code's environment"],
        ["Unset LIFEGUARD_SKIP to turn them back on"],
        "Keep working.", _NO_DATA, "Nothing: this is your choice.",
    ),
    # -- agent coordination -----------------------------------------------------------
    codes.AGENT_SPAWN_FAILED: _t(
        "Subagent could not be started",
        "A subagent failed to start.",
        ["System resource limits", "An agent configuration error", "Network problems reaching the model"],
        ["Check free memory and CPU", "Ask for fewer subagents at once", "Review recent incidents: {incidents}"],
        "Do the work in the main conversation or with fewer, simpler subagents.",
        _NO_DATA, "Lifeguard records the failure; Claude Code decides whether to retry.",
    ),
    codes.AGENT_TIMEOUT: _t(
        "Subagent exceeded its time limit",
        "A subagent ran longer than allowed.",
        ["A task too large for one subagent", "A subagent stuck in a loop"],
        ["Split the task into smaller ones", "Review what happened: {incidents}"],
        "Give the subagent a narrower task.", _NO_DATA,
        "Lifeguard marks the subagent as timed out in the state.",
    ),
    codes.AGENT_CRASHED: _t(
        "Subagent terminated unexpectedly",
        "A subagent stopped without finishing its work.",
        ["An error inside the subagent", "The subagent was interrupted", "Resource limits"],
        ["Review what happened: {incidents}", "Retry the task, perhaps smaller"],
        "Do the task in the main conversation.", _NO_DATA,
        "Lifeguard records the crash and moves the subagent out of the active list.",
    ),
    codes.AGENT_CAPACITY_EXCEEDED: _t(
        "Too many subagents at once",
        "More subagents are running than the configured limit.",
        ["A task that fans out widely", "A limit set low in {config}"],
        ["Wait for running subagents to finish", "Raise the limit in {config} if it is too low"],
        "Run the work in smaller batches.", _NO_DATA, "New subagents are refused until others finish.",
    ),
    codes.TASK_ASSIGNMENT_FAILED: _t(
        "Unable to assign a task",
        "A task could not be given to any agent.",
        ["No agent available", "The task names an agent that does not exist"],
        ["Check the state: {analyze}", "Retry when agents are free"],
        "Do the task directly.", _NO_DATA, "The task stays pending and is retried.",
    ),
    codes.CIRCULAR_DEPENDENCY: _t(
        "Circular dependency in the task graph",
        "Tasks depend on each other in a cycle, so none of them can start.",
        ["Prerequisites declared in both directions", "A dependency added by mistake"],
        ["Review the task dependencies and remove the one that closes the cycle", "Check the state: {analyze}"],
        "Do one of the tasks in the cycle by hand to break it.", _NO_DATA,
        "Lifeguard reports the cycle; it does not change your task graph by itself.",
    ),
    codes.DEPENDENCY_DEADLOCK: _t(
        "Task dependency deadlock",
        "Tasks are waiting for each other, so no progress is possible.",
        ["Circular task dependencies", "Incorrectly specified prerequisites", "External blocking conditions"],
        ["Review and simplify the task dependencies", "Break the cycle by removing a non-critical prerequisite",
         "Check the state: {analyze}"],
        "Reorder the tasks so one can start.", _NO_DATA,
        "Lifeguard reports simple deadlocks as soon as they form.",
    ),
    codes.TASK_ORPHANED: _t(
        "Task owned by an agent that is gone",
        "A task is assigned to an agent that no longer exists.",
        ["The agent crashed or was stopped", "The state was restored from an older backup"],
        ["Check the state: {analyze}", "Repair it: {repair_all}"],
        "Reassign the task by asking for it again.", _NO_DATA,
        "The health check finds orphaned tasks and repair releases them.",
    ),
    codes.TASK_DATA_INVALID: _t(
        "Task data failed validation",
        "A task's data does not have the expected shape and was not applied.",
        ["A malformed task from a tool or subagent", "A hand edit of the state file"],
        ["Review what happened: {incidents}", "Check the state: {analyze}"],
        "Create the task again with complete data.", _NO_DATA,
        "The invalid task update is ignored; the rest of the state is unaffected.",
    ),
    # -- hook execution -----------------------------------------------------------------
    codes.HOOK_EXECUTION_FAILED: _t(
        "Hook script failed",
        "One of lifeguard's hooks failed and was skipped.",
        ["uv missing or its cache broken", "An installed file modified or missing", "A bug in lifeguard"],
        ["Check the installation: {doctor}", "See the recorded faults: {incidents}",
         "Reinstall: run install.sh from your lifeguard checkout with this project folder"],
        "Claude Code keeps working without that hook.", _NO_DATA, _FAIL_OPEN,
    ),
    codes.HOOK_TIMEOUT: _t(
        "Hook exceeded its time limit",
        "A hook did not finish within its time budget and was skipped.",
        ["A slow or busy disk", "uv preparing its environment (first run, offline)", "A held session lock"],
        ["Check the hooks' timings: {doctor}", "See the recorded faults: {incidents}"],
        "Claude Code keeps working; the event is recorded by the next hook.", _NO_DATA, _FAIL_OPEN,
    ),
    codes.HOOK_HELPER_LOST: _t(
        "The resident helper stopped while running a hook",
        "The hook was handed to lifeguard's resident helper, whose worker ended after recording the event, "
        "before answering: the event is kept, the hook's answer was lost.",
        ["The helper was killed (out of memory, a kill by hand)", "A crash inside the hook's worker"],
        ["See the recorded faults: {incidents}", "Check the installation: {doctor}",
         "Turn the helper off if it keeps happening: helper.enabled false in .claude/lifeguard.json"],
        "Claude Code keeps working; the next hook starts a fresh helper.", _NO_DATA, _FAIL_OPEN,
    ),
    codes.HOOK_INFINITE_LOOP: _t(
        "Hook appears to be re-entering in a loop",
        "The same hook keeps firing for the same thing.",
        ["A Stop hook that keeps asking the model to continue", "Another hook pack interacting with lifeguard"],
        ["Review what happened: {incidents}", "Check {settings} for other hooks on the same event"],
        "Interrupt the session and start again.", _NO_DATA, "Lifeguard stops re-entering after a bounded number of rounds.",
    ),
    codes.HOOK_PERMISSION_DENIED: _t(
        "Hook command is not executable",
        "A hook command in {settings} cannot be executed.",
        ["The execute bit was lost (copied files, a zip archive)", "A noexec mount"],
        ["Restore the bits: chmod +x {claude_dir}/hooks/lifeguard-run", "Then verify: {doctor}"],
        "Claude Code keeps working without that hook.", _NO_DATA, "None: this needs the fix above.",
    ),
    codes.HOOK_DEPENDENCY_MISSING: _t(
        "Hook command or dependency not found",
        "A hook could not start because something it needs is missing.",
        ["uv not installed or not on PATH", "An installed hook file missing", "A settings.json entry pointing at the wrong path"],
        ["See each problem and its fix: {doctor}", "Install uv: python3 -m pip install --user uv",
         "Reinstall: run install.sh from your lifeguard checkout with this project folder"],
        "Claude Code keeps working without lifeguard until it is fixed.", _NO_DATA,
        "None: lifeguard's wrapper tells you once and skips the hook.",
    ),
    codes.HOOK_INPUT_INVALID: _t(
        "Hook received input it could not parse",
        "Claude Code sent a hook event lifeguard could not read.",
        ["A Claude Code version with a changed event format", "A hook run by hand with wrong input"],
        ["See the recorded faults: {incidents}", "Check the installation: {doctor}"],
        "Claude Code keeps working; that event is not recorded.", _NO_DATA, _FAIL_OPEN,
    ),
    # -- loops and breakers -------------------------------------------------------------
    codes.TOOL_LOOP_DETECTED: _t(
        "The same tool call keeps repeating",
        "The model has made the same tool call several times in a row.",
        ["A command that keeps failing the same way", "The model retrying without changing its approach"],
        ["Give the model a hint or a different approach", "Review what happened: {incidents}"],
        "Interrupt and rephrase the request.", _NO_DATA, "Lifeguard tells the model; if it goes on, the call is refused.",
    ),
    codes.TOOL_LOOP_BLOCKED: _t(
        "A repeating tool call was refused",
        "Lifeguard refused a tool call that had repeated too many times.",
        ["A command that keeps failing the same way", "The model stuck on one approach"],
        ["Give the model a different approach", "Review what happened: {incidents}",
         "Tune the loop limits in {config} if this was legitimate"],
        "Run the command yourself if it is really needed.", _NO_DATA,
        "The refusal lifts once the model does something different.",
    ),
    codes.CIRCUIT_OPEN: _t(
        "A tool's circuit breaker is open",
        "A tool failed too often and is paused for a while.",
        ["A tool that keeps failing (network, missing program)", "An environment problem"],
        ["Fix the cause of the failures (see {incidents})", "Wait for the breaker to retry"],
        "Use another tool for the job meanwhile.", _NO_DATA,
        "The breaker lets one trial call through after its cool-down and closes when it succeeds.",
    ),
    codes.STOP_LOOP_DETECTED: _t(
        "Stop keeps coming back with the same message",
        "The model keeps trying to stop with the same message while a Stop hook blocks it.",
        ["A Stop hook condition the model cannot satisfy"],
        ["Review what happened: {incidents}", "Check {settings} for other Stop hooks"],
        "Interrupt the session.", _NO_DATA, "Lifeguard lets the stop go through after a bounded number of rounds.",
    ),
    # -- communication ------------------------------------------------------------------
    codes.MESSAGE_DELIVERY_FAILED: _t(
        "Message could not be delivered",
        "A message between agents did not reach its recipient.",
        ["The recipient agent is gone", "A full queue"],
        ["Review what happened: {incidents}", "Check the state: {analyze}"],
        "Send the request again.", _KEPT, "Undelivered messages are kept in a dead-letter list.",
    ),
    # -- performance ------------------------------------------------------------------
    codes.PERFORMANCE_DEGRADED: _t(
        "Lifeguard is slower than its alert threshold",
        "An operation took longer than the threshold set in {config}.",
        ["A slow or busy disk", "A very large state or event log", "A busy machine"],
        ["Check the hooks' timings: {doctor}", "Find large sessions: {analyze}",
         "Tune the thresholds in the alerts section of {config}"],
        "Keep working; this is a warning only.", _NO_DATA,
        "Lifeguard compacts large logs; nothing else changes by itself.",
    ),
    codes.ERROR_RATE_HIGH: _t(
        "Tool calls are failing more often than usual",
        "The share of failed tool calls over the last calls crossed the threshold set in {config}.",
        ["Tests or builds that keep failing", "A tool or service that is down", "An agent going round in circles"],
        ["See what failed and how often: {incidents}", "Tune rate_window_events or the thresholds in the alerts section "
         "of {config}"],
        "Keep working; this is a warning only.", _NO_DATA,
        "Lifeguard notes when the rate is back under the threshold; loop detection still refuses real loops.",
    ),
    codes.METRIC_RECOVERED: _t(
        "A measure is back within its thresholds",
        "A measure that had crossed its alert threshold is back under it.",
        ["The load, the disk or the failing tool recovered"],
        ["Nothing to do; earlier alerts are in {alerts_log}"],
        "Keep working.", _NO_DATA, "Lifeguard alerts again if the measure crosses its threshold again.",
    ),
    # -- lifeguard itself -------------------------------------------------------------
    codes.INTERNAL_ERROR: _t(
        "Lifeguard hit an internal fault",
        "A bug or an unexpected condition inside lifeguard; the hook failed open.",
        ["A bug in lifeguard", "An installed file modified by hand", "An unusual environment"],
        ["Check the installation: {doctor}", "See the recorded faults: {incidents}",
         "Report it with the lines from {faults}"],
        "Claude Code keeps working without that check.", _NO_DATA, _FAIL_OPEN,
    ),
}

_GENERIC = _t(
    "Unexpected lifeguard error ({code})",
    "Lifeguard recorded an error it has no specific advice for.",
    ["A newer lifeguard feature", "A configuration issue"],
    ["Check the installation: {doctor}", "See the recorded faults: {incidents}", "Look at the state: {analyze}"],
    "Claude Code keeps working.", _KEPT, _FAIL_OPEN,
)


def template(code: str) -> Template:
    return TEMPLATES.get(code) or _GENERIC
