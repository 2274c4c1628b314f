"""What is on disk: the on/off switches, the installed files against their manifest,
lifeguard.json, who may write the code folders, and the state folder (private and writable)."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat

from ...core.paths import Layout
from ..install.common import REPO
from ..install.folders import unsafe_folders
from ..install.manifest import MANIFEST
from .findings import Finding, fail, ok, warn
from .settings import enabled_plugin


def check_switch(layout: Layout) -> list[Finding]:
    """Whether lifeguard is on (switch.py): off is not broken, but nothing is guarded meanwhile."""
    from ...config import switch

    reason = switch.off_reason(layout.claude_dir)
    if reason is not None:
        how = f"unset {switch.DISABLE_ENV}" if reason.startswith(switch.DISABLE_ENV) else "run: .claude/lifeguard on"
        return [warn(f"lifeguard is OFF in this project ({reason}): no hook records or checks anything", how)]
    names, unknown = switch.skipped()
    findings = []
    if names:
        findings.append(warn(f"turned off by {switch.SKIP_ENV}: {', '.join(names)}", f"unset {switch.SKIP_ENV} to turn them back on"))
    if unknown:
        findings.append(warn(f"{switch.SKIP_ENV} names no such feature: {', '.join(unknown)}",
                             f"use some of: {', '.join(switch.SKIPPABLE)}"))
    return findings or [ok("lifeguard is on")]


def check_manifest(layout: Layout) -> list[Finding]:
    path = layout.claude_dir / MANIFEST
    if not path.exists() and enabled_plugin(layout):
        return [ok("no files installed in this project: the plugin's code is Claude Code's copy "
                   "(update it with: claude plugin update lifeguard)")]
    try:
        manifest = json.loads(path.read_bytes())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return [warn(f"{path} is missing or unreadable, so installed files cannot be verified",
                     "reinstall lifeguard with install.sh")]
    missing, changed = [], []
    for rel, sha in files.items():
        try:
            data = (layout.claude_dir / rel).read_bytes()
        except OSError:
            missing.append(rel)
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            changed.append(rel)
    findings: list[Finding] = []
    if missing:
        findings.append(fail(f"installed files missing: {', '.join(missing[:8])}", "reinstall lifeguard with install.sh"))
    if changed:
        findings.append(warn(f"installed files changed since install: {', '.join(changed[:8])}",
                             "reinstall with install.sh to get the originals back (your edits would be replaced)"))
    return findings or [ok(f"all {len(files)} installed files match the manifest (version {manifest.get('version')})")]


def check_config(layout: Layout) -> list[Finding]:
    from ...config import load as config_mod

    if not layout.config_file.exists():
        if enabled_plugin(layout):  # a plugin writes nothing into the project until asked
            return [ok(f"no {layout.config_file.name}: the defaults are used (to tune them, copy "
                       f"{REPO / '.claude' / 'lifeguard.json'} to {layout.config_file})")]
        return [warn(f"{layout.config_file} is missing; the defaults are used", "reinstall with install.sh to write it")]
    try:
        cfg = config_mod.load(layout, keep=False)  # validated once per change of the file (its cache)
    except ImportError:
        return [warn("pydantic is not installed in this interpreter, so lifeguard.json was not validated",
                     "run this tool with: uv run --script")]
    if cfg.problems:
        return [fail(problem, f"edit {layout.config_file}") for problem in cfg.problems]
    return [ok(f"{layout.config_file.name} is valid")]


def check_folders(layout: Layout) -> list[Finding]:
    """The project and lifeguard's code folders: only you may write there (install.sh refuses
    otherwise, unless --force), or someone else can replace the hooks you run."""
    project = layout.claude_dir.parent
    problems = unsafe_folders(project)
    if not problems:
        return [ok("the project and lifeguard's folders in it are yours, and only you can write there")]
    fix = (f'chown -R "$USER" {shlex.quote(str(layout.claude_dir))} and chmod go-w on each folder named '
           "(then check that the hooks are lifeguard's: reinstall with install.sh)")
    return [fail(f"{problem}: whoever can write there can replace the hooks you run", fix) for problem in problems]


def check_state_dir(layout: Layout) -> list[Finding]:
    path = layout.state_dir
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return [warn(f"{path} does not exist yet", "it is created by the first hook; nothing to do")]
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return [fail(f"{path} is not a folder (or is a symlink)", f"move it aside: mv {shlex.quote(str(path))} {shlex.quote(str(path))}.old")]
    findings: list[Finding] = []
    if st.st_mode & 0o077:
        findings.append(warn(f"{path} is readable by others (mode {st.st_mode & 0o777:o})", f"chmod 700 {shlex.quote(str(path))}"))
    if not os.access(path, os.W_OK | os.X_OK):
        findings.append(fail(f"{path} is not writable by you", f'chown -R "$USER" {shlex.quote(str(path))}'))
    return findings or [ok(f"{path} is private and writable")]
