"""install.sh --guard-existing: the user's hook commands wrapped in guard.py, restored exactly."""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from lifeguard.commands.install import command as installer  # noqa: E402
from lifeguard.commands.install.settings import MARKER, command_for  # noqa: E402
from lifeguard.guard import wrapping  # noqa: E402

TRICKY = [
    "echo plain",
    "python3 \"$CLAUDE_PROJECT_DIR\"/.claude/my hooks/check.py --flag='a b'",
    "printf '%s\\n' \"it's\" | grep -q x && exit 2 || true",
    "echo ünïcödé 🚀; echo $HOME\nsecond line",
    "",
]


def user_settings() -> dict:
    return {
        "permissions": {"allow": ["Bash(ls)"]},
        "hooks": {
            "PreToolUse": [
                {"matcher": "Bash", "hooks": [{"type": "command", "command": c, "timeout": 30} for c in TRICKY[:3]]},
                {"matcher": "*", "hooks": [{"type": "command", "command": command_for("pre_tool_use", 10), "timeout": 10}]},
            ],
            "Stop": [{"hooks": [{"type": "command", "command": TRICKY[3]}, {"type": "prompt", "prompt": "check"}]}],
            "SessionEnd": [{"hooks": [{"command": TRICKY[4], "type": "command", "timeout": 8}]}],
        },
    }


def commands(settings: dict) -> list[str]:
    return [h.get("command", "") for groups in settings["hooks"].values() for g in groups for h in g["hooks"]]


def test_round_trip_is_exact() -> None:
    before = user_settings()
    wrapped, count = wrapping.wrap(before, installer.is_ours)
    assert count == 5  # the user's command hooks; not lifeguard's own, not the prompt hook
    assert before == user_settings()  # the input is not modified
    restored, back, left = wrapping.unwrap(wrapped, installer.is_ours)
    assert back == 5 and left == []
    assert json.dumps(restored, indent=2, ensure_ascii=False) == json.dumps(before, indent=2, ensure_ascii=False)


def test_wrapped_commands_are_recognisable_and_run_the_original() -> None:
    wrapped, _ = wrapping.wrap(user_settings(), installer.is_ours)
    guarded = [c for c in commands(wrapped) if wrapping.GUARD_MARKER in c]
    assert len(guarded) == 5
    for command, original in zip(guarded, TRICKY):
        words = shlex.split(command)
        assert words[words.index("--") + 1:] == ["sh", "-c", original]
    assert command_for("pre_tool_use", 10) in commands(wrapped)  # lifeguard's own untouched


def test_guarding_twice_does_not_double_wrap() -> None:
    once, _ = wrapping.wrap(user_settings(), installer.is_ours)
    twice, count = wrapping.wrap(once, installer.is_ours)
    assert count == 0 and twice == once


def test_timeouts_sit_under_the_hooks_own() -> None:
    assert wrapping.guard_timeout({"timeout": 60}) == 55
    assert wrapping.guard_timeout({}) == wrapping.DEFAULT_TIMEOUT - 5
    assert wrapping.guard_timeout({"timeout": 8}) == 5
    assert wrapping.guard_timeout({"timeout": 2}) == 1
    assert wrapping.guard_timeout({"timeout": 60}, override=2) == 2
    assert wrapping.guard_timeout({"timeout": 10}, override=100) == 7  # never above the ceiling
    wrapped, _ = wrapping.wrap(user_settings(), installer.is_ours, override=2)
    assert all("--timeout 2 " in c for c in commands(wrapped) if wrapping.GUARD_MARKER in c)


def test_a_hand_edited_guarded_command_is_left_alone() -> None:
    settings = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "x/.claude/hooks/guard.py mangled"}]}]}}
    restored, count, left = wrapping.unwrap(settings, installer.is_ours)
    assert count == 0 and left == ["x/.claude/hooks/guard.py mangled"] and restored == settings


def test_install_guard_existing_and_uninstall(tmp_path: Path) -> None:
    claude = tmp_path / ".claude"
    claude.mkdir()
    original = user_settings()
    original["hooks"]["PreToolUse"].pop()  # a user's file without lifeguard in it
    (claude / "settings.json").write_text(json.dumps(original, indent=2, ensure_ascii=False) + "\n")
    assert installer.main(["--guard-existing", "--no-warm", "--guard-timeout", "4", str(tmp_path)]) == 0
    installed = json.loads((claude / "settings.json").read_text())
    assert (claude / "hooks" / "guard.py").exists()
    assert sum(wrapping.GUARD_MARKER in c for c in commands(installed)) == 5
    assert any(MARKER in c for c in commands(installed))
    # Upgrading keeps the guards; guarding again changes nothing.
    assert installer.main(["--guard-existing", "--no-warm", str(tmp_path)]) == 0
    assert json.loads((claude / "settings.json").read_text()) == installed
    assert installer.main(["--uninstall", str(tmp_path)]) == 0
    after = json.loads((claude / "settings.json").read_text())
    assert after == original
    assert (claude / "settings.json").read_text() == json.dumps(copy.deepcopy(original), indent=2, ensure_ascii=False) + "\n"


def test_guard_existing_covers_settings_local_json_and_uninstall_restores_it(tmp_path: Path) -> None:
    claude = tmp_path / ".claude"
    claude.mkdir()
    local = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "./my-notify.sh 'done'", "timeout": 30}]}]}}
    text = json.dumps(local, indent=2) + "\n"
    (claude / "settings.local.json").write_text(text)
    assert installer.main(["--guard-existing", "--no-warm", str(tmp_path)]) == 0
    guarded = json.loads((claude / "settings.local.json").read_text())
    assert sum(wrapping.GUARD_MARKER in c for c in commands(guarded)) == 1
    assert not any(MARKER in c for c in commands(guarded))  # lifeguard's own hooks stay in settings.json
    assert list((claude / "state" / "backups" / "settings").glob("settings.local-*.json"))  # backed up first
    assert installer.main(["--uninstall", str(tmp_path)]) == 0
    assert (claude / "settings.local.json").read_text() == text


def test_uninstall_changes_nothing_when_settings_local_json_is_broken(tmp_path: Path) -> None:
    claude = tmp_path / ".claude"
    claude.mkdir()
    assert installer.main(["--no-warm", str(tmp_path)]) == 0
    installed = (claude / "settings.json").read_bytes()
    (claude / "settings.local.json").write_text("{ not json")
    assert installer.main(["--uninstall", str(tmp_path)]) == 1
    assert (claude / "settings.json").read_bytes() == installed


# -- hooks/guard-run: uv's own failures never pass for the hook's decision ---------------------

GUARD_RUN = Path(__file__).resolve().parents[1] / "hooks" / "guard-run"


def _fake_uv(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    uv = folder / "uv"
    uv.write_text("#!/bin/sh\n" + body + "\n")
    uv.chmod(0o755)
    return folder


def _guard_run(tmp_path: Path, path: str, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": path, "HOME": str(tmp_path / "home")}
    return subprocess.run(["sh", str(GUARD_RUN), "--timeout", "5", "--name", "t", "--", *args],
                          input=b"{}", capture_output=True, env=env, timeout=30)


def test_guard_run_maps_a_deliberate_block_back_to_exit_2(tmp_path):
    fake = _fake_uv(tmp_path / "bin", 'echo "$LIFEGUARD_BLOCK_STATUS" >&2; exit "$LIFEGUARD_BLOCK_STATUS"')
    proc = _guard_run(tmp_path, f"{fake}:/usr/bin:/bin", "true")
    assert proc.returncode == 2 and b"102" in proc.stderr


def test_guard_run_turns_uvs_own_exit_2_into_a_clear_message(tmp_path):
    fake = _fake_uv(tmp_path / "bin", "echo 'error: failed to resolve' >&2; exit 2")
    proc = _guard_run(tmp_path, f"{fake}:/usr/bin:/bin", "true")
    assert proc.returncode == 0 and b"could not start (uv exit 2)" in proc.stderr


def test_guard_run_without_uv_runs_the_command_unguarded(tmp_path):
    marker = tmp_path / "ran"
    proc = _guard_run(tmp_path, "/usr/bin:/bin", "sh", "-c", f"cat >/dev/null; touch {marker}; exit 3")
    assert marker.exists() and proc.returncode == 3 and b"uv was not found" in proc.stderr


def test_real_guard_through_guard_run_keeps_the_hooks_exit_2(tmp_path):
    import os

    env = {**os.environ, "LIFEGUARD_HOME": str(tmp_path / ".claude")}
    proc = subprocess.run(["sh", str(GUARD_RUN), "--timeout", "20", "--name", "t", "--", "sh", "-c",
                           "cat >/dev/null; echo no >&2; exit 2"],
                          input=b'{"session_id":"g","hook_event_name":"PreToolUse"}', capture_output=True,
                          env=env, timeout=120)
    assert proc.returncode == 2 and b"no" in proc.stderr
