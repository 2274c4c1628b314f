"""`doctor`: checks the installation itself; every problem comes with its fix.

Each check is a small function returning findings `(level, what, fix)`, level "ok",
"warn" or "fail". Exit code 1 when any check fails.

- settings.json: readable; each lifeguard entry points at an existing runner and hook
  script of this workspace, for the right event; timeouts are sane seconds; no event missing
- the installed files match their manifest; the state folder is private and writable
- lifeguard.json validates
- whether lifeguard is on (LIFEGUARD_DISABLE, "enabled", LIFEGUARD_SKIP)
- whether the resident helper is running, and nothing else sits at its socket's path
- open urgent alerts (urgent_alerts.txt), and your guarded hooks that keep failing or timing out
- uv is present (and on PATH, not only in hooks/uv.path) and its cache is not locked
- Python is recent enough
- what the last sweep of the sessions did, and whether a step of it failed
- each hook answers a sample event within its budget: one per core at a time, each its own session,
  in a scratch folder with the default settings (so the real state is never touched; the
  settings were checked above)

On a terminal each check's findings are printed as soon as it has run (the live hooks last),
then one line sums up. Everything is read from files already written (lifeguard.json through
its validated cache), so doctor loads pydantic only when that cache is out of date: about 1 s
in all, most of it the hooks' own start.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import install as installer
from ..core.paths import Layout

MIN_PYTHON = (3, 11)
MIN_TIMEOUT, MAX_TIMEOUT = 1, 600
SAMPLE_SESSION = "lifeguard-doctor"

Finding = tuple[str, str, str]  # (level, what, fix)


def ok(what: str) -> Finding:
    return ("ok", what, "")


def warn(what: str, fix: str) -> Finding:
    return ("warn", what, fix)


def fail(what: str, fix: str) -> Finding:
    return ("fail", what, fix)


# -- settings.json ---------------------------------------------------------------------


def lifeguard_entries(settings: dict) -> list[tuple[str, dict]]:
    """(event, hook entry) for every lifeguard hook in settings.json."""
    out = []
    hooks = settings.get("hooks") if isinstance(settings, dict) else None
    if not isinstance(hooks, dict):
        return out
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else ():
            for hook in (group.get("hooks") if isinstance(group, dict) else None) or ():
                if isinstance(hook, dict) and "lifeguard-run" in str(hook.get("command", "")):
                    out.append((event, hook))
    return out


def enabled_plugin(layout: Layout) -> str | None:
    """The lifeguard plugin (`lifeguard@MARKETPLACE`) Claude Code has enabled for this project, in
    the project's settings or the user's (CLAUDE_CONFIG_DIR, else ~/.claude), or None."""
    user = Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    for path in (layout.claude_dir / "settings.json", layout.claude_dir / "settings.local.json", user / "settings.json"):
        try:
            plugins = json.loads(path.read_bytes()).get("enabledPlugins")
        except (OSError, ValueError, AttributeError):
            continue
        for name, on in plugins.items() if isinstance(plugins, dict) else ():
            if on is True and str(name).partition("@")[0] == "lifeguard":
                return str(name)
    return None


def plugin_entries() -> list[tuple[str, dict]]:
    """(event, hook) of the plugin's hooks/hooks.json beside this code (none in an install.sh copy)."""
    try:
        return lifeguard_entries(json.loads((installer.REPO / "hooks" / "hooks.json").read_bytes()))
    except (OSError, ValueError):
        return []


def check_plugin(plugin: str) -> list[Finding]:
    entries = plugin_entries()
    missing = sorted({event for event, *_ in installer.HOOKS} - {event for event, _ in entries})
    if not entries or missing:
        return [fail(f"lifeguard is enabled as the plugin {plugin}, but its hooks/hooks.json in {installer.REPO} "
                     f"lacks {', '.join(missing) or 'every hook'}", f"claude plugin update {plugin.partition('@')[0]}")]
    return [ok(f"lifeguard runs as the Claude Code plugin {plugin}: {len(entries)} hooks from "
               f"{installer.REPO / 'hooks' / 'hooks.json'}")]


def check_settings(layout: Layout) -> list[Finding]:
    path = layout.claude_dir / "settings.json"
    reinstall = f"reinstall: run install.sh from your lifeguard checkout with {layout.claude_dir.parent}"
    plugin = enabled_plugin(layout)
    try:
        settings = json.loads(path.read_bytes())
    except FileNotFoundError:
        if plugin:
            return check_plugin(plugin)
        return [fail(f"{path} does not exist, so no lifeguard hook runs", reinstall)]
    except (OSError, ValueError) as exc:
        return [fail(f"{path} is not valid JSON ({exc})", f"fix the JSON by hand (a backup may be in {layout.backup_dir / 'settings'})")]
    entries = lifeguard_entries(settings)
    if plugin and entries:
        return [warn(f"lifeguard runs twice at every hook: installed here by install.sh and enabled as the plugin "
                     f"{plugin}", f"keep one: install.sh --uninstall {shlex.quote(str(layout.claude_dir.parent))}, "
                     f"or: claude plugin disable {plugin} --scope project")]
    if plugin:
        return check_plugin(plugin)
    if not entries:
        return [fail(f"{path} has no lifeguard hook entries", reinstall)]
    findings: list[Finding] = []
    for event, hook in entries:
        findings.extend(check_entry(layout, event, hook))
    expected = {event for event, *_ in installer.HOOKS}
    missing = sorted(expected - {event for event, _ in entries})
    if missing:
        findings.append(warn(f"no lifeguard hook for {', '.join(missing)}", reinstall))
    if not any(level != "ok" for level, *_ in findings):
        findings.append(ok(f"settings.json: {len(entries)} lifeguard hooks, each pointing at an existing script"))
    return findings


def check_entry(layout: Layout, event: str, hook: dict) -> list[Finding]:
    """One settings.json entry: runner path, script, event match, timeout."""
    project = str(layout.claude_dir.parent)
    command = str(hook.get("command", ""))
    label = f"{event} hook ({command})"
    expanded = command.replace("${CLAUDE_PROJECT_DIR}", project).replace("$CLAUDE_PROJECT_DIR", project)
    try:
        argv = shlex.split(expanded)
    except ValueError as exc:
        return [fail(f"{label}: the command cannot be parsed ({exc})", "reinstall lifeguard with install.sh")]
    findings: list[Finding] = []
    runner = Path(argv[0]) if argv else Path("")
    if not runner.is_absolute():
        runner = Path(project) / runner
    ours = layout.claude_dir / "hooks" / "lifeguard-run"
    if not runner.exists():
        findings.append(fail(f"{label}: {runner} does not exist",
                             f'point it at "$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run (reinstall with install.sh)'))
    elif runner.resolve() != ours.resolve():
        findings.append(warn(f"{label}: runs {runner}, not this workspace's {ours}",
                             'use "$CLAUDE_PROJECT_DIR"/.claude/hooks/lifeguard-run so the hook follows the project'))
    elif not os.access(runner, os.X_OK):
        findings.append(fail(f"{label}: {runner} is not executable", f"chmod +x {shlex.quote(str(runner))}"))
    script = argv[1] if len(argv) > 1 else ""
    script_path = layout.claude_dir / "hooks" / f"{script}.py"
    if not script:
        findings.append(fail(f"{label}: no hook script named", "reinstall lifeguard with install.sh"))
    elif not script_path.is_file():
        findings.append(fail(f"{label}: hook script {script_path} is missing", "reinstall lifeguard with install.sh"))
    expected_script = {e: s for e, s, *_ in installer.HOOKS}.get(event)
    if expected_script and script and script != expected_script:
        findings.append(warn(f"{label}: runs {script}.py for {event}", f"use {expected_script} (reinstall with install.sh)"))
    findings.extend(check_timeout(label, hook.get("timeout"), argv[2] if len(argv) > 2 else None))
    return findings


def check_timeout(label: str, timeout: object, budget_arg: str | None) -> list[Finding]:
    """settings.json timeouts are seconds: a number between MIN and MAX, matching the wrapper's."""
    if timeout is None:
        return [warn(f"{label}: no timeout (Claude Code's default of 600 s applies)",
                     'add "timeout": 10 (seconds; 60 for SessionStart)')]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        return [fail(f"{label}: timeout {timeout!r} is not a number", 'use a number of seconds, e.g. "timeout": 10')]
    if timeout < MIN_TIMEOUT:
        return [fail(f"{label}: timeout {timeout} s is too short for uv to start the hook",
                     f"use at least {MIN_TIMEOUT} s (10 is the default)")]
    if timeout > MAX_TIMEOUT:
        hint = " (it looks like milliseconds; settings.json uses seconds)" if timeout >= 1000 else ""
        return [fail(f"{label}: timeout {timeout} s is over {MAX_TIMEOUT} s{hint}", "use seconds, e.g. 10 (60 for SessionStart)")]
    if budget_arg is not None:
        try:
            budget = float(budget_arg)
        except ValueError:
            return [fail(f"{label}: the runner's budget {budget_arg!r} is not a number", "reinstall lifeguard with install.sh")]
        if budget > timeout:
            return [warn(f"{label}: the runner's budget {budget:g} s exceeds the timeout {timeout} s, "
                         "so Claude Code may kill the hook before it can fail open",
                         f"make both the same (the command's last argument and \"timeout\")")]
    return []


# -- files, config, state ------------------------------------------------------------------


def check_switch(layout: Layout) -> list[Finding]:
    """Whether lifeguard is on (switch.py): off is not broken, but nothing is guarded meanwhile."""
    from ..config import switch

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
    path = layout.claude_dir / installer.MANIFEST
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
    from ..config import load as config_mod

    if not layout.config_file.exists():
        if enabled_plugin(layout):  # a plugin writes nothing into the project until asked
            return [ok(f"no {layout.config_file.name}: the defaults are used (to tune them, copy "
                       f"{installer.REPO / '.claude' / 'lifeguard.json'} to {layout.config_file})")]
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
    problems = installer.unsafe_folders(project)
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


# -- what happened -----------------------------------------------------------------------

URGENT_HEAD = re.compile(r"^(\S+)  session (\S+)  event #\S+ \((.*)\)$")  # alerts.escalate_to_human


def check_urgent(layout: Layout) -> list[Finding]:
    """urgent_alerts.txt holds alerts that need a person; it stays open until removed."""
    from ..alerts.escalation import URGENT_FILE

    path = layout.claude_dir / URGENT_FILE
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return [ok("no urgent alert open")]
    except OSError as exc:
        return [fail(f"{path} cannot be read ({exc.strerror})", f"check its permissions: ls -l {shlex.quote(str(path))}")]
    heads = [(m, lines[i + 2] if i + 2 < len(lines) else "") for i, line in enumerate(lines) if (m := URGENT_HEAD.match(line))]
    if not heads and not any(line.strip() for line in lines):
        return [ok("no urgent alert open")]
    newest, title = heads[-1] if heads else (None, "")
    about = f"; newest {newest.group(1)}, session {newest.group(2)}: {title.strip('|! ').strip()}" if newest else ""
    return [fail(f"{max(1, len(heads))} urgent alert(s) open in {path}{about}",
                 f"read it and follow its steps; then close it: rm {shlex.quote(str(path))} (alerts.log keeps the record)")]


def check_telemetry(layout: Layout) -> list[Finding]:
    """The OpenTelemetry export: off, or on and how its last run went (state/telemetry/export-status.json)."""
    from ..config import load as config
    from ..telemetry import export, trigger

    if not trigger.enabled(config.load(layout).get("telemetry")):
        return [ok("OpenTelemetry export off (telemetry.enabled in lifeguard.json, or LIFEGUARD_OTEL=1)")]
    script = shlex.quote(str(layout.claude_dir / "scripts" / "otel_export.py"))
    try:
        status = json.loads((layout.state_dir / "telemetry" / export.STATUS).read_text())
    except (OSError, ValueError):
        return [warn("OpenTelemetry export on, but no export has run yet",
                     f"run one now and read what it says: LIFEGUARD_OTEL=1 uv run --script {script} "
                     "(the first run downloads the OpenTelemetry packages)")]
    if status.get("error"):
        return [warn(f"the last OpenTelemetry export ({status.get('ts')}) failed: {status['error']}",
                     "check OTEL_EXPORTER_OTLP_ENDPOINT in telemetry.environment of lifeguard.json; nothing is "
                     f"lost, the next export sends it (or now: LIFEGUARD_OTEL=1 uv run --script {script})")]
    return [ok(f"OpenTelemetry export on; the last one ({status.get('ts')}) was accepted")]


def check_guarded(layout: Layout) -> list[Finding]:
    """Your own guarded hooks (install.sh --guard-existing) that keep failing or timing out."""
    from ..guard import workspace

    now = time.time()
    findings: list[Finding] = []
    for _, entry in workspace.troubled(layout):
        label = f"your {entry.get('event') or ''} hook `{entry.get('label') or '?'}`".replace("  ", " ")
        timeouts, in_row = int(entry.get("timeouts") or 0), int(entry.get("failures_in_row") or 0)
        until = entry.get("open_until")
        paused = isinstance(until, (int, float)) and until > now
        facts = [f"timed out {timeouts} time(s)"] if timeouts else []
        if in_row:
            facts.append(f"failed the last {in_row} run(s) in a row")
        if paused:
            facts.append(f"paused for another {round(until - now)}s")
        fix = ("make it faster or raise its timeout in .claude/settings.json" if timeouts else
               "run it by hand to see why it fails (its input: .claude/state/events-*.jsonl, GuardedHook)")
        what = f"{label}: " + ", ".join(facts)
        findings.append(fail(what, fix) if paused or in_row >= 3 or timeouts >= 3 else warn(what, fix))
    return findings


# -- environment -------------------------------------------------------------------------


def check_helper(layout: Layout) -> list[Finding]:
    from ..hook import client, helper

    claude = str(layout.claude_dir)
    sock = layout.state_dir / client.SOCKET
    try:
        st = os.lstat(sock)
    except OSError:
        st = None
    if st is not None and not stat.S_ISSOCK(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "a symlink" if stat.S_ISLNK(st.st_mode) else "a file"
        return [fail(f"{sock} is {what}, not the helper's socket: no hook can use the resident helper, so each "
                     "starts cold (several times slower)", f"move it aside: mv {shlex.quote(str(sock))} "
                     f"{shlex.quote(str(sock))}.old (the next hook starts a helper)")]
    if helper.running(claude):
        pid = (layout.state_dir / helper.PID)
        who = pid.read_text().strip() if pid.is_file() else "?"
        return [ok(f"the resident helper is running (pid {who}); it exits by itself when idle")]
    from ..config.load import load

    if not load(layout).get("helper", {}).get("enabled", True):
        return [ok("the resident helper is turned off (helper.enabled in lifeguard.json): each hook runs in its own process")]
    if not (layout.claude_dir / installer.MANIFEST).exists() and enabled_plugin(layout):
        return [ok("the plugin's hooks run without the resident helper: each in its own process")]
    return [ok("no resident helper running now; the next hook starts one")]


def find_uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    for candidate in (Path.home() / ".local/bin/uv", Path.home() / ".cargo/bin/uv", Path("/usr/local/bin/uv")):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def recorded_uv(layout: Layout) -> str | None:
    """The uv install.sh recorded for the hooks (hooks/uv.path), if it is there and runs."""
    try:
        line = (layout.claude_dir / installer.UV_PATH_FILE).read_text().strip()
    except OSError:
        return None
    return line if line and os.access(line, os.X_OK) and not os.path.isdir(line) else None


def check_uv(layout: Layout) -> list[Finding]:
    recorded, on_path = recorded_uv(layout), shutil.which("uv")
    uv = recorded or find_uv()
    if uv is None:
        return [fail("uv was not found, so the hooks cannot run", "install it: python3 -m pip install --user uv")]
    findings: list[Finding] = []
    if recorded and not on_path:
        folder = shlex.quote(os.path.dirname(recorded))
        findings.append(warn(f"uv is at {recorded} (recorded in .claude/{installer.UV_PATH_FILE}) but not on your PATH: "
                             "the hooks find it, the `uv run` commands in the README do not (uv: command not found)",
                             f'add it to PATH in your shell profile: export PATH={folder}:"$PATH"'))
    try:
        version = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        cache = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [fail(f"uv at {uv} does not answer ({exc})", "reinstall uv: python3 -m pip install --user --force-reinstall uv")]
    findings.append(ok(f"uv: {version} at {uv}"))
    if cache and uv_cache_locked(Path(cache)):
        findings.append(fail(f"uv's cache {cache} is locked by another process (uv cache clean / prune running?)",
                             "wait for it to finish, or find it with: ps aux | grep 'uv cache'"))
    return findings


def uv_cache_locked(cache: Path) -> bool:
    """True when another process holds uv's cache lock exclusively (a clean or prune)."""
    try:
        fd = os.open(cache / ".lock", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def check_python() -> list[Finding]:
    here = sys.version_info[:3]
    findings = []
    if here[:2] < MIN_PYTHON:
        findings.append(fail(f"Python {'.'.join(map(str, here))} runs this tool; lifeguard needs {'.'.join(map(str, MIN_PYTHON))}+",
                             "let uv pick one: uv python install 3.11"))
    else:
        findings.append(ok(f"Python {'.'.join(map(str, here))} ({sys.executable})"))
    return findings


# -- live hooks ----------------------------------------------------------------------------

SAMPLES: dict[str, dict] = {
    "SessionStart": {"source": "startup"},
    "UserPromptSubmit": {"prompt": "lifeguard doctor sample prompt"},
    "PreToolUse": {"tool_name": "Bash", "tool_input": {"command": "true"}, "tool_use_id": "doctor-1"},
    "PostToolUse": {"tool_name": "Bash", "tool_input": {"command": "true"}, "tool_use_id": "doctor-1",
                    "tool_response": {"stdout": "", "stderr": "", "interrupted": False}},
    "PostToolUseFailure": {"tool_name": "Bash", "tool_input": {"command": "false"}, "tool_use_id": "doctor-2",
                           "error": "Exit code 1"},
    "Stop": {"stop_hook_active": False, "last_assistant_message": "done"},
    "SubagentStart": {"agent_id": "doctor-agent", "agent_type": "general-purpose"},
    "SubagentStop": {"agent_id": "doctor-agent", "agent_type": "general-purpose", "stop_hook_active": False},
    "PreCompact": {"trigger": "manual", "custom_instructions": ""},
    "SessionEnd": {"reason": "other"},
}


def sample_event(event: str, cwd: str) -> dict:
    return {"session_id": f"{SAMPLE_SESSION}-{event}", "transcript_path": "", "cwd": cwd, "hook_event_name": event,
            "permission_mode": "default", **SAMPLES.get(event, {})}


def check_hooks_live(layout: Layout, ui) -> list[Finding]:
    """Run each lifeguard hook of settings.json on a sample event, as Claude Code would: one per
    core at a time (each its own session, so none waits for another's lock), in a scratch folder."""
    from concurrent.futures import ThreadPoolExecutor

    try:
        settings = json.loads((layout.claude_dir / "settings.json").read_bytes())
    except FileNotFoundError:
        settings = {}  # a plugin enabled for the user, not the project; else check_settings reports it
    except (OSError, ValueError):
        return []  # check_settings reports it
    entries = lifeguard_entries(settings) or (plugin_entries() if enabled_plugin(layout) else [])
    if not entries:
        return []
    project = str(layout.claude_dir.parent)
    with tempfile.TemporaryDirectory(prefix="lifeguard-doctor-") as scratch:
        home = Path(scratch) / ".claude"
        home.mkdir()
        env = {**os.environ, "CLAUDE_PROJECT_DIR": project, "LIFEGUARD_HOME": str(home),
               "CLAUDE_PLUGIN_ROOT": str(installer.REPO)}
        # as many at once as there are cores: more would only queue for them (and for uv's cache)
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            results = list(pool.map(lambda entry: run_hook(*entry, env, project), entries))
        _await_sweep(Layout(home))
    return [finding for found in results for finding in found]


def _await_sweep(scratch: Layout, seconds: float = 3.0) -> None:
    """SessionStart's sweep runs after its answer (core/later.py): let the scratch's finish before
    the folder goes, so that it does not make the folder again."""
    from ..core.locking import LockTimeout, SessionLock
    from ..upkeep import sweep

    session = f"{SAMPLE_SESSION}-SessionStart"
    if not scratch.event_log(session).exists():
        return  # no SessionStart ran its course (lifeguard off, no such hook): no sweep to wait for
    deadline = time.monotonic() + seconds
    while sweep.last_report(scratch) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        with SessionLock(scratch.lock_file(session), max(0.0, deadline - time.monotonic())):
            pass  # its last step records what it did in that session
    except (LockTimeout, OSError):
        pass


def check_sweep(layout: Layout) -> list[Finding]:
    """What the last sweep of the other sessions did (upkeep/sweep.py), and what failed in it."""
    from ..upkeep import sweep

    last = sweep.last_report(layout)
    if last is None:
        return [ok("no sweep yet (the next session start runs one, after its answer)")]
    when = _ago(time.time() - float(last.get("finished") or 0))
    did = (f"archived {len(last.get('archived') or ())} idle session(s), repaired {len(last.get('repairs') or ())}, "
           f"removed {last.get('locks_removed', 0)} stray lock file(s)")
    failed = last.get("failed") or []
    if failed:
        return [warn(f"the last sweep ({when}) {did}; a step failed: {'; '.join(failed)[:300]}",
                     "it is tried again at the next session start; if it keeps failing, see the step named")]
    return [ok(f"the last sweep ({when}) {did}")]


def _ago(seconds: float) -> str:
    for below, unit, name in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
        if seconds < below:
            return f"{seconds / unit:.0f} {name} ago"
    return f"{seconds / 86400:.0f} days ago"


def run_hook(event: str, hook: dict, env: dict, project: str) -> list[Finding]:
    timeout = hook.get("timeout")
    budget = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0 else 60.0
    command = str(hook.get("command", ""))
    payload = json.dumps(sample_event(event, project)).encode()
    started = time.monotonic()
    try:
        proc = subprocess.run(["/bin/sh", "-c", command], input=payload, capture_output=True, env=env,
                              cwd=project, timeout=budget)
    except subprocess.TimeoutExpired:
        return [fail(f"{event} hook did not answer within its {budget:g} s budget",
                     "see why with: the same command by hand; a cold uv cache may need: install.sh (it prepares uv's cache)")]
    elapsed = time.monotonic() - started
    label = f"{event} hook"
    if proc.returncode != 0:
        return [fail(f"{label} exited {proc.returncode}: {_last_line(proc.stderr)}", "reinstall lifeguard with install.sh")]
    out = proc.stdout.decode("utf-8", "replace").strip()
    try:
        answer = json.loads(out) if out else {}
    except ValueError:
        return [fail(f"{label} printed something that is not JSON: {out[:120]!r}", "reinstall lifeguard with install.sh")]
    stderr = proc.stderr.decode("utf-8", "replace")
    message = str(answer.get("systemMessage", "")) if isinstance(answer, dict) else ""
    if "could not start" in message or "was not found" in message or "did not finish" in message:
        return [fail(f"{label}: {message}", "follow the message; then run doctor again")]
    if "failed open" in stderr:
        return [fail(f"{label} failed open: {_last_line(proc.stderr)}", "see the faults with: state_recovery.py incidents")]
    return [ok(f"{label} answered in {elapsed * 1000:.0f} ms")]


def _last_line(data: bytes) -> str:
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return lines[-1][:200] if lines else "(no output)"


# -- the command -------------------------------------------------------------------------


def diagnose(layout: Layout, ui, live: bool = True, told=None) -> list[tuple[str, Finding]]:
    """Every check's findings, in order; `told(name, findings)` is called as each check ends."""
    sections = [
        ("on/off", lambda: check_switch(layout)),
        ("settings.json", lambda: check_settings(layout)),
        ("installed files", lambda: check_manifest(layout)),
        ("config", lambda: check_config(layout)),
        ("folders", lambda: check_folders(layout)),
        ("state folder", lambda: check_state_dir(layout)),
        ("resident helper", lambda: check_helper(layout)),
        ("urgent alerts", lambda: check_urgent(layout)),
        ("telemetry", lambda: check_telemetry(layout)),
        ("guarded hooks", lambda: check_guarded(layout)),
        ("sweep", lambda: check_sweep(layout)),
        ("uv", lambda: check_uv(layout)),
        ("python", check_python),
    ]
    if live:
        sections.append(("hooks", lambda: check_hooks_live(layout, ui)))
    results = []
    for name, check in sections:
        found = check()
        results.extend((name, finding) for finding in found)
        if told is not None:
            told(name, found)
    return results


def run(args, layout: Layout, ui) -> int:
    if args.json:
        results = diagnose(layout, ui, live=not args.quick)
        ui.raw(json.dumps([{"check": n, "level": f[0], "what": f[1], "fix": f[2]} for n, f in results], indent=2))
        return 1 if any(f[0] == "fail" for _, f in results) else 0
    ui.say(f"Checking lifeguard in {layout.claude_dir}")

    def told(name: str, found: list[Finding]) -> None:
        for level, what, fix in found:
            ui.say(f"{LABELS[level]:4}  {name}: {what}", style=STYLES[level])
            if fix:
                ui.say(f"      fix: {fix}")
        if name == "python" and not args.quick:
            ui.say("....  hooks: running each one on a sample event, one per core at a time")

    results = diagnose(layout, ui, live=not args.quick, told=told)
    problems = sum(1 for _, f in results if f[0] == "fail")
    warnings = sum(1 for _, f in results if f[0] == "warn")
    if problems:
        ui.say(f"{problems} problem(s), {warnings} warning(s): apply each fix above, then run doctor again.", style="bold red")
        return 1
    if warnings:
        ui.say(f"No problems found, but {warnings} warning(s) above.", style="yellow")
        return 0
    ui.say("No problems found.", style="green")
    return 0


LABELS = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}
STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}
