"""The decisions channel: a feature's check returns (notices, decisions); the pipeline, and nothing
else, writes the decisions into the record under the feature's NAME, and the reducers read them
from there, or from inside the annotation in logs written before that key existed."""

from __future__ import annotations

import copy
import json
import types
from pathlib import Path

import pytest
from lifeguard.core.paths import Layout
from lifeguard.features import registry
from lifeguard.hook import pipeline
from lifeguard.store import eventlog, reducer
from lifeguard.store import state as state_mod

SID = "decide-1"


def hook(layout: Layout, event: str, **fields) -> dict:
    return pipeline.handle(event, {"session_id": SID, "hook_event_name": event, **fields}, layout)


def logged(layout: Layout) -> list[dict]:
    return list(eventlog.iter_records(layout.event_log(SID)))


def feature(name: str | None = None, **functions) -> types.SimpleNamespace:
    return types.SimpleNamespace(**({"NAME": name} if name else {}), **functions)


def test_the_pipeline_writes_a_checks_decisions_under_its_name(tmp_path: Path, monkeypatch) -> None:
    layout = Layout(tmp_path / ".claude")
    applied: list = []
    decider = feature("probe", check=lambda state, record, cfg: ([], {"seen": record["event"]}),
                      apply=lambda state, record: applied.append(record.get("decisions")))
    silent = feature("quiet", check=lambda state, record, cfg: ([], {}))  # near miss: decided nothing
    monkeypatch.setattr(registry, "FEATURES", [*registry.FEATURES, decider, silent])
    hook(layout, "UserPromptSubmit", prompt="go")
    [record] = logged(layout)
    assert record["decisions"]["probe"] == {"seen": "UserPromptSubmit"}
    assert "quiet" not in record["decisions"]
    assert applied == [record["decisions"]]  # the reducer is given them with the record


def test_no_decisions_key_when_no_check_decided_anything(tmp_path: Path, monkeypatch) -> None:
    layout = Layout(tmp_path / ".claude")
    monkeypatch.setattr(registry, "FEATURES", [feature("quiet", check=lambda state, record, cfg: ([], {}))])
    hook(layout, "UserPromptSubmit", prompt="go")
    assert "decisions" not in logged(layout)[0]


def test_a_check_cannot_write_into_the_record(tmp_path: Path, monkeypatch) -> None:
    def writer(state, record, cfg):
        record["mine"] = 1
        return [], {}

    def reader(state, record, cfg):  # near miss: reading the record is what checks do
        return ([{"code": "PROBE", "kind": "user", "user": "saw " + record["event"]}]
                if "prompt" in record else []), {}

    layout = Layout(tmp_path / ".claude")
    monkeypatch.setattr(registry, "FEATURES", [*registry.FEATURES, feature(check=reader)])
    assert hook(layout, "UserPromptSubmit", prompt="go")["systemMessage"] == "saw UserPromptSubmit"
    monkeypatch.setattr(registry, "FEATURES", [*registry.FEATURES, feature(check=writer)])
    with pytest.raises(TypeError):
        hook(layout, "UserPromptSubmit", prompt="again")
    assert all("mine" not in r for r in logged(layout))


# -- the real features ---------------------------------------------------------------------------


def read_only_checks(features: list) -> list:
    """The features, each check wrapped to fail when it changes the record, even deep inside."""
    wrapped = []
    for f in features:
        if getattr(f, "check", None) is None:
            wrapped.append(f)
            continue

        def check(state, record, cfg, inner=f.check, name=f.__name__):
            before = copy.deepcopy(dict(record))
            out = inner(state, record, cfg)
            assert dict(record) == before, f"{name}.check changed the record"
            return out

        attrs = {k: getattr(f, k) for k in ("NAME", "annotate", "apply", "after_commit") if hasattr(f, k)}
        wrapped.append(types.SimpleNamespace(**attrs, check=check, __name__=f.__name__))
    return wrapped


def transcript_line(kind: str, block: dict) -> str:
    role = "assistant" if kind == "use" else "user"
    return json.dumps({"type": role, "timestamp": "2026-11-30T10:00:00.000Z",
                       "message": {"role": role, "content": [block]}}) + "\n"


def session_that_decides(layout: Layout, tmp_path: Path) -> None:
    """Hooks whose checks decide: a transcript cursor that moves and a call no hook saw, incidents
    announced to the user (loops), the deadlock watch of the task list (coordination)."""
    transcript = tmp_path / "session.jsonl"
    transcript.write_text("")
    hook(layout, "SessionStart", source="startup", transcript_path=str(transcript))
    for i in range(4):
        edit = {"file_path": "/ws/f.txt", "old_string": "helo", "new_string": "hello"}
        with open(transcript, "a") as f:
            f.write(transcript_line("use", {"type": "tool_use", "id": f"hid{i}", "name": "Edit", "input": edit}))
            f.write(transcript_line("result", {"type": "tool_result", "tool_use_id": f"hid{i}", "is_error": True,
                                               "content": "<tool_use_error>String not found</tool_use_error>"}))
        call = {"tool_name": "Bash", "tool_input": {"command": "make test"}, "tool_use_id": f"t{i}",
                "transcript_path": str(transcript)}
        hook(layout, "PreToolUse", **call)
        hook(layout, "PostToolUseFailure", error="Exit code 1\nboom", is_interrupt=False, **call)
    task = {"tool_name": "TaskCreate", "tool_input": {"subject": "a", "description": "a"}, "tool_use_id": "tc"}
    hook(layout, "PreToolUse", **task)
    hook(layout, "PostToolUse", tool_response={"task": {"id": "1", "subject": "a"}}, **task)


def test_the_real_checks_leave_the_record_as_they_found_it(tmp_path: Path, monkeypatch) -> None:
    layout = Layout(tmp_path / ".claude")
    monkeypatch.setattr(registry, "FEATURES", read_only_checks(registry.FEATURES))
    session_that_decides(layout, tmp_path)
    records = logged(layout)
    decided = [r["decisions"] for r in records if "decisions" in r]
    assert {"cursor", "hidden", "announce"} <= {k for d in decided for k in d.get("loop", {})}
    assert any("deadlock" in d.get("coord", {}) for d in decided)
    for r in records:  # the annotations hold none of it, and the transcript's path is not logged
        assert not {"cursor", "hidden", "announce", "breakers"} & set(r.get("loop", {}))
        assert "deadlock" not in r.get("coord", {}) and "scratch" not in r


def test_the_wrapper_catches_a_check_that_writes_inside_an_annotation(tmp_path: Path, monkeypatch) -> None:
    """Near miss for the test above: a nested write is what a read-only view cannot stop."""
    def sneaky(state, record, cfg):
        if isinstance(record.get("loop"), dict):
            record["loop"]["cursor"] = {"offset": 1}
        return [], {}

    sneaky_feature = types.ModuleType("sneaky")
    sneaky_feature.check = sneaky
    layout = Layout(tmp_path / ".claude")
    monkeypatch.setattr(registry, "FEATURES", read_only_checks([*registry.FEATURES, sneaky_feature]))
    with pytest.raises(AssertionError, match="sneaky.check changed the record"):
        hook(layout, "PreToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id="t1")


def test_a_log_written_before_the_decisions_key_replays_the_same(tmp_path: Path) -> None:
    """Older versions logged a check's decisions inside its annotation (`record["loop"]`,
    `record["coord"]`); resume, repair and analyze still replay such logs."""
    layout = Layout(tmp_path / ".claude")
    session_that_decides(layout, tmp_path)
    records = logged(layout)
    saved = state_mod.load(layout.session_file(SID))
    assert reducer.replay(records, SID, registry.FEATURES) == saved

    def old_shape(record: dict) -> dict:
        record = dict(record)
        for name, decided in (record.pop("decisions", None) or {}).items():
            record[name] = {**(record.get(name) or {}), **decided}
        return record

    old = [old_shape(r) for r in records]
    assert old != records and not any("decisions" in r for r in old)
    assert reducer.replay(old, SID, registry.FEATURES) == saved
    # near miss: a reader that ignored the decisions would not get this state
    dropped = [{k: v for k, v in r.items() if k != "decisions"} for r in records]
    assert reducer.replay(dropped, SID, registry.FEATURES) != saved
