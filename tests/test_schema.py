"""The pydantic model of the session state: what it accepts, what it reports, migrations."""

from __future__ import annotations

import copy

import pytest

from lifeguard.upkeep import schema
from lifeguard.store import state


def fresh() -> dict:
    return state.default_state("sess-1", "2026-01-01T00:00:00.000Z", "/work")


def test_default_state_is_valid():
    assert schema.validate_state(fresh()) == []


def test_every_section_is_required():
    for section in ("session", "execution", "communication", "observability", "persistence"):
        data = fresh()
        del data[section]
        problems = schema.validate_state(data)
        assert problems == [f"{section}: Field required"], section


def test_extra_keys_from_features_are_kept_valid():
    data = fresh()
    data["execution"]["loops"] = {"window": [1, 2, 3]}
    data["session"]["lifecycle"]["end_reason"] = "clear"
    data["observability"]["incidents"].append({"seq": 3, "ts": "t", "kind": "deny", "code": "X", "message": "m"})
    data["my_feature"] = {"anything": True}
    assert schema.validate_state(data) == []


def test_wrong_types_are_reported_with_their_location():
    data = fresh()
    data["execution"]["tools"]["calls"] = "three"
    data["persistence"]["checkpoint"]["sequence"] = -1
    data["session"]["mode"] = "chaos"
    problems = schema.validate_state(data)
    assert len(problems) == 3
    assert any(p.startswith("execution.tools.calls:") for p in problems)
    assert any(p.startswith("persistence.checkpoint.sequence:") for p in problems)
    assert any(p.startswith("session.mode:") for p in problems)


def test_bool_is_not_taken_for_an_int():
    data = fresh()
    data["persistence"]["event_log"]["total_events"] = True
    assert schema.validate_state(data)


def test_not_an_object_is_reported():
    assert schema.validate_state([1, 2]) == ["the state is a list, not a JSON object"]
    assert schema.validate_state(None) == ["the state is a NoneType, not a JSON object"]


def test_unknown_future_version_is_reported_not_raised():
    data = fresh()
    data["schema_version"] = state.SCHEMA_VERSION + 1
    problems = schema.validate_state(data)
    assert len(problems) == 1 and "newer than this lifeguard" in problems[0]


@pytest.mark.parametrize("version", [0, -3, "1", None, True, 1.0])
def test_garbage_version_is_reported(version):
    data = fresh()
    data["schema_version"] = version
    problems = schema.validate_state(data)
    assert len(problems) == 1 and "schema_version" in problems[0]


def test_no_migrations_for_v1():
    assert state.SCHEMA_VERSION == 1
    assert schema.MIGRATIONS == {}


def test_migration_hook_brings_old_state_forward(monkeypatch):
    # Pretend the current version is 2 and a v1->v2 migration renames a key.
    def v1_to_v2(old: dict) -> dict:
        new = copy.deepcopy(old)
        new["execution"]["tools"]["renamed"] = new["execution"]["tools"].pop("by_name")
        new["execution"]["tools"]["by_name"] = {}
        return new

    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(schema.MIGRATIONS, 1, v1_to_v2)
    migrated = schema.migrate(fresh())
    assert migrated["schema_version"] == 2
    assert migrated["execution"]["tools"]["renamed"] == {}
    assert schema.validate_state(fresh()) == []


def test_missing_migration_is_reported(monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 3)
    problems = schema.validate_state(fresh())
    assert problems == ["no migration from schema_version 1"]


def test_validate_does_not_mutate_its_input(monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(schema.MIGRATIONS, 1, lambda s: {**s, "added": 1})
    data = fresh()
    before = copy.deepcopy(data)
    schema.validate_state(data)
    assert data == before


def test_schema_is_not_imported_by_the_hot_path():
    import subprocess
    import sys
    from pathlib import Path

    lib = Path(__file__).resolve().parents[1] / "lib"
    code = ("import sys; sys.path.insert(0, %r); import lifeguard.hook.pipeline, lifeguard.hook.runner; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'filelock', 'orjson') or m == 'lifeguard.upkeep.schema'); print(bad)") % str(lib)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
