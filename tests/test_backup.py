"""Backups of the state folder, restore, rotation and per-session checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.upkeep import backup
from lifeguard.store import state as state_mod
from lifeguard.core.paths import Layout
from lifeguard.store.session import SessionStore


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".claude")


def commit(layout: Layout, sid: str, n: int) -> None:
    with SessionStore(layout, sid, reducers=FEATURES).transaction() as txn:
        for _ in range(n):
            txn.commit({"event": "PostToolUse", "tool": "Bash"})


def test_backup_copies_everything_but_backups_and_locks(layout):
    commit(layout, "a", 3)
    commit(layout, "b", 1)
    (layout.state_dir / "quarantine").mkdir()
    (layout.state_dir / "quarantine" / "x.bin").write_bytes(b"damaged")
    os.symlink("/etc/passwd", layout.state_dir / "evil.json")
    path = backup.create_backup(layout, "manual", reason="testing")
    names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    assert names == sorted([layout.event_log("a").name, layout.event_log("b").name, "metadata.json", "quarantine/x.bin",
                            layout.session_file("a").name, layout.session_file("b").name])
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["files"] == 5 and meta["reason"] == "testing" and meta["name"] == "manual"
    assert meta["bytes"] == sum((path / n).stat().st_size for n in names if n != "metadata.json")
    assert path.parent == layout.backup_dir and path.name.endswith("-manual")
    assert oct(path.stat().st_mode & 0o777) == "0o700"
    assert oct((path / layout.session_file("a").name).stat().st_mode & 0o777) == "0o600"
    # a second backup does not contain the first
    second = backup.create_backup(layout)
    assert not (second / "backups").exists()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x" * 65, "a..b", "sp ace"])
def test_unsafe_names_refused(layout, name):
    with pytest.raises(ValueError):
        backup.create_backup(layout, name)
    assert not layout.backup_dir.exists() or not any(layout.backup_dir.iterdir())


def test_list_newest_first_and_ignores_incomplete(layout):
    commit(layout, "a", 1)
    first = backup.create_backup(layout, "one")
    second = backup.create_backup(layout, "two")
    (layout.backup_dir / "half-made").mkdir()  # no metadata.json: not a backup
    ids = [m["id"] for m in backup.list_backups(layout)]
    assert ids == [second.name, first.name]


def test_restore_backs_up_current_state_first(layout):
    commit(layout, "a", 2)
    saved = state_mod.load(layout.session_file("a"))
    b = backup.create_backup(layout, "good")
    commit(layout, "a", 3)
    newer = state_mod.load(layout.session_file("a"))
    before = backup.restore_backup(layout, b.name)
    assert state_mod.load(layout.session_file("a")) == saved
    assert state_mod.load(before / layout.session_file("a").name) == newer
    assert json.loads((before / "metadata.json").read_text())["name"] == "pre-restore"
    # the store carries on from the restored log without a gap
    commit(layout, "a", 1)
    assert state_mod.sequence(state_mod.load(layout.session_file("a"))) == 3


def test_restore_refuses_unknown_or_unsafe_ids(layout):
    with pytest.raises(ValueError):
        backup.restore_backup(layout, "../../etc")
    with pytest.raises(FileNotFoundError):
        backup.restore_backup(layout, "nope")


def test_prune_keeps_newest_of_a_name(layout):
    commit(layout, "a", 1)
    made = [backup.create_backup(layout, "auto") for _ in range(4)]
    manual = backup.create_backup(layout, "manual")
    removed = backup.prune_backups(layout, 2, name="auto")
    assert sorted(removed) == sorted(made[:2])
    assert {m["id"] for m in backup.list_backups(layout)} == {made[2].name, made[3].name, manual.name}


def test_checkpoint_rotation(layout):
    assert backup.checkpoint_session(layout, "a", keep=2) is None  # nothing to copy yet
    points = []
    for n in range(4):
        commit(layout, "a", 1)
        points.append(backup.checkpoint_session(layout, "a", keep=2, seq=n + 1))
    kept = backup.list_checkpoints(layout, "a")
    assert [m["id"] for m in kept] == [points[3].name, points[2].name]
    assert state_mod.sequence(state_mod.load(points[3] / layout.session_file("a").name)) == 4
    assert not (points[3] / layout.event_log("a").name).exists()  # the log is not copied on every checkpoint
    assert backup.list_backups(layout) == []  # checkpoints are not full backups
