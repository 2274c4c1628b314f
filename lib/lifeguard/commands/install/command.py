"""install.sh's verbs: `install` (or upgrade), `uninstall` (remove exactly what was installed,
keep the data), and `main`, which parses the arguments."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from ... import VERSION
from ...core import clock, fsutil
from .common import REPO, InstallError, say, write_public
from .environment import PYTHON_PATH_FILE, UV_PATH_FILE, check_config, precompile, prepare_environment
from .environment import recorded_python, resolved_uv
from .folders import unsafe_folders
from .gitignore import GITIGNORE, without_ignore_block, write_gitignore
from .guarding import guard_existing, unguarded
from .manifest import LAUNCHER, MANIFEST, digest, generate, read_manifest, remove_if_unchanged, source_files
from .manifest import write_code
from .settings import GUARDED_SETTINGS, is_ours, read_settings, with_ours, without_ours, write_settings

# What install writes besides the code (whose destinations the conflict check covers); with
# --guard-existing also GUARDED_SETTINGS.
WRITTEN = ("settings.json", "lifeguard.json", "state", "state/backups", "state/backups/settings", UV_PATH_FILE,
           PYTHON_PATH_FILE, GITIGNORE, str(MANIFEST))

# Paths (relative to .claude/) that install may create and uninstall removes when it did create
# them: settings.json once it holds nothing but what lifeguard put there, .gitignore once it holds
# nothing but lifeguard's block.
CREATABLE = ("settings.json", GITIGNORE)


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
            write_code(dest, data, 0o755 if executable else 0o644, folders)
        written[rel] = digest(data)
    for folder in folders:  # once per folder, not once per file: install is mostly waiting on fsync
        fsutil.fsync_dir(folder)
    uv_path = resolved_uv()
    if uv_path:  # the hooks run uv from here: no PATH search, no shim (pyenv's costs ~100 ms a call)
        generate(claude, UV_PATH_FILE, uv_path, written)
    python = prepare_environment(claude, uv_path or shutil.which("uv")) if warm else recorded_python(claude)
    if python:
        generate(claude, PYTHON_PATH_FILE, python, written)
    for rel, sha in old.items():  # files an older version installed that this one doesn't
        if rel not in written:
            remove_if_unchanged(claude / rel, sha)
    current = read_manifest(claude)
    if (current.get("version"), current["files"], current.get("created", [])) != (VERSION, written, created):
        manifest = {"version": VERSION, "installed_at": clock.now_iso(),
                    "files": written, "created": created}  # a re-install that changes nothing keeps the file
        write_public(claude / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    config = claude / "lifeguard.json"
    if not config.exists():
        write_public(config, (REPO / ".claude" / "lifeguard.json").read_bytes())
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


def next_steps(target: Path, guarded: bool) -> None:
    """What to do now: check it, use it, and guard the user's own hooks when there are some."""
    import shlex

    from ...guard import wrapping

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


def uninstall(target: Path) -> int:
    from ...guard import wrapping

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
    removed = sum(remove_if_unchanged(claude / rel, sha) for rel, sha in manifest.items())
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
            write_public(claude / GITIGNORE, kept_ignore.encode())
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
    from ...hook import helper

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
