"""What lifeguard writes stays private, never goes through a planted link, and stays in its folder."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.core import fsutil
from lifeguard.commands.install import command as installer
from lifeguard.redact import redactor as redact
from lifeguard.hook import runner
from lifeguard.hook.pipeline import handle
from lifeguard.core.paths import Layout, UnsafeName, safe_child
from lifeguard.store.session import SessionStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _reset_redactor():
    yield
    redact.configure(None, None)


@pytest.fixture
def umask0():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def event(layout: Layout, session: str, name: str, **fields) -> dict:
    return handle(name, {"session_id": session, "hook_event_name": name, **fields}, layout)


def run_hook(layout: Layout, payload: dict, monkeypatch, handler=None) -> str:
    monkeypatch.setenv("LIFEGUARD_HOME", str(layout.claude_dir))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(payload).encode())))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert runner.run(payload.get("hook_event_name", "PreToolUse"), __file__, handler) == 0
    return out.getvalue()


def modes_under(folder: Path) -> dict[str, int]:
    """Permission bits of every entry under `folder` (links not followed)."""
    out = {}
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(base) / name
            out[str(path.relative_to(folder))] = stat.S_IMODE(os.lstat(path).st_mode)
    return out


# -- permissions -----------------------------------------------------------------------------


def test_state_files_and_folders_are_private_under_umask_000(tmp_path: Path, umask0, monkeypatch) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    claude = project / ".claude"
    claude.mkdir()
    (claude / "settings.json").write_text('{"env": {}}')
    installer.install(project, warm=False)  # makes state/ and a settings backup in state/backups
    layout = Layout(claude)
    event(layout, "s1", "SessionStart", source="startup", cwd=str(project))
    event(layout, "s1", "PreToolUse", tool_name="Bash", tool_input={"command": "echo --password hunter2xyz"})
    event(layout, "s1", "PostToolUse", tool_name="Bash", tool_input={"command": "echo --password hunter2xyz"},
          tool_response={"stdout": "ok"})
    SessionStore(layout, "s2", reducers=FEATURES).spool({"event": "PostToolUse"})  # spool/
    layout.session_file("s3").parent.mkdir(exist_ok=True)
    layout.session_file("s3").write_bytes(b"{broken")  # quarantine/ on the next hook
    os.chmod(layout.session_file("s3"), 0o600)
    event(layout, "s3", "PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    def boom(*_a):
        raise RuntimeError("bug")
    run_hook(layout, {"session_id": "s4", "hook_event_name": "PreToolUse"}, monkeypatch, boom)  # faults.jsonl

    modes = modes_under(layout.state_dir)
    for part in ("backups", "quarantine", "spool", "faults.jsonl", "redact.salt", "config.cache.json",
                 layout.event_log("s1").name, layout.session_file("s1").name, layout.lock_file("s1").name):
        assert any(name == part or name.startswith(part + "/") for name in modes), part
    assert stat.S_IMODE(os.lstat(layout.state_dir).st_mode) == 0o700
    wrong = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (layout.state_dir / name).is_dir() else 0o600)}
    assert wrong == {}


def test_an_existing_open_state_folder_is_made_private(tmp_path: Path, umask0) -> None:
    layout = Layout(tmp_path / ".claude")
    layout.state_dir.mkdir(parents=True, mode=0o777)
    os.chmod(layout.state_dir, 0o777)
    event(layout, "s1", "SessionStart", source="startup")
    assert stat.S_IMODE(os.lstat(layout.state_dir).st_mode) == 0o700


# -- planted links ------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside" / "precious.txt"
    target.parent.mkdir()
    target.write_text("do not touch\n")
    return target


def planted_links(layout: Layout) -> list[Path]:
    return [p for p in layout.quarantine_dir.iterdir() if p.is_symlink()] if layout.quarantine_dir.exists() else []


@pytest.mark.parametrize("which", ["session_file", "event_log", "lock_file"])
def test_link_planted_at_a_session_path_is_quarantined_and_reported_once(tmp_path: Path, outside: Path, which: str) -> None:
    layout = Layout(tmp_path / "ws" / ".claude")
    event(layout, "s1", "SessionStart", source="startup")
    path = getattr(layout, which)("s1")
    path.unlink()
    path.symlink_to(outside)

    out = event(layout, "s1", "PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    assert outside.read_text() == "do not touch\n"
    assert "symlink planted at " + path.name in json.dumps(out)  # the user is told
    links = planted_links(layout)
    assert len(links) == 1 and os.readlink(links[0]) == str(outside)  # the link itself, moved aside
    assert not path.is_symlink()
    index = (layout.quarantine_dir / "index.jsonl").read_text()
    assert path.name in index

    again = event(layout, "s1", "PostToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_response={})
    assert "planted" not in json.dumps(again)  # once
    assert outside.read_text() == "do not touch\n"
    records = [json.loads(line) for line in layout.event_log("s1").read_text().splitlines()]
    assert records[-1]["event"] == "PostToolUse"


def test_link_planted_at_the_event_log_through_the_runner(tmp_path: Path, outside: Path, monkeypatch) -> None:
    layout = Layout(tmp_path / "ws" / ".claude")
    layout.state_dir.mkdir(parents=True)
    layout.event_log("s1").symlink_to(outside)
    out = run_hook(layout, {"session_id": "s1", "hook_event_name": "PreToolUse", "tool_name": "Bash",
                            "tool_input": {"command": "ls"}}, monkeypatch)
    assert outside.read_text() == "do not touch\n"
    assert "systemMessage" in out and "symlink planted" in out
    assert not (layout.faults_log).exists()  # handled, not a fault
    assert layout.event_log("s1").is_file() and not layout.event_log("s1").is_symlink()


def test_link_planted_at_the_fault_log(tmp_path: Path, outside: Path, monkeypatch) -> None:
    layout = Layout(tmp_path / "ws" / ".claude")
    layout.state_dir.mkdir(parents=True)
    layout.faults_log.symlink_to(outside)

    def boom(*_a):
        raise RuntimeError("bug with --password hunter2xyz")

    run_hook(layout, {"session_id": "s1", "hook_event_name": "PreToolUse"}, monkeypatch, boom)
    assert outside.read_text() == "do not touch\n"
    fault = json.loads(layout.faults_log.read_text())
    assert fault["code"] == "INTERNAL_ERROR"
    assert "hunter2xyz" not in layout.faults_log.read_text()  # the fault's text is redacted too
    assert planted_links(layout)


def test_link_planted_at_the_config_cache(tmp_path: Path, outside: Path) -> None:
    layout = Layout(tmp_path / "ws" / ".claude")
    layout.state_dir.mkdir(parents=True)
    layout.config_file.write_text("{}")
    cache = layout.state_dir / "config.cache.json"
    cache.symlink_to(outside)
    event(layout, "s1", "SessionStart", source="startup")
    assert outside.read_text() == "do not touch\n"
    assert cache.is_file() and not cache.is_symlink()


def test_spool_folder_link_is_neither_read_nor_emptied(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "ws" / ".claude")
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    (victim / "keep.json").write_text('{"event": "Injected"}')
    layout.spool_dir.mkdir(parents=True)
    layout.session_spool("s1").symlink_to(victim, target_is_directory=True)
    out = event(layout, "s1", "PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    assert (victim / "keep.json").read_text() == '{"event": "Injected"}'
    assert "Injected" not in layout.event_log("s1").read_text()
    assert "symlink planted" in json.dumps(out)
    # and a record spooled later goes into a real folder, not through the link
    SessionStore(layout, "s1", reducers=FEATURES).spool({"event": "PostToolUse"})
    assert sorted(p.name for p in victim.iterdir()) == ["keep.json"]


def test_atomic_write_and_append_refuse_a_link(tmp_path: Path, outside: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(outside)
    with pytest.raises(OSError):
        fsutil.atomic_write(link, b"x")
    with pytest.raises(OSError):
        fsutil.append_durable(link, b"x")
    assert outside.read_text() == "do not touch\n"


def test_quarantine_planted_moves_the_link_not_its_target(tmp_path: Path, outside: Path) -> None:
    link = tmp_path / "state" / "x.json"
    link.parent.mkdir()
    link.symlink_to(outside)
    note = fsutil.quarantine_planted(tmp_path / "state" / "quarantine", link)
    assert note and "symlink" in note
    assert outside.read_text() == "do not touch\n" and not link.exists() and not link.is_symlink()
    assert fsutil.quarantine_planted(tmp_path / "state" / "quarantine", link) is None  # nothing left


def test_fifo_planted_at_the_state_path_does_not_hang(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "ws" / ".claude")
    layout.state_dir.mkdir(parents=True)
    os.mkfifo(layout.session_file("s1"))
    out = event(layout, "s1", "SessionStart", source="startup")
    assert "fifo planted" in json.dumps(out)
    assert layout.session_file("s1").is_file()


# -- paths from input --------------------------------------------------------------------

HOSTILE = ["../x", "../../escape", "/etc/passwd", "a/b", "x\x00y", "a" * 5000, "ünï/../cødé", "..", ".", "",
           "-rf", "con:", "s1\n"]


@pytest.mark.parametrize("sid", HOSTILE, ids=[repr(h)[:20] for h in HOSTILE])
def test_hostile_ids_write_nothing_outside_the_state_folder(tmp_path: Path, sid: str) -> None:
    ws = tmp_path / "ws"
    layout = Layout(ws / ".claude")
    (tmp_path / "x").mkdir()
    before = {p for p in tmp_path.rglob("*")}
    event(layout, sid, "SessionStart", source="startup")
    event(layout, sid, "SubagentStart", agent_id=sid, agent_type=sid)
    event(layout, sid, "PreToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id=sid, agent_id=sid)
    SessionStore(layout, sid, reducers=FEATURES).spool({"event": "PostToolUse", "agent": sid})
    new = {p for p in tmp_path.rglob("*")} - before
    assert new and all(layout.state_dir == p or layout.state_dir in p.parents or p == ws or p == ws / ".claude"
                       for p in new), sorted(map(str, new))
    for p in new:
        assert len(p.name.encode()) <= 255
    assert list((tmp_path / "x").iterdir()) == []


@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "/etc/passwd", "a/../../b", "", ".", "..",
                                  "x\x00y", "a" * 2000])
def test_safe_child_refuses_names_leading_outside(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    with pytest.raises(UnsafeName) as err:
        safe_child(folder, name)
    assert "refusing" in str(err.value)


def test_safe_child_refuses_a_link_leading_outside_and_accepts_plain_names(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    (folder / "settings").mkdir(parents=True)
    (folder / "out").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafeName, match="outside"):
        safe_child(folder, "out/secret")
    assert safe_child(folder, "settings-1.json") == folder.resolve() / "settings-1.json"
    assert safe_child(folder, "settings/settings-1.json") == folder.resolve() / "settings" / "settings-1.json"
    assert safe_child(folder, "ünïcødé.json").parent == folder.resolve()


# -- the environment is never printed or stored -------------------------------------------


def test_installer_and_runner_never_print_or_store_the_environment(tmp_path: Path) -> None:
    canary = "CANARYc4n4ry0123456789"
    env = dict(os.environ, LIFEGUARD_TEST_CANARY=canary, PYTHONPATH=str(ROOT / "lib"))
    project = tmp_path / "proj"
    project.mkdir()
    inst = subprocess.run([sys.executable, "-m", "lifeguard.commands.install", "--no-warm", str(project)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert inst.returncode == 0, inst.stderr
    hook = project / ".claude" / "hooks" / "pre_tool_use.py"
    outputs = [inst.stdout, inst.stderr]
    for payload in ('{"session_id": "s1", "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {}}',
                    "{not json"):  # a good input and one that faults
        run = subprocess.run([sys.executable, str(hook)], input=payload, env=env, capture_output=True,
                             text=True, timeout=60, cwd=project)
        outputs += [run.stdout, run.stderr]
    assert (project / ".claude" / "state" / "faults.jsonl").exists()
    assert all(canary not in text for text in outputs)
    for base, _, files in os.walk(project / ".claude"):
        for name in files:
            path = Path(base) / name
            if path.is_file() and not path.is_symlink():
                assert canary.encode() not in path.read_bytes(), path


def test_session_ids_in_file_names_are_uuids_or_hashes() -> None:
    from lifeguard.core.paths import safe_name

    uuid = "4b2d7a0e-1f3c-4e5a-9b6d-0c8e2f4a6b1d"
    assert safe_name(uuid) == uuid and safe_name(uuid.upper()) == uuid.upper()
    for other in ("hunter2-password", "s1", "a" * 40, "../x", ""):
        name = safe_name(other)
        assert name.startswith("h-") and (not other or other not in name[2:]) and safe_name(name) == name  # names read back map to themselves
    assert safe_name("s1") != safe_name("s2")




@pytest.mark.parametrize("given", ["/w/proj/.claude", "/w/proj/.claude/", "/w//proj/./.claude", "rel/.claude",
                                   "./.claude", "//net/.claude", "/w/x/../.claude"])
def test_the_layouts_str_paths_are_the_ones_its_paths_print(given: str) -> None:
    """The hooks use the layout's str paths (no pathlib on the hot path), the tools its Paths:
    both name the same files, and print the same, whatever the folder was given as."""
    layout, sid = Layout(given), "4b2d7a0e-1f3c-4e5a-9b6d-0c8e2f4a6b1d"
    pairs = [(layout.claude, layout.claude_dir), (layout.state, layout.state_dir),
             (layout.quarantine, layout.quarantine_dir), (layout.spool, layout.spool_dir),
             (layout.backups, layout.backup_dir), (layout.archive, layout.archive_dir),
             (layout.config_path, layout.config_file), (layout.faults_path, layout.faults_log),
             (layout.session_path(sid), layout.session_file(sid)), (layout.log_path(sid), layout.event_log(sid)),
             (layout.lock_path(sid), layout.lock_file(sid)), (layout.spool_path(sid), layout.session_spool(sid))]
    for text, path in pairs:
        assert isinstance(text, str) and isinstance(path, Path) and text == str(path)
    assert layout.claude == str(Path(given)) and Layout(Path(given)).state == layout.state
    assert layout.session_file(sid) == Path(given) / "state" / f"session-{sid}.json"
