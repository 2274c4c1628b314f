""".claude/lifeguard: the tools from any folder, with no uv on PATH, and with uv broken."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lifeguard.commands.install import command as installer

REPO = Path(__file__).resolve().parents[1]
UV = installer.resolved_uv()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A warm install (the shared environment prepared): what install.sh leaves."""
    if not UV:
        pytest.skip("no uv binary here")
    project = tmp_path_factory.mktemp("launcher") / "proj"
    project.mkdir()
    assert installer.install(project, warm=True) == 0
    return project


def bare_env(tmp_path: Path, path: str = "/usr/bin:/bin") -> dict[str, str]:
    """No uv on PATH nor in HOME's usual places; no hint of the project."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIFEGUARD_", "CLAUDE_", "VIRTUAL_ENV", "UV_", "PYTHON"))}
    env.update(PATH=path, HOME=str(tmp_path / "home"))
    return env


def launch(project: Path, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(project / ".claude" / "lifeguard"), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, stdin=subprocess.DEVNULL, timeout=120)


def analyze(proc: subprocess.CompletedProcess, project: Path) -> dict:
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["state_dir"] == str(project / ".claude" / "state"), report
    return report


def test_installed_executable_and_listed(project):
    launcher = project / ".claude" / "lifeguard"
    assert os.access(launcher, os.X_OK)
    assert launcher.read_bytes() == (REPO / "scripts" / "lifeguard").read_bytes()
    assert installer.LAUNCHER in json.loads((project / ".claude" / installer.MANIFEST).read_text())["files"]


def test_runs_on_the_prepared_environment_with_no_uv_anywhere(project, tmp_path):
    """From another folder, no uv on PATH or in HOME: the recorded environment's Python runs it."""
    proc = launch(project, "analyze", "--json", env=bare_env(tmp_path), cwd=tmp_path)
    analyze(proc, project)
    assert proc.stderr == ""  # nothing to say: the full tools ran (rich, pydantic available)
    proc = launch(project, "doctor", "--quick", "--json", env=bare_env(tmp_path), cwd=tmp_path)
    config = [f for f in json.loads(proc.stdout) if f["check"] == "config"]
    assert config and config[0]["level"] == "ok", config  # pydantic was there to validate lifeguard.json


def hide(project: Path, rel: str, tmp_path: Path) -> Path:
    moved = tmp_path / Path(rel).name
    shutil.move(project / ".claude" / rel, moved)
    return moved


def test_uses_the_recorded_uv_when_the_environment_is_not_recorded(project, tmp_path):
    moved = hide(project, installer.PYTHON_PATH_FILE, tmp_path)
    try:
        proc = launch(project, "analyze", "--json", env=bare_env(tmp_path), cwd=tmp_path)
        analyze(proc, project)
        assert "runs on" not in proc.stderr  # not the python3 fallback
    finally:
        shutil.move(moved, project / ".claude" / installer.PYTHON_PATH_FILE)


def test_falls_back_to_plain_python3_without_uv(project, tmp_path):
    moved = [hide(project, rel, tmp_path) for rel in (installer.PYTHON_PATH_FILE, installer.UV_PATH_FILE)]
    try:
        proc = launch(project, "analyze", "--json", env=bare_env(tmp_path), cwd=tmp_path)
        analyze(proc, project)
        assert "uv was not found, so this runs on" in proc.stderr and "plain output" in proc.stderr
    finally:
        for path, rel in zip(moved, (installer.PYTHON_PATH_FILE, installer.UV_PATH_FILE)):
            shutil.move(path, project / ".claude" / rel)


def test_falls_back_to_plain_python3_when_uv_is_broken(project, tmp_path):
    """uv is there but does not run (a broken binary): python3 it is, and the user is told why."""
    moved = hide(project, installer.PYTHON_PATH_FILE, tmp_path)
    uv_path = project / ".claude" / installer.UV_PATH_FILE
    recorded = uv_path.read_text()
    broken = tmp_path / "bin" / "uv"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\necho 'uv: cannot execute: Exec format error' >&2\nexit 126\n")
    broken.chmod(0o755)
    uv_path.write_text(f"{broken}\n")
    try:
        proc = launch(project, "analyze", "--json", env=bare_env(tmp_path, f"{broken.parent}:/usr/bin:/bin"), cwd=tmp_path)
        analyze(proc, project)
        assert f"uv at {broken} does not run, so this runs on" in proc.stderr
    finally:
        uv_path.write_text(recorded)
        shutil.move(moved, project / ".claude" / installer.PYTHON_PATH_FILE)


def test_says_what_to_do_when_there_is_no_python_either(project, tmp_path):
    moved = [hide(project, rel, tmp_path) for rel in (installer.PYTHON_PATH_FILE, installer.UV_PATH_FILE)]
    bin_dir = tmp_path / "bin"  # a PATH with the tools sh needs, and only an old python3
    bin_dir.mkdir()
    old = bin_dir / "python3"
    old.write_text("#!/bin/sh\nexit 1\n")  # answers 'too old' to the version check
    old.chmod(0o755)
    try:
        proc = subprocess.run(["/bin/sh", str(project / ".claude" / "lifeguard"), "analyze"], capture_output=True,
                              text=True, env=bare_env(tmp_path, str(bin_dir)), cwd=tmp_path, timeout=60)
        assert proc.returncode == 2
        assert "need uv or Python 3.11+" in proc.stderr and "pip install --user uv" in proc.stderr
        assert "emergency_recovery.sh" in proc.stderr
    finally:
        for path, rel in zip(moved, (installer.PYTHON_PATH_FILE, installer.UV_PATH_FILE)):
            shutil.move(path, project / ".claude" / rel)


def test_a_command_this_version_lacks_is_named_clearly(project, tmp_path):
    proc = launch(project, "--plain", "teleport", env=bare_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "this version of lifeguard" in proc.stderr and "no command 'teleport'" in proc.stderr
    assert "analyze" in proc.stderr and "Traceback" not in proc.stderr


def test_messages_name_the_launcher(project, tmp_path):
    """What the tools tell the user to run next is the launcher, not a uv command line."""
    proc = launch(project, "--plain", "backups", env=bare_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{project / '.claude' / 'lifeguard'} backup" in proc.stdout
