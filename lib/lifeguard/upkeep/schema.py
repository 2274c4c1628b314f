"""The pydantic model of the session state (`state/session-<id>.json`). Cold path only.

The hot path keeps the state as a plain dict (see `state.default_state`); this module is
imported by tools, tests and SessionStart repair, never by a handler at module level, since
importing pydantic costs more than a whole hook may spend.

The model pins down what lifeguard's own code relies on (the five sections, the lifecycle,
the checkpoint) and lets features add keys where they write (`extra="allow"`). A state
written by a newer lifeguard (a schema_version we do not know) is reported, not crashed on;
older versions are brought forward by the functions in `MIGRATIONS`.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..store.state import SCHEMA_VERSION


class _Open(BaseModel):
    """A section features may extend: unknown keys are kept, known ones are type-checked."""

    model_config = ConfigDict(extra="allow", strict=True)


# -- session -------------------------------------------------------------------------


class Lifecycle(_Open):
    status: str = Field(min_length=1)  # "active", "ended"; features may add their own
    started_at: str
    last_activity: str
    ended_at: str | None = None
    source: str | None = None


class UserContext(_Open):
    workspace_path: str


class Session(_Open):
    id: str
    created_at: str
    mode: Literal["development", "leadership", "config", "emergency"]
    user_context: UserContext
    lifecycle: Lifecycle


# -- execution -------------------------------------------------------------------------


class Agents(_Open):
    active: dict[str, dict[str, Any]]
    pool: dict[str, dict[str, Any]]


class ToolCounts(_Open):
    calls: int = Field(ge=0)
    failures: int = Field(default=0, ge=0)  # per-tool entries gain it on the first failure


class Tools(ToolCounts):
    by_name: dict[str, ToolCounts]


class Execution(_Open):
    agents: Agents
    tasks: dict[str, Any]
    tools: Tools


# -- communication ---------------------------------------------------------------------


class Graph(_Open):
    nodes: dict[str, Any]
    edges: list[Any]


class Dependencies(_Open):
    graph: Graph
    blocks: list[Any]


class Coordination(_Open):
    locks: dict[str, Any]
    dependencies: Dependencies


class Communication(_Open):
    message_queues: dict[str, Any]
    coordination: Coordination


# -- observability ---------------------------------------------------------------------


class Utilization(_Open):
    events_by_type: dict[str, int]


class Metrics(_Open):
    performance: dict[str, Any]
    utilization: Utilization
    quality: dict[str, Any]


class RecentEvent(_Open):
    seq: int = Field(ge=1)
    ts: str
    event: str


class Events(_Open):
    recent: list[RecentEvent]


class Health(_Open):
    system_status: str
    checks: dict[str, Any]


class Incident(_Open):
    seq: int = Field(ge=1)
    kind: str


class Observability(_Open):
    metrics: Metrics
    events: Events
    health: Health
    incidents: list[Incident]


# -- persistence -----------------------------------------------------------------------


class Checkpoint(_Open):
    last_saved: str
    sequence: int = Field(ge=0)


class EventLog(_Open):
    total_events: int = Field(ge=0)


class Persistence(_Open):
    checkpoint: Checkpoint
    event_log: EventLog
    spool_done: list[str]


class SessionState(_Open):
    schema_version: int = Field(ge=1)
    session: Session
    execution: Execution
    communication: Communication
    observability: Observability
    persistence: Persistence


# -- migrations ------------------------------------------------------------------------

# version N -> a function turning a version-N state (dict) into a version-N+1 state.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


class UnknownSchemaVersion(ValueError):
    """The state was written by a lifeguard newer than this one (or its version is garbage)."""


def migrate(state: dict) -> dict:
    """`state` brought forward to SCHEMA_VERSION; raises UnknownSchemaVersion if it cannot be."""
    version = state.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UnknownSchemaVersion(f"schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise UnknownSchemaVersion(
            f"schema_version {version} is newer than this lifeguard understands ({SCHEMA_VERSION}); "
            "upgrade lifeguard with install.sh"
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise UnknownSchemaVersion(f"no migration from schema_version {version}")
        state = step(state)
        version += 1
        state["schema_version"] = version
    return state


# -- validation ------------------------------------------------------------------------


def validate_state(state: object) -> list[str]:
    """Every problem with `state`, one plain line each; an empty list means it is valid.

    Never raises on bad data: a state from a newer lifeguard or of the wrong type is a
    problem to report, like any other.
    """
    if not isinstance(state, dict):
        return [f"the state is a {type(state).__name__}, not a JSON object"]
    try:
        state = migrate(dict(state))
    except UnknownSchemaVersion as exc:
        return [str(exc)]
    try:
        SessionState.model_validate(state)
    except ValidationError as exc:
        return [_describe(err) for err in exc.errors()]
    except RecursionError:
        return ["the state is nested too deeply"]
    return []


def _describe(err: dict) -> str:
    where = ".".join(str(part) for part in err.get("loc", ())) or "(top level)"
    return f"{where}: {err.get('msg', 'invalid')}"
