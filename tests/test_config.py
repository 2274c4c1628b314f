"""lifeguard.json: merged over DEFAULTS, bad values fall back with a clear message, cached."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from lifeguard.config import load as config
from lifeguard.core.paths import Layout

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    lay = Layout(tmp_path / ".claude")
    lay.claude_dir.mkdir()
    return lay


def write(layout: Layout, data) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    layout.config_file.write_text(text)


def test_no_file_means_defaults(layout):
    cfg = config.load(layout)
    assert cfg == config.DEFAULTS and cfg.problems == []
    cfg["locks"]["timeout_seconds"] = 99  # a copy: DEFAULTS is never changed by a caller
    assert config.DEFAULTS["locks"]["timeout_seconds"] != 99


def test_repo_config_is_valid_and_equals_defaults():
    data = json.loads((REPO / ".claude" / "lifeguard.json").read_text())
    assert data == config.DEFAULTS
    cfg = config.validate(data)
    assert cfg.problems == [] and cfg == config.DEFAULTS


def test_user_values_are_merged_over_defaults(layout):
    write(layout, {"locks": {"timeout_seconds": 5}})
    cfg = config.load(layout)
    assert cfg.problems == []
    assert cfg["locks"]["timeout_seconds"] == 5
    expected = copy.deepcopy(config.DEFAULTS)
    expected["locks"]["timeout_seconds"] = 5
    assert cfg == expected


@pytest.mark.parametrize("value", [-1, 0, 31, "fast", None, [1]])
def test_bad_value_falls_back_with_a_clear_message(layout, value):
    write(layout, {"locks": {"timeout_seconds": value}})
    cfg = config.load(layout)
    assert cfg["locks"]["timeout_seconds"] == config.DEFAULTS["locks"]["timeout_seconds"]
    assert len(cfg.problems) == 1
    problem = cfg.problems[0]
    assert problem.startswith("lifeguard.json: locks.timeout_seconds: ") and problem.endswith("; using 2.0")


@pytest.mark.parametrize("section, key, value, said", [
    ("loops", "failure_warn_after", "three", "loops.failure_warn_after: 'three' is not a whole number; using 3"),
    ("loops", "failure_warn_after", 1, "loops.failure_warn_after: 1 is below the minimum 2; using 3"),
    ("guard", "cooldown_seconds", 10 ** 6, "guard.cooldown_seconds: 1000000 is above the maximum 86400; using 300"),
    ("loops", "enabled", "maybe", "loops.enabled: 'maybe' is not true or false; using true"),
    ("breakers", "tools", "mcp__*", "breakers.tools: 'mcp__*' is not a list; using [\"mcp__*\""),
    ("loops", "typo", 1, "loops.typo is not a setting here (a typo?); ignored"),
])
def test_a_problem_names_the_key_the_bad_value_and_the_default(layout, section, key, value, said):
    write(layout, {section: {key: value}})
    [problem] = config.load(layout).problems
    assert problem.startswith("lifeguard.json: " + said), problem


def test_a_rule_across_values_falls_back_for_its_section(layout):
    write(layout, {"loops": {"failure_warn_after": 9}})
    [problem] = config.load(layout).problems
    assert "failure_block_after (5) must be greater than failure_warn_after (9)" in problem
    assert problem.endswith("using the defaults of loops")


def test_enabled_is_exactly_true_or_false(layout):
    write(layout, {"enabled": "no"})  # would read as false to pydantic, but not to switch.py
    cfg = config.load(layout)
    assert cfg["enabled"] is True and cfg.problems == ["lifeguard.json: enabled: 'no' is not true or false; using true"]


def test_one_bad_value_keeps_the_good_ones(layout):
    write(layout, {"locks": {"timeout_seconds": 3, "typo_key": 1}})
    cfg = config.load(layout)
    assert cfg["locks"]["timeout_seconds"] == 3
    assert "typo_key" not in cfg["locks"]
    assert len(cfg.problems) == 1 and "locks.typo_key" in cfg.problems[0]


def test_section_of_the_wrong_type_falls_back(layout):
    write(layout, {"locks": "yes"})
    cfg = config.load(layout)
    assert cfg["locks"] == config.DEFAULTS["locks"]
    assert cfg.problems and all("locks" in p for p in cfg.problems)


def test_unknown_section_reported_and_ignored(layout):
    write(layout, {"lokcs": {"timeout_seconds": 1}})
    cfg = config.load(layout)
    assert cfg == config.DEFAULTS
    assert cfg.problems == ["lifeguard.json: unknown section 'lokcs' ignored"]


@pytest.mark.parametrize("text, words", [("{broken", "not valid JSON"), ("[1, 2]", "must hold a JSON object"),
                                         ("", "not valid JSON")])
def test_unusable_file_means_defaults(layout, text, words):
    write(layout, text)
    cfg = config.load(layout)
    assert cfg == config.DEFAULTS
    assert len(cfg.problems) == 1 and words in cfg.problems[0] and "using the defaults" in cfg.problems[0]


def test_cache_is_written_and_used(layout, monkeypatch):
    write(layout, {"locks": {"timeout_seconds": 4}})
    assert config.load(layout)["locks"]["timeout_seconds"] == 4
    assert (layout.state_dir / "config.cache.json").exists()

    def no_validation(*_a, **_k):
        raise AssertionError("validated again although the file did not change")

    monkeypatch.setattr(config, "validate_file", no_validation)
    cfg = config.load(layout)
    assert cfg["locks"]["timeout_seconds"] == 4 and cfg.problems == []


def test_cache_keeps_the_problems(layout):
    write(layout, {"locks": {"timeout_seconds": -5}})
    first = config.load(layout)
    second = config.load(layout)
    assert second.problems == first.problems and len(second.problems) == 1


def test_cache_invalidated_on_change(layout):
    write(layout, {"locks": {"timeout_seconds": 4}})
    assert config.load(layout)["locks"]["timeout_seconds"] == 4
    write(layout, {"locks": {"timeout_seconds": 7.5}})
    assert config.load(layout)["locks"]["timeout_seconds"] == 7.5


def test_cache_invalidated_on_same_size_rewrite_within_one_mtime_tick(layout):
    write(layout, {"locks": {"timeout_seconds": 4}})
    st = os.stat(layout.config_file)
    assert config.load(layout)["locks"]["timeout_seconds"] == 4
    with open(layout.config_file, "r+") as f:  # in place, same size, same inode
        f.write(json.dumps({"locks": {"timeout_seconds": 6}}))
    os.utime(layout.config_file, ns=(st.st_atime_ns, st.st_mtime_ns))  # a coarse clock: same mtime
    assert os.stat(layout.config_file).st_size == st.st_size
    assert config.load(layout)["locks"]["timeout_seconds"] == 6


def test_cache_invalidated_when_defaults_change(layout, monkeypatch):
    write(layout, {})
    assert config.load(layout) == config.DEFAULTS
    changed = copy.deepcopy(config.DEFAULTS)
    changed["locks"]["timeout_seconds"] = 9.0
    monkeypatch.setattr(config, "DEFAULTS", changed)
    assert config.load(layout)["locks"]["timeout_seconds"] == 9.0


def test_damaged_cache_is_ignored(layout):
    write(layout, {"locks": {"timeout_seconds": 4}})
    config.load(layout)
    (layout.state_dir / "config.cache.json").write_text("{garbage")
    assert config.load(layout)["locks"]["timeout_seconds"] == 4


def test_unwritable_state_folder_still_loads(tmp_path):
    lay = Layout(tmp_path / ".claude")
    lay.claude_dir.mkdir()
    lay.state_dir.write_text("a file where the folder should be")
    write(lay, {"locks": {"timeout_seconds": 3}})
    assert config.load(lay)["locks"]["timeout_seconds"] == 3


def test_retired_loop_settings_are_dropped_quietly_unless_changed() -> None:
    """Every earlier install wrote loops.alternation_* into lifeguard.json."""
    cfg = config.validate({"loops": {"alternation_warn_after": 3, "alternation_block_after": 5}})
    assert cfg.problems == [] and "alternation_warn_after" not in cfg["loops"]
    cfg = config.validate({"loops": {"alternation_warn_after": 4, "alternation_block_after": 5}})
    assert cfg.problems == ["lifeguard.json: loops.alternation_warn_after is no longer used; 4 ignored. See "
                            "loops.cycle_warn_rounds (a cycle of 2 or 3 calls is warned at its Nth round)"]
    assert cfg["loops"]["cycle_warn_rounds"] == 2


def test_settings_of_earlier_versions_are_read_as_their_successors(layout):
    old = {"limits": {"sessions_kept": 50, "stale_session_hours": 12, "event_count": 300}}
    layout.config_file.write_text(json.dumps(old))
    cfg = config.load(layout)
    assert cfg.problems == []  # they came with lifeguard's own lifeguard.json: nothing to tell
    assert cfg["limits"]["archive_idle_hours"] == 12 and cfg["limits"]["event_count"] == 300
    assert "sessions_kept" not in cfg["limits"] and "stale_session_hours" not in cfg["limits"]
    both = {"limits": {"stale_session_hours": 12, "archive_idle_hours": 48}}
    assert config.validate(both)["limits"]["archive_idle_hours"] == 48  # the new name wins
    changed = config.validate({"limits": {"sessions_kept": 10}})
    assert changed.problems == ["lifeguard.json: limits.sessions_kept is no longer used; 10 ignored. See "
                                "limits.archive_idle_hours (a session is archived when idle, never for the number "
                                "of others)"]
