"""The features' registry and the reducer agree: one ordered list, and a state committed by the
hooks is exactly what that list's reducers make of the log."""

from __future__ import annotations

import ast
from pathlib import Path

from lifeguard.core.paths import Layout
from lifeguard.features import registry
from lifeguard.hook import pipeline
from lifeguard.store import reducer, state as state_mod

LIB = Path(registry.__file__).resolve().parents[1]


def test_every_feature_module_is_registered_once() -> None:
    """A module under features/ defining a feature's functions (annotate, check, apply,
    after_commit) that the registry lacks would silently never run, or never be replayed."""
    names = [m.__name__ for m in registry.FEATURES]
    assert len(set(names)) == len(names)
    hooks = {"annotate", "check", "apply", "after_commit"}
    parts = {"annotate", "reduce"}  # coordination's parts, exported by coordination/feature.py
    for path in (LIB / "features").rglob("*.py"):
        if path.name in ("base.py", "registry.py", "__init__.py") or path.stem in parts:
            continue
        defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        if hooks & defined:
            module = ".".join(("lifeguard",) + path.relative_to(LIB).with_suffix("").parts)
            assert module in names, f"{module} defines {sorted(hooks & defined)} but is not in features.registry"


def test_the_reducer_folds_with_the_registry(tmp_path: Path) -> None:
    layout = Layout(tmp_path / ".claude")
    inputs = [
        ("SessionStart", {"source": "startup"}),
        ("UserPromptSubmit", {"prompt": "go"}),
        ("PreToolUse", {"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "t1"}),
        ("PostToolUse", {"tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "t1",
                         "tool_response": {"stdout": "a"}}),
        ("PostToolUseFailure", {"tool_name": "Bash", "tool_input": {"command": "false"}, "tool_use_id": "t2",
                                "error": "Exit code 1"}),
        ("Stop", {"stop_hook_active": False}),
    ]
    for event, extra in inputs:
        pipeline.handle(event, {"session_id": "reg", "hook_event_name": event, "cwd": str(tmp_path), **extra}, layout)
    saved = state_mod.load(layout.session_file("reg"))
    assert saved is not None and state_mod.sequence(saved) >= len(inputs)
    assert saved == reducer.replay_log(layout.event_log("reg"), "reg", registry.FEATURES)
    # the reducers do the folding: with none, the log replays to a different state
    assert reducer.replay_log(layout.event_log("reg"), "reg", []) != saved


def test_feature_names_are_unique_and_clash_with_no_key_of_the_record() -> None:
    """A feature's NAME is its key in the record (its annotation) and in record["decisions"]:
    two features, or a feature and the record's own fields, sharing one would overwrite each other."""
    from lifeguard.store import record as record_mod

    names = [f.NAME for f in registry.FEATURES if hasattr(f, "NAME")]
    assert names and len(set(names)) == len(names)
    every_field = {"session_id": "s", "agent_id": "a", "agent_type": "t", "tool_name": "Bash", "tool_use_id": "u",
                   "tool_input": {}, "tool_response": {}, "error": "e", "is_interrupt": True, "source": "s",
                   "reason": "r", "trigger": "t", "prompt": "p", "last_assistant_message": "m",
                   "stop_hook_active": True, "cwd": "/w"}
    own = set(record_mod.build("SessionStart", every_field)) | {
        "seq", "ts", "crc", "inv", "spool", "notices", "fault", record_mod.DECISIONS, record_mod.SCRATCH}
    assert not own & set(names)
