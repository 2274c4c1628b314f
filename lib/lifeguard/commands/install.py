"""install.sh's work: copy lifeguard into a project's .claude/ and merge its hook entries.

    python -m lifeguard.commands.install [TARGET]        install or upgrade
    python -m lifeguard.commands.install --uninstall [TARGET] remove exactly what was installed

Every file installed is listed, with its hash, in `.claude/lib/lifeguard/MANIFEST.json`, so an
upgrade replaces exactly lifeguard's files and uninstall removes exactly them. A file at a
destination that lifeguard did not put there is never overwritten: the install stops first.
Lifeguard's settings.json entries are recognised by their command (`.claude/hooks/lifeguard-run`);
the user's own settings and hooks are kept as they are. settings.json is backed up before any
change, and an invalid settings.json stops the install with no change at all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .. import VERSION
from ..core import clock, fsutil

REPO = Path(__file__).resolve().parents[3]
MARKER = "/.claude/hooks/lifeguard-run "
MANIFEST = Path("lib/lifeguard/MANIFEST.json")
SETTINGS_BACKUPS_KEPT = 10
UV_PATH_FILE = "hooks/uv.path"
SLASH_COMMAND = "commands/lifeguard.md"
LAUNCHER = "lifeguard"  # .claude/lifeguard: runs the recovery tools with whatever Python works
GITIGNORE = ".gitignore"  # .claude/.gitignore: lifeguard's block keeps what it writes out of git status
PYTHON_PATH_FILE = "hooks/python.path"  # the Python of the hooks' shared uv environment
GUARDED_SETTINGS = ("settings.json", "settings.local.json")  # the shared settings and the personal ones

# event, script, timeout (s), takes a tool matcher
HOOKS = [
    ("SessionStart", "session_start", 60, False),
    ("UserPromptSubmit", "user_prompt_submit", 10, False),
    ("PreToolUse", "pre_tool_use", 10, True),
    ("PostToolUse", "post_tool_use", 10, True),
    ("PostToolUseFailure", "post_tool_use_failure", 10, True),
    ("Stop", "stop", 30, False),
    ("SubagentStart", "subagent_start", 10, False),
    ("SubagentStop", "subagent_stop", 10, False),
    ("PreCompact", "pre_compact", 30, False),
    ("SessionEnd", "session_end", 15, False),
]


class InstallError(Exception):
    """A reason to stop before changing anything; the message is for the user."""


def say(text: str) -> None:
    print(f"lifeguard: {text}", flush=True)


def command_for(script: str, timeout: int) -> str:
    return f'"$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run {script} {timeout}'


def lifeguard_entries() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for event, script, timeout, matcher in HOOKS:
        group: dict = {"matcher": "*"} if matcher else {}
        group["hooks"] = [{"type": "command", "command": command_for(script, timeout), "timeout": timeout}]
        out[event] = [group]
    return out


def is_ours(hook: object) -> bool:
    return isinstance(hook, dict) and MARKER in str(hook.get("command", ""))


# -- settings.json -----------------------------------------------------------------


def read_settings(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InstallError(f"{path} is not valid JSON ({exc}); fix it first. Nothing was changed.") from None
    if not isinstance(data, dict):
        raise InstallError(f"{path} must hold a JSON object; nothing was changed.")
    if "hooks" in data and not isinstance(data["hooks"], dict):
        raise InstallError(f'{path}: "hooks" must be an object; nothing was changed.')
    return data


def without_ours(settings: dict) -> dict:
    """settings with every lifeguard hook removed, and only what that emptied dropped."""
    out = json.loads(json.dumps(settings))
    hooks = out.get("hooks")
    if not isinstance(hooks, dict):
        return out
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                kept = [h for h in group["hooks"] if not is_ours(h)]
                if len(kept) != len(group["hooks"]) and not kept:
                    continue  # a group that only held lifeguard's hooks
                group["hooks"] = kept
            kept_groups.append(group)
        if groups and not kept_groups:
            del hooks[event]
        else:
            hooks[event] = kept_groups
    if not hooks and settings.get("hooks"):
        del out["hooks"]
    return out


def with_ours(settings: dict) -> dict:
    out = without_ours(settings)
    hooks = out.setdefault("hooks", {})
    for event, groups in lifeguard_entries().items():
        existing = hooks.get(event)
        hooks[event] = (existing if isinstance(existing, list) else []) + groups
    return out


def write_settings(claude: Path, before: dict, after: dict, name: str = "settings.json") -> bool:
    path = claude / name
    stem = name[: -len(".json")]
    if before == after and (path.exists() or not after):
        return False
    if path.exists():
        backups = claude / "state" / "backups" / "settings"
        fsutil.ensure_private_dir(claude / "state")
        fsutil.ensure_private_dir(claude / "state" / "backups")
        fsutil.ensure_private_dir(backups)
        stamp = clock.file_stamp() + f"-{os.getpid()}"
        fsutil.atomic_write(backups / f"{stem}-{stamp}.json", path.read_bytes())
        for old in sorted(backups.glob(f"{stem}-*.json"))[:-SETTINGS_BACKUPS_KEPT]:
            old.unlink()
        say(f"backed up {name} to {backups.relative_to(claude.parent)}/{stem}-{stamp}.json")
    text = json.dumps(after, indent=2, ensure_ascii=False) + "\n"
    _write_public(path, text.encode())
    return True


def _write_code(path: Path, data: bytes, mode: int, folders: set[Path]) -> None:
    """Like _write_public (fsynced temp file, mode set, then renamed over `path`), leaving the
    folder's fsync to the caller, who does it once for all the files it writes there."""
    tmp = fsutil.write_temp(path, data)
    try:
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folders.add(path.parent)


def _write_public(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Atomic write of a file meant to be read by others (settings, code): 0644 or 0755."""
    fsutil.atomic_write(path, data)
    os.chmod(path, mode)


# -- files ---------------------------------------------------------------------------


def source_files() -> dict[str, Path]:
    """Destination (relative to .claude/) -> source file in this checkout."""
    files: dict[str, Path] = {}
    for src in sorted((REPO / "hooks").iterdir()):
        if src.is_file() and (src.suffix == ".py" or src.name in ("lifeguard-run", "guard-run")):
            files[f"hooks/{src.name}"] = src
    for src in sorted((REPO / "lib" / "lifeguard").rglob("*.py")):
        if "__pycache__" not in src.parts:
            files[str(Path("lib") / src.relative_to(REPO / "lib"))] = src
    scripts = REPO / "scripts"
    if scripts.is_dir():
        for src in sorted(scripts.iterdir()):
            if src.is_file() and src.suffix in (".py", ".sh"):
                files[f"scripts/{src.name}"] = src
    files[LAUNCHER] = scripts / "lifeguard"
    files[SLASH_COMMAND] = REPO / ".claude" / SLASH_COMMAND  # /lifeguard inside Claude Code
    return files


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(claude: Path) -> dict:
    try:
        data = json.loads((claude / MANIFEST).read_bytes())
        return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else {"files": {}}
    except (OSError, ValueError):
        return {"files": {}}


# What install writes besides the code (whose destinations the conflict check covers); with
# --guard-existing also GUARDED_SETTINGS.
WRITTEN = ("settings.json", "lifeguard.json", "state", "state/backups", "state/backups/settings", UV_PATH_FILE,
           PYTHON_PATH_FILE, GITIGNORE, str(MANIFEST))


def refuse_links(claude: Path, names: tuple[str, ...]) -> None:
    """Stop before any change when a path install would write is a symlink: it would either
    write through it (into someone else's file) or fail halfway, with the code already copied."""
    links = [name for name in names if (claude / name).is_symlink()]
    if links:
        where = ", ".join(f".claude/{name} -> {os.readlink(claude / name)}" for name in links)
        raise InstallError(f"{where}: lifeguard writes there and never through a symlink. Replace the link with "
                           "the file (or folder) itself and run install.sh again. Nothing was changed.")


def install(target: Path, warm: bool = True, guarding: bool = False) -> int:
    claude = target / ".claude"
    settings_path = claude / "settings.json"
    refuse_links(claude, WRITTEN + (GUARDED_SETTINGS if guarding else ()))
    before = read_settings(settings_path)  # refuses a broken settings.json before any change
    previous = read_manifest(claude)
    old = previous["files"]
    # what this install creates that is not code, so uninstall can take it away again
    created = [rel for rel in previous.get("created", []) if rel in CREATABLE]
    created += [rel for rel in CREATABLE if rel not in created and not (claude / rel).exists()]
    plan = source_files()

    conflicts = []
    for rel, src in plan.items():
        dest = claude / rel
        if dest.is_symlink() or (dest.exists() and rel not in old and dest.read_bytes() != src.read_bytes()):
            conflicts.append(rel)
    if conflicts:
        raise InstallError(
            "these files in .claude/ were not installed by lifeguard and would be overwritten: "
            + ", ".join(conflicts) + ". Move them aside and run install.sh again. Nothing was changed."
        )

    claude.mkdir(parents=True, exist_ok=True)
    _stop_helper(claude, "it held the old code; the next hook starts a fresh one")
    written, folders = {}, set()
    for rel, src in plan.items():
        dest = claude / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        executable = (rel.startswith(("hooks/", "scripts/")) and (src.suffix != ".py" or data.startswith(b"#!"))
                      or rel == LAUNCHER)
        if not dest.exists() or dest.read_bytes() != data or (os.stat(dest).st_mode & 0o777) != (0o755 if executable else 0o644):
            _write_code(dest, data, 0o755 if executable else 0o644, folders)
        written[rel] = digest(data)
    for folder in folders:  # once per folder, not once per file: install is mostly waiting on fsync
        fsutil.fsync_dir(folder)
    uv_path = resolved_uv()
    if uv_path:  # the hooks run uv from here: no PATH search, no shim (pyenv's costs ~100 ms a call)
        _generate(claude, UV_PATH_FILE, uv_path, written)
    python = prepare_environment(claude, uv_path or shutil.which("uv")) if warm else recorded_python(claude)
    if python:
        _generate(claude, PYTHON_PATH_FILE, python, written)
    for rel, sha in old.items():  # files an older version installed that this one doesn't
        if rel not in written:
            _remove_if_unchanged(claude / rel, sha)
    current = read_manifest(claude)
    if (current.get("version"), current["files"], current.get("created", [])) != (VERSION, written, created):
        manifest = {"version": VERSION, "installed_at": clock.now_iso(),
                    "files": written, "created": created}  # a re-install that changes nothing keeps the file
        _write_public(claude / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    config = claude / "lifeguard.json"
    if not config.exists():
        _write_public(config, (REPO / ".claude" / "lifeguard.json").read_bytes())
        say("wrote the default settings to .claude/lifeguard.json (edit to tune)")
    else:
        check_config(claude, python)

    changed = write_settings(claude, before, with_ours(before))
    say(("merged lifeguard's hooks into" if changed else "hooks already present in") + " .claude/settings.json")
    if write_gitignore(claude):
        say("added lifeguard's runtime files (state, alerts, recovery, uv.path) to .claude/.gitignore")
    fsutil.ensure_private_dir(claude / "state")
    precompile(claude, python or sys.executable)  # once, for the interpreter the hooks run on
    if not old:
        say(f"installed lifeguard {VERSION} into {claude}")
    elif previous.get("version") == VERSION:
        say(f"reinstalled lifeguard {VERSION} in {claude}")
    else:
        say(f"upgraded lifeguard from {previous.get('version') or 'an unknown version'} to {VERSION} in {claude}")
    return 0


# Paths (relative to .claude/) that install may create and uninstall removes when it did create
# them: settings.json once it holds nothing but what lifeguard put there, .gitignore once it holds
# nothing but lifeguard's block.
CREATABLE = ("settings.json", GITIGNORE)
IGNORE_BEGIN = "# lifeguard: what it writes while it runs (install.sh --uninstall removes this block)"
IGNORE_END = "# end of lifeguard's block"
IGNORED = ("/state/", "/recovery/", "/alerts.log*", "/urgent_alerts.txt*", "/" + UV_PATH_FILE,
           "/" + PYTHON_PATH_FILE, "/hooks/__pycache__/", "/lib/**/__pycache__/", "/scripts/__pycache__/")


def without_ignore_block(text: str) -> str:
    lines = text.splitlines(keepends=True)
    if IGNORE_BEGIN + "\n" not in lines:
        return text
    start = lines.index(IGNORE_BEGIN + "\n")
    end = next((i for i in range(start, len(lines)) if lines[i].rstrip("\n") == IGNORE_END), len(lines) - 1)
    return "".join(lines[:start] + lines[end + 1:])


def write_gitignore(claude: Path) -> bool:
    """lifeguard's block in .claude/.gitignore, the user's lines kept; True when it changed."""
    path = claude / GITIGNORE
    text = path.read_text() if path.exists() else ""
    kept = without_ignore_block(text)
    wanted = kept + ("" if not kept or kept.endswith("\n") else "\n") + "\n".join((IGNORE_BEGIN, *IGNORED, IGNORE_END)) + "\n"
    if wanted == text:
        return False
    _write_public(path, wanted.encode())
    return True


def check_config(claude: Path, python: str | None) -> None:
    """Report what is wrong in the user's existing lifeguard.json (kept as it is): each bad value
    with its key and the default used instead. Validation needs pydantic, which the hooks'
    environment has; without it the check is left to doctor, and this says so."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from lifeguard.config.load import validate_file; "
            "from lifeguard.core.paths import Layout; print('\\n'.join(validate_file(Layout(sys.argv[2])).problems))")
    try:
        proc = subprocess.run([python or sys.executable, "-c", code, str(REPO / "lib"), str(claude)],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is None or proc.returncode != 0:
        say("kept your .claude/lifeguard.json; could not check it here (check it with: .claude/lifeguard doctor)")
        return
    problems = [line for line in proc.stdout.splitlines() if line.strip()]
    if not problems:
        say("kept your .claude/lifeguard.json (checked: valid)")
        return
    say(f"kept your .claude/lifeguard.json, but {len(problems)} setting(s) in it are not usable; the hooks use the "
        "default for each until you fix it:")
    for problem in problems:
        say(f"  {problem}")


def resolved_uv() -> str | None:
    """The uv binary itself: `uv run` (which install.sh uses) names it in $UV; else PATH."""
    for candidate in (os.environ.get("UV"), shutil.which("uv")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            with open(candidate, "rb") as f:
                if f.read(2) != b"#!":  # a wrapper script such as a pyenv shim is not the binary
                    return os.path.abspath(candidate)
    return None


def _generate(claude: Path, rel: str, line: str, written: dict[str, str]) -> None:
    """A one-line file install.sh writes (not copied from the checkout), listed in the manifest."""
    data = (line + "\n").encode()
    if not (claude / rel).exists() or (claude / rel).read_bytes() != data:
        _write_public(claude / rel, data)
    written[rel] = digest(data)


def recorded_python(claude: Path) -> str | None:
    """The hooks' environment's Python that an earlier install recorded, if it is still there."""
    try:
        python = (claude / PYTHON_PATH_FILE).read_text().strip()
    except OSError:
        return None
    return python if python and os.access(python, os.X_OK) else None


def _remove_if_unchanged(path: Path, sha: str) -> bool:
    try:
        if digest(path.read_bytes()) != sha:
            say(f"kept {path} (changed since it was installed)")
            return False
        path.unlink()
        return True
    except FileNotFoundError:
        return True


def precompile(claude: Path, python: str) -> None:
    """Write the library's bytecode now, for `python`.

    Hooks then never compile it, which matters where PYTHONDONTWRITEBYTECODE is set (Claude Code
    passes the user's environment on): Python still reads .pyc files then, it only never writes
    them, so without this every hook would compile the whole library again (~100 ms).
    Up-to-date files are left alone, so installing twice changes nothing.
    """
    code = "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=2)"
    try:
        subprocess.run([python, "-c", code, str(claude / "lib")], capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        pass  # only an optimisation


ENV_SCRIPT = "scripts/state_recovery.py"  # its dependencies are every hook's, plus the tools' own


def prepare_environment(claude: Path, uv: str | None) -> str | None:
    """Build the one uv environment all hooks (and the recovery tools) run in; record its Python.

    Every hook pins the same packages, so one environment serves them all: lifeguard-run points
    `uv run --active` at it (VIRTUAL_ENV), instead of uv building one per hook script. It is the
    script environment uv keeps for ENV_SCRIPT (in uv's cache; `uv cache clean` removes it and the
    next hook builds it again at the same place). Returns its Python, or None when uv could not
    build it (the hooks then each get their own environment on first use, as uv does by default).
    """
    if not uv:
        say("uv not found; skipped preparing the hooks' environment")
        return None
    script = str(claude / ENV_SCRIPT)
    say("preparing the hooks' environment (one for all hooks; uv's cache makes this quick)")
    proc = subprocess.run([uv, "sync", "-q", "--script", script], capture_output=True, text=True)
    if proc.returncode == 0:
        proc = subprocess.run([uv, "python", "find", "--script", script], capture_output=True, text=True)
    python = proc.stdout.strip() if proc.returncode == 0 else ""
    if not python or not os.access(python, os.X_OK):
        say(f"could not prepare the hooks' environment (uv: {proc.stderr.strip().splitlines()[-1:]}); "
            "each hook prepares its own on first use")
        return None
    return python


# -- the user's hooks, guarded (install.sh --guard-existing) ----------------------------------


def guard_existing(target: Path, override: float | None = None) -> int:
    """Wrap the user's own hook commands in guard.py; `--uninstall` restores them exactly."""
    from ..guard import wrapping

    claude = target / ".claude"
    for name in GUARDED_SETTINGS:  # the shared settings and the personal, uncommitted ones
        if name != "settings.json" and not (claude / name).exists():
            continue
        before = read_settings(claude / name)
        after, count = wrapping.wrap(before, is_ours, override)
        write_settings(claude, before, after, name)
        if not count:
            say(f"no unguarded hook commands of yours in .claude/{name}")
            continue
        say(f"guarded {count} hook command(s) of yours in .claude/{name} with .claude/hooks/guard.py:")
        for (event, command), (_, now) in zip(_commands(before), _commands(after)):
            if command != now:
                say(f"  {event}: {command if len(command) <= 100 else command[:99] + '…'}")
    return 0


def _commands(settings: dict):
    """(event, command) of every hook in settings, in order."""
    hooks = settings.get("hooks")
    for event, groups in hooks.items() if isinstance(hooks, dict) else ():
        for group in groups if isinstance(groups, list) else ():
            for hook in (group.get("hooks") if isinstance(group, dict) else None) or ():
                if isinstance(hook, dict):
                    yield event, str(hook.get("command", ""))


def next_steps(target: Path, guarded: bool) -> None:
    """What to do now: check it, use it, and guard the user's own hooks when there are some."""
    import shlex

    from ..guard import wrapping

    claude = target / ".claude"
    launcher = ".claude/lifeguard" if target == Path.cwd() else shlex.quote(str(claude / "lifeguard"))
    say("next steps:")
    say(f"  check it: {launcher} doctor   (and later: {launcher} incidents, {launcher} --help)")
    say(f"  start Claude Code in {target}: lifeguard runs at every hook; /lifeguard shows its status")
    mine = sum(wrapping.wrap(read_settings(claude / name), is_ours)[1]
               for name in GUARDED_SETTINGS if (claude / name).is_file())
    if mine and not guarded:
        say(f"  {mine} hook command(s) of your own run unguarded; to have one that hangs or keeps failing "
            f"ended or paused: {shlex.quote(str(REPO / 'install.sh'))} --guard-existing {shlex.quote(str(target))}")
    say("  commit .claude/ to share lifeguard with your team (.claude/.gitignore keeps its runtime files out)")


def unsafe_folders(target: Path) -> list[str]:
    """Why the project, its .claude or the code folders in it (those that exist) are not safe to
    install into: owned by another user, or writable by group or others. Whoever can write there
    can replace the hooks that you (or root) will run. A group-writable folder is fine when the
    group is your own private one (umask 002 setups)."""
    import grp
    import pwd

    def name(table, key: int) -> str:
        try:
            return table(key)[0]
        except KeyError:
            return str(key)

    uid, problems = os.getuid(), []
    for folder in (target, target / ".claude", *(target / ".claude" / d for d in ("hooks", "lib", "scripts"))):
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            continue
        mode = f"mode {st.st_mode & 0o7777:o}"
        if st.st_uid != uid:
            problems.append(f"{folder} is owned by {name(pwd.getpwuid, st.st_uid)}, not by you ({name(pwd.getpwuid, uid)})")
        if st.st_mode & 0o002:
            problems.append(f"{folder} is writable by everyone ({mode})")
        elif st.st_mode & 0o020:
            group = name(grp.getgrgid, st.st_gid)
            try:
                private = st.st_gid == os.getgid() and group == name(pwd.getpwuid, uid) and not grp.getgrgid(st.st_gid)[3]
            except KeyError:
                private = False
            if not private:
                problems.append(f"{folder} is writable by group {group} ({mode})")
    return problems



def unguarded(settings: dict) -> dict:
    """settings with every guarded hook command back in its original form."""
    from ..guard import wrapping

    after, count, left = wrapping.unwrap(settings, is_ours)
    if count:
        say(f"restored {count} guarded hook command(s) to their original form")
    for command in left:
        say(f"left a guarded hook command as it is (edited by hand?): {command[:160]}")
    return after


def uninstall(target: Path) -> int:
    from ..guard import wrapping

    claude = target / ".claude"
    settings_path = claude / "settings.json"
    refuse_links(claude, GUARDED_SETTINGS + ("state", "state/backups", "state/backups/settings", GITIGNORE))
    before = read_settings(settings_path)
    local = claude / "settings.local.json"
    before_local = read_settings(local) if local.exists() else None  # both read before any change
    manifest_data = read_manifest(claude)
    manifest = manifest_data["files"]
    ignore_text = (claude / GITIGNORE).read_text() if (claude / GITIGNORE).is_file() else ""
    if (not manifest and without_ours(before) == before and ignore_text == without_ignore_block(ignore_text)
            and not any(wrapping.unwrap(s, is_ours)[1] for s in (before, before_local or {}))):
        say(f"lifeguard is not installed in {claude} (no {MANIFEST}, no lifeguard hooks in settings.json); "
            "nothing was changed")
        return 0
    created = manifest_data.get("created", [])
    after = without_ours(unguarded(before))
    if after == {} and "settings.json" in created and settings_path.exists():
        settings_path.unlink()
        say("removed .claude/settings.json (install.sh created it, and it held only lifeguard's hooks)")
    elif write_settings(claude, before, after):
        say("removed lifeguard's hooks from .claude/settings.json")
    if before_local is not None:
        if write_settings(claude, before_local, unguarded(before_local), local.name):
            say("restored your guarded hook commands in .claude/settings.local.json")
    _stop_helper(claude, "uninstalled")
    environment = recorded_python(claude)
    removed = sum(_remove_if_unchanged(claude / rel, sha) for rel, sha in manifest.items())
    manifest_path = claude / MANIFEST
    if manifest_path.exists():
        manifest_path.unlink()
    for folder in sorted({(claude / rel).parent for rel in manifest} | {manifest_path.parent}, reverse=True):
        _rmdir_empty(folder, claude)
    say(f"removed {removed} installed files")
    if environment and Path(environment).parent.parent.parent.name == "environments-v2":
        shutil.rmtree(Path(environment).parent.parent, ignore_errors=True)  # only ever one in uv's cache
        say("removed the hooks' uv environment from uv's cache")
    kept_ignore = without_ignore_block(ignore_text)
    if kept_ignore != ignore_text:
        if kept_ignore.strip() or GITIGNORE not in created:
            _write_public(claude / GITIGNORE, kept_ignore.encode())
            say("removed lifeguard's lines from .claude/.gitignore")
        else:
            (claude / GITIGNORE).unlink()
            say("removed .claude/.gitignore (install.sh created it for lifeguard's lines)")
    kept = [f".claude/{name} ({why})" for name, why in KEPT if (claude / name).exists()]
    if kept:
        say("kept (delete by hand if you no longer want them): " + ", ".join(kept))
    return 0


KEPT = (("state", "lifeguard's data: session logs and states, backups, quarantine"),
        ("lifeguard.json", "your lifeguard settings"), ("settings.json", "your Claude Code settings"),
        ("alerts.log", "alerts"), ("urgent_alerts.txt", "alerts that needed a person"),
        ("recovery", "emergency_recovery.sh's backups"))


def _stop_helper(claude: Path, why: str) -> None:
    from ..hook import helper

    try:
        if helper.running(str(claude)) and helper.stop(str(claude)):
            say(f"stopped lifeguard's resident helper ({why})")
    except OSError as exc:
        say(f"could not stop lifeguard's resident helper ({exc}); it stops by itself within minutes")


def _rmdir_empty(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            shutil.rmtree(folder / "__pycache__", ignore_errors=True)
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install.sh", description="Install lifeguard into a project's .claude/ folder.")
    parser.add_argument("target", nargs="?", default=".", help="the project folder (default: the current folder)")
    parser.add_argument("--uninstall", action="store_true", help="remove lifeguard's hooks and files, keep its data")
    parser.add_argument("--no-warm", action="store_true", help="don't prepare uv's cache now")
    parser.add_argument("--guard-existing", action="store_true",
                        help="also wrap your own hook commands in guard.py (a timeout a little under theirs)")
    parser.add_argument("--guard-timeout", type=float, metavar="SECONDS",
                        help="with --guard-existing: the guard's timeout (default: the hook's own timeout, or 60, minus a margin)")
    parser.add_argument("--force", action="store_true",
                        help="install even into a folder owned by another user or writable by group or others")
    args = parser.parse_args(argv)
    target = Path(args.target).resolve()
    if not target.is_dir():
        print(f"lifeguard: {target} is not a folder", file=sys.stderr)
        return 1
    try:
        if args.uninstall:
            return uninstall(target)
        problems = unsafe_folders(target)
        if problems and not args.force:
            raise InstallError("refusing to install: " + "; ".join(problems) + ". Whoever can write there can "
                               "replace lifeguard's hooks, which then run as you. Fix it (chown -R \"$USER\" and "
                               "chmod go-w on those folders), or install anyway with --force. Nothing was changed.")
        for problem in problems:
            say(f"warning: {problem} (installing anyway: --force)")
        install(target, warm=not args.no_warm, guarding=args.guard_existing)
        if args.guard_existing:
            guard_existing(target, args.guard_timeout)
        next_steps(target, guarded=args.guard_existing)
        return 0
    except InstallError as exc:
        print(f"lifeguard: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"lifeguard: install failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
