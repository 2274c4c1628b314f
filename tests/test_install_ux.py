"""What install.sh says and leaves behind: next steps, the hooks it guarded, a clean git status,
reinstalled / upgraded, uninstall of nothing, uninstall taking back what install created, and
refusing a folder someone else can write to (issue 14 item 8; doctor flags it too)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lifeguard.commands.install import command as installer
from lifeguard.commands.doctor import files as doctor_files
from lifeguard.core.paths import Layout

MINE = {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./check.sh --strict"}]}],
                  "Stop": [{"hooks": [{"type": "command", "command": "notify-send done", "timeout": 5}]}]}}


def main(capsys, *args: str) -> tuple[int, str]:
    code = installer.main(["--no-warm", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def project_with(tmp_path: Path, settings: dict | None = None) -> Path:
    (tmp_path / ".claude").mkdir()
    if settings is not None:
        (tmp_path / ".claude" / "settings.json").write_text(json.dumps(settings))
    return tmp_path


def test_next_steps_and_the_guard_suggestion(tmp_path, capsys):
    project = project_with(tmp_path, MINE)
    code, out = main(capsys, str(project))
    assert code == 0
    assert f"check it: {project / '.claude' / 'lifeguard'} doctor" in out
    assert "2 hook command(s) of your own run unguarded" in out and f"--guard-existing {project}" in out
    code, out = main(capsys, "--guard-existing", str(project))
    assert code == 0
    assert "guarded 2 hook command(s) of yours in .claude/settings.json" in out
    assert "  PreToolUse: ./check.sh --strict" in out and "  Stop: notify-send done" in out
    assert "run unguarded" not in out


def test_no_guard_suggestion_without_hooks_of_ones_own(tmp_path, capsys):
    code, out = main(capsys, str(tmp_path))
    assert code == 0 and "next steps:" in out and "--guard-existing" not in out


def test_reinstalled_and_upgraded(tmp_path, capsys):
    assert main(capsys, str(tmp_path))[1].count(f"installed lifeguard {installer.VERSION} into") == 1
    assert f"reinstalled lifeguard {installer.VERSION} in" in main(capsys, str(tmp_path))[1]
    manifest = tmp_path / ".claude" / installer.MANIFEST
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "version": "0.0.9"}))
    assert f"upgraded lifeguard from 0.0.9 to {installer.VERSION} in" in main(capsys, str(tmp_path))[1]


def git_status(project: Path) -> list[str]:
    proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project, capture_output=True,
                          text=True, check=True)
    return [line[3:] for line in proc.stdout.splitlines()]


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_what_lifeguard_writes_stays_out_of_git_status(tmp_path, capsys):
    project = tmp_path / "proj"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".claude").mkdir()
    (project / ".claude" / ".gitignore").write_text("my-notes.txt\n")  # the user's own line
    assert main(capsys, str(project))[0] == 0
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lifeguard"], cwd=project,
                   check=True)
    claude = project / ".claude"
    # everything lifeguard writes while it runs, and the bytecode of its code
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIFEGUARD_", "CLAUDE_"))}
    event = json.dumps({"session_id": "git-clean", "hook_event_name": "SessionStart", "source": "startup"})
    subprocess.run(["python3", str(claude / "hooks" / "session_start.py")], input=event, text=True, env=env,
                   cwd=project, capture_output=True, timeout=60)
    assert Layout(claude).event_log("git-clean").exists()
    for name in ("alerts.log", "alerts.log.1", "urgent_alerts.txt", "recovery/state-1.tar.gz", "hooks/uv.path",
                 "hooks/python.path", "hooks/__pycache__/x.pyc", "lib/lifeguard/__pycache__/y.pyc",
                 "lib/lifeguard/commands/__pycache__/z.pyc", "scripts/__pycache__/w.pyc"):
        (claude / name).parent.mkdir(parents=True, exist_ok=True)
        (claude / name).write_text("x")
    assert git_status(project) == []
    (claude / "my-notes.txt").write_text("mine")
    (claude / "mine.txt").write_text("mine")
    assert git_status(project) == [".claude/mine.txt"]  # only lifeguard's files are hidden
    # uninstall takes its lines back and keeps the user's
    installer.uninstall(project)
    assert (claude / ".gitignore").read_text() == "my-notes.txt\n"


def test_uninstall_where_nothing_is_installed_says_so_and_changes_nothing(tmp_path, capsys):
    project = project_with(tmp_path, MINE)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, out = main(capsys, "--uninstall", str(project))
    assert code == 0 and "lifeguard is not installed in" in out and "nothing was changed" in out
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    bare = tmp_path / "bare"
    bare.mkdir()
    code, out = main(capsys, "--uninstall", str(bare))  # no .claude at all: the same, and none is made
    assert code == 0 and "not installed" in out and not (bare / ".claude").exists()


def test_uninstall_takes_back_what_install_created_and_lists_what_it_keeps(tmp_path, capsys):
    assert main(capsys, str(tmp_path))[0] == 0
    claude = tmp_path / ".claude"
    (claude / "alerts.log").write_text("{}\n")
    (claude / "recovery").mkdir()
    code, out = main(capsys, "--uninstall", str(tmp_path))
    assert code == 0
    assert not (claude / "settings.json").exists() and not (claude / ".gitignore").exists()
    assert sorted(p.name for p in claude.iterdir()) == ["alerts.log", "lifeguard.json", "recovery", "state"]
    kept = next(line for line in out.splitlines() if "kept (delete by hand" in line)
    for name in (".claude/state", ".claude/lifeguard.json", ".claude/alerts.log", ".claude/recovery"):
        assert name in kept
    assert ".claude/settings.json" not in kept


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_folder_others_can_write_to_is_refused_unless_forced(tmp_path, capsys, mode):
    project = tmp_path / "proj"
    project.mkdir()
    project.chmod(mode)
    own_group = installer.unsafe_folders(project) == []  # 775 with your private group is fine
    code, out = main(capsys, str(project))
    if own_group:
        assert code == 0
        return
    assert code == 1 and "refusing to install" in out and "--force" in out and "Nothing was changed" in out
    assert not (project / ".claude").exists()
    code, out = main(capsys, "--force", str(project))
    assert code == 0 and "warning:" in out and "writable by" in out
    findings = doctor_files.check_folders(Layout(project / ".claude"))
    assert findings and findings[0][0] == "fail" and "writable by" in findings[0][1]
    project.chmod(0o755)
    assert doctor_files.check_folders(Layout(project / ".claude"))[0][0] == "ok"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to hand a folder to another user")
def test_a_claude_folder_owned_by_another_user_is_refused(tmp_path, capsys):
    """The attack: another user owns the project's .claude and could replace the hooks root runs."""
    project = tmp_path / "proj"
    (project / ".claude").mkdir(parents=True)
    os.chown(project / ".claude", 65534, 65534)
    code, out = main(capsys, str(project))
    assert code == 1 and ".claude is owned by" in out and "not by you" in out
    assert list((project / ".claude").iterdir()) == []
    assert main(capsys, "--force", str(project))[0] == 0
    assert any(".claude is owned by" in f[1] for f in doctor_files.check_folders(Layout(project / ".claude")))
