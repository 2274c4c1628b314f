"""The pydantic model of lifeguard.json. Imported only when the file changed (see config.py).

Fields carry no defaults here: DEFAULTS in config.py is the single source, merged first.
Each section forbids unknown keys so a typo is reported instead of silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Locks(_Section):
    timeout_seconds: float = Field(gt=0, le=30)


class LifeguardConfig(_Section):
    locks: Locks


def validation_errors(data: dict) -> list[tuple[tuple, str]]:
    try:
        LifeguardConfig.model_validate(data)
    except ValidationError as exc:
        return [(tuple(err["loc"]), err["msg"]) for err in exc.errors()]
    return []
