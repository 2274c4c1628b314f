"""emergency_recovery.sh: each mode, and nothing removed that is not also in a backup."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from planted import BROKEN, CORRUPT, HEALTHY, STALE, install, plant, tree

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def layout(tmp_path: Path):
    layout = install(tmp_path / "proj")
    plant(layout)
    log = layout.event_log(HEALTHY)  # one damaged line in the middle, one torn at the end
    lines = log.read_bytes().split(b"\n")
    lines[0] = lines[0].replace(b'"SessionStart"', b'"SessionStorm"')
    log.write_bytes(b"\n".join(lines) + b'{"seq":99,"ts"')
    return layout


def run(layout, *args, workspace=None) -> subprocess.CompletedProcess:
    script = layout.claude_dir / "scripts" / "emergency_recovery.sh"
    target = str(workspace or layout.claude_dir.parent)
    env = {k: v for k, v in os.environ.items() if k not in ("LIFEGUARD_HOME", "CLAUDE_PROJECT_DIR")}
    return subprocess.run(["bash", str(script), target, *args], capture_output=True, text=True, env=env, timeout=180)


def archive_files(layout) -> dict[str, bytes]:
    (latest,) = (layout.claude_dir / "recovery").glob("state-*.tar.gz")
    assert (layout.claude_dir / "recovery" / "latest_backup.txt").read_text().strip() == str(latest)
    out = {}
    with tarfile.open(latest) as tar:
        for member in tar.getmembers():
            if member.isfile():
                out[member.name] = tar.extractfile(member).read()
    return out


def assert_nothing_lost(before: dict[str, bytes], after: dict[str, bytes], archive: dict[str, bytes]) -> None:
    """Every file of .claude/ before the run is still there unchanged, or is in the archive."""
    for rel, data in before.items():
        if after.get(rel) == data:
            continue
        assert archive.get(rel) == data, f"{rel} was changed or removed but is not in the backup"


def test_help_and_usage(layout):
    script = layout.claude_dir / "scripts" / "emergency_recovery.sh"
    assert os.access(script, os.X_OK)
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "backup|clean|reset|auto" in proc.stdout and "Nothing is ever deleted" in proc.stdout
    assert run(layout, "explode").returncode == 2
    assert run(layout, "auto", workspace=layout.claude_dir.parent / "missing").returncode == 2


def test_backup_changes_nothing_else(layout):
    before = tree(layout.claude_dir)
    proc = run(layout, "backup")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    archive = archive_files(layout)
    after = {k: v for k, v in tree(layout.claude_dir).items() if not k.startswith("recovery/")}
    assert after == before
    state = {k: v for k, v in before.items() if k.startswith("state/") and not k.startswith("state/backups/")
             and not k.endswith(".lock")}
    assert {k: archive.get(k) for k in state} == state
    assert archive["lifeguard.json"] == before["lifeguard.json"] and "settings.json" in archive
    assert not any(name.startswith("state/backups") for name in archive)


def test_clean_quarantines_corrupted_sessions(layout):
    healthy_log = layout.event_log(HEALTHY).read_bytes()
    before = tree(layout.claude_dir)
    proc = run(layout, "clean")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"quarantined {layout.session_file(CORRUPT).name}" in proc.stdout
    assert f"{layout.event_log(HEALTHY).name} (2 damaged line(s))" in proc.stdout
    assert not layout.session_file(CORRUPT).exists()
    kept = {p.name.split("-", 3)[-1]: p.read_bytes() for p in layout.quarantine_dir.iterdir() if p.name != "index.jsonl"}
    assert kept[layout.session_file(CORRUPT).name] == BROKEN and kept[layout.event_log(HEALTHY).name] == healthy_log
    good = layout.event_log(HEALTHY).read_bytes()
    assert good and good.endswith(b"\n") and len(good.splitlines()) == len(healthy_log.splitlines()) - 2
    assert layout.session_file(STALE).read_bytes() == before["state/" + layout.session_file(STALE).name]  # stale is not corrupt
    index = [json.loads(line) for line in (layout.quarantine_dir / "index.jsonl").read_text().splitlines()]
    assert len(index) == 2 and all("emergency clean" in item["reason"] for item in index)
    assert_nothing_lost(before, tree(layout.claude_dir), archive_files(layout))


def test_reset_goes_back_to_safe_defaults(layout):
    layout.config_file.write_text("{not json")
    (layout.backup_dir / "keep-me").mkdir(parents=True)
    (layout.backup_dir / "keep-me" / "file").write_text("backup data")
    before = tree(layout.claude_dir)
    proc = run(layout, "reset")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in layout.state_dir.iterdir()) == ["backups"]
    assert (layout.backup_dir / "keep-me" / "file").read_text() == "backup data"
    (aside,) = (layout.claude_dir / "recovery").glob("state-reset-*")
    assert (aside / layout.session_file(HEALTHY).name).read_bytes() == before["state/" + layout.session_file(HEALTHY).name]
    assert (aside / "lifeguard.json").read_text() == "{not json"
    from lifeguard.config.load import DEFAULTS

    assert json.loads(layout.config_file.read_text()) == DEFAULTS
    assert "state store ok" in proc.stdout
    assert oct(layout.state_dir.stat().st_mode & 0o777) == "0o700"
    assert_nothing_lost(before, tree(layout.claude_dir), archive_files(layout))


def test_auto_backs_up_cleans_validates_and_tests(layout):
    before = tree(layout.claude_dir)
    proc = run(layout, "auto")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for heading in ("== Backup", "== Clean", "== Validate the folder layout", "== Test basic state operations"):
        assert heading in proc.stdout
    assert "layout ok" in proc.stdout and "state store ok" in proc.stdout
    assert not layout.session_file(CORRUPT).exists()
    assert_nothing_lost(before, tree(layout.claude_dir), archive_files(layout))


def test_auto_reports_a_broken_layout(layout):
    (layout.claude_dir / "hooks" / "lifeguard-run").unlink()
    proc = run(layout, "auto")
    assert proc.returncode == 1
    assert "PROBLEM:" in proc.stdout and "hooks/lifeguard-run is missing" in proc.stdout
    assert "reinstall with install.sh" in proc.stdout


def test_no_argument_works_on_the_project_it_is_installed_in(layout, tmp_path):
    """Like the other tools: run from anywhere, the installed script works on its own .claude."""
    script = layout.claude_dir / "scripts" / "emergency_recovery.sh"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LIFEGUARD_HOME", "CLAUDE_PROJECT_DIR")}
    for args in ([], ["backup"]):
        proc = subprocess.run([str(script), *args], capture_output=True, text=True, env=env, cwd=elsewhere, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"on {layout.claude_dir}" in proc.stdout.splitlines()[0]
    assert "== Clean" in subprocess.run([str(script)], capture_output=True, text=True, env=env, cwd=elsewhere,
                                        timeout=180).stdout  # no mode: auto
    assert not (elsewhere / ".claude").exists()


def test_no_argument_from_a_checkout_works_on_the_current_project(layout):
    """From the source checkout, the current folder (or $CLAUDE_PROJECT_DIR) is the project."""
    env = {k: v for k, v in os.environ.items() if k not in ("LIFEGUARD_HOME", "CLAUDE_PROJECT_DIR")}
    proc = subprocess.run([str(ROOT / "scripts" / "emergency_recovery.sh"), "backup"], capture_output=True, text=True,
                          env=env, cwd=layout.claude_dir.parent, timeout=180)
    assert proc.returncode == 0 and f"on {layout.claude_dir}" in proc.stdout, proc.stdout + proc.stderr
    proc = subprocess.run([str(ROOT / "scripts" / "emergency_recovery.sh"), "backup"], capture_output=True, text=True,
                          env={**env, "CLAUDE_PROJECT_DIR": str(layout.claude_dir.parent)}, cwd="/", timeout=180)
    assert proc.returncode == 0 and f"on {layout.claude_dir}" in proc.stdout, proc.stdout + proc.stderr
