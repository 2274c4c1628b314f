#!/usr/bin/env bash
# emergency_recovery.sh [WORKSPACE] [backup|clean|reset|auto]
#
# Lifeguard's last-resort recovery, for when its state is so broken that the hooks or
# state_recovery.py cannot help. Works with bash, tar and python3 (no uv needed).
# WORKSPACE is a project folder or its .claude folder; without it, the .claude folder this
# script is installed in (.claude/scripts/), else $CLAUDE_PROJECT_DIR, else the current folder.
#
#   backup  a tar.gz of .claude/state (without its backups/ folder), lifeguard.json and
#           settings.json into .claude/recovery/
#   clean   backup, then quarantine corrupted sessions: state files that are not valid
#           JSON session states are moved to state/quarantine/; event logs with damaged
#           lines are moved there too and replaced by their good lines
#   reset   backup, then back to safe defaults: everything in state/ except backups/ is
#           moved aside into .claude/recovery/state-reset-<time>/, a fresh private state/
#           folder is made, and lifeguard.json is written from the defaults when it is
#           missing or not valid JSON (the old one is moved aside); then validate and test
#   auto    (default) backup, clean, validate the folder layout, test basic state operations
#
# Nothing is ever deleted: every file it moves or replaces is in the backup archive and
# also kept under .claude/ (quarantine or recovery). Exit codes: 0 done, 1 a step failed,
# 2 usage error.
set -u

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

case "${1:-}" in
  -h | --help | help) usage; exit 0 ;;
esac

default_workspace() {
  here=$(cd "$(dirname "$0")" && pwd)
  case $here in
    */.claude/scripts) printf '%s\n' "${here%/scripts}" ;;
    *) printf '%s\n' "${CLAUDE_PROJECT_DIR:-.}" ;;
  esac
}

# a lone mode word (and no folder of that name) means: this project, in that mode
case "${1:-}" in
  "") WORKSPACE=$(default_workspace); MODE=auto ;;
  backup | clean | reset | auto)
    if [ $# -eq 1 ] && [ ! -d "$1" ]; then WORKSPACE=$(default_workspace); MODE=$1
    else WORKSPACE=$1; MODE=${2:-auto}; fi ;;
  *) WORKSPACE=$1; MODE=${2:-auto} ;;
esac
case "$MODE" in
  backup | clean | reset | auto) ;;
  *) echo "emergency_recovery: unknown mode '$MODE' (use backup, clean, reset or auto)" >&2; exit 2 ;;
esac
if [ ! -d "$WORKSPACE" ]; then
  echo "emergency_recovery: $WORKSPACE is not a folder" >&2
  exit 2
fi
WORKSPACE=$(cd "$WORKSPACE" && pwd)
if [ "$(basename "$WORKSPACE")" = ".claude" ]; then
  CLAUDE=$WORKSPACE
else
  CLAUDE=$WORKSPACE/.claude
fi
if [ ! -d "$CLAUDE" ]; then
  echo "emergency_recovery: $CLAUDE does not exist (is lifeguard installed in $WORKSPACE?)" >&2
  exit 2
fi
STATE=$CLAUDE/state
RECOVERY=$CLAUDE/recovery
LIB=$CLAUDE/lib
STAMP=$(date -u +%Y%m%dT%H%M%SZ)-$$
umask 077

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() { printf 'emergency_recovery: %s\n' "$*" >&2; exit 1; }

find_python() {
  for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      PY=$(command -v "$candidate")
      return 0
    fi
  done
  if command -v uv >/dev/null 2>&1; then
    PY="uv run -q --no-project --python >=3.11 python"
    return 0
  fi
  return 1
}

# Run a Python snippet with the installed library importable (LIB) and the paths in env.
py() {
  # shellcheck disable=SC2086 # PY may be a uv command line
  LIFEGUARD_LIB=$LIB LIFEGUARD_CLAUDE=$CLAUDE $PY - "$@"
}

# -- backup --------------------------------------------------------------------------------

backup_state() {
  step "Backup"
  mkdir -p "$RECOVERY" || die "cannot create $RECOVERY"
  chmod 700 "$RECOVERY"
  archive=$RECOVERY/state-$STAMP.tar.gz
  members=""
  [ -e "$STATE" ] && members="$members state"
  [ -e "$CLAUDE/lifeguard.json" ] && members="$members lifeguard.json"
  [ -e "$CLAUDE/settings.json" ] && members="$members settings.json"
  if [ -z "$members" ]; then
    say "nothing to back up (no state folder, config or settings yet)"
    BACKUP=none
    return 0
  fi
  # shellcheck disable=SC2086 # members is a list of plain names
  if ! tar -czf "$archive" -C "$CLAUDE" --exclude=state/backups $members 2>"$RECOVERY/.tar-errors"; then
    cat "$RECOVERY/.tar-errors" >&2
    die "the backup failed, so nothing else was done ($archive is incomplete)"
  fi
  tar -tzf "$archive" >/dev/null 2>&1 || die "the backup $archive cannot be read back; nothing else was done"
  rm -f "$RECOVERY/.tar-errors"
  printf '%s\n' "$archive" >"$RECOVERY/latest_backup.txt"
  BACKUP=$archive
  say "backed up$members to $archive ($(tar -tzf "$archive" | wc -l | tr -d ' ') entries)"
  say "(state/backups/ is not in the archive; it is never touched)"
}

# -- clean ---------------------------------------------------------------------------------

clean_sessions() {
  step "Clean: quarantine corrupted sessions"
  if [ ! -d "$STATE" ]; then
    say "no state folder; nothing to clean"
    return 0
  fi
  py <<'EOF'
import fcntl, json, os, sys, time
from pathlib import Path

claude = Path(os.environ["LIFEGUARD_CLAUDE"])
state_dir = claude / "state"
sys.path.insert(0, os.environ["LIFEGUARD_LIB"])
try:
    from lifeguard.core import fsutil
    from lifeguard.store import eventlog
except Exception as exc:  # the library itself is broken: fall back to plain moves
    print(f"note: lifeguard's library did not load ({exc}); checking state files only")
    eventlog = fsutil = None

quarantine = state_dir / "quarantine"

def move_aside(path, reason):
    if fsutil is not None:
        return fsutil.quarantine_file(quarantine, path, reason)
    quarantine.mkdir(mode=0o700, exist_ok=True)
    target = quarantine / f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{path.name}"
    os.rename(path, target)
    with open(quarantine / "index.jsonl", "a") as index:
        index.write(json.dumps({"file": target.name, "from": str(path), "reason": reason}) + "\n")
    return target

def lock(name):
    """The session's own lock (what the hooks take), with a short wait; None if busy."""
    path = state_dir / f"session-{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    for _ in range(50):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            time.sleep(0.1)
    os.close(fd)
    return None

def state_problem(path):
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        return f"not valid JSON ({str(exc).splitlines()[0][:80]})"
    if not isinstance(data, dict) or not isinstance(data.get("persistence"), dict):
        return "not a lifeguard session state"
    return None

names = set()
for entry in os.listdir(state_dir):
    if entry.startswith("session-") and entry.endswith(".json"):
        names.add(entry[len("session-"):-len(".json")])
    elif entry.startswith("events-") and entry.endswith(".jsonl"):
        names.add(entry[len("events-"):-len(".jsonl")])

moved = busy = 0
for name in sorted(names):
    fd = lock(name)
    if fd is None:
        print(f"skipped {name}: a hook is using it (stop Claude Code and run again)")
        busy += 1
        continue
    try:
        state_path = state_dir / f"session-{name}.json"
        if state_path.exists():
            problem = state_problem(state_path)
            if problem:
                target = move_aside(state_path, f"emergency clean: {problem}")
                print(f"quarantined {state_path.name}: {problem} -> {target}")
                moved += 1
        log_path = state_dir / f"events-{name}.jsonl"
        if eventlog is not None and log_path.exists():
            data = log_path.read_bytes()
            lines = data.split(b"\n")
            tail = lines.pop()  # bytes after the last newline: a torn line
            good = [line for line in lines if eventlog.decode(line) is not None]
            damaged = len(lines) - len(good) + (1 if tail else 0)
            if damaged:
                target = move_aside(log_path, f"emergency clean: {damaged} damaged line(s)")
                fsutil.atomic_write(log_path, b"".join(line + b"\n" for line in good))
                print(f"quarantined {log_path.name} ({damaged} damaged line(s)) -> {target}; kept its {len(good)} good line(s)")
                moved += 1
    finally:
        os.close(fd)
print(f"cleaned {moved} file(s) in {len(names)} session(s)" + (f"; {busy} busy" if busy else ""))
sys.exit(3 if busy else 0)
EOF
  rc=$?
  [ "$rc" -eq 0 ] && return 0
  [ "$rc" -eq 3 ] && { STEP_WARNINGS=$((STEP_WARNINGS + 1)); return 0; }
  FAILED=1
  say "clean failed (python exit $rc)"
}

# -- reset ---------------------------------------------------------------------------------

reset_defaults() {
  step "Reset to safe defaults"
  aside=$RECOVERY/state-reset-$STAMP
  mkdir -p "$aside" || die "cannot create $aside"
  if [ -d "$STATE" ]; then
    count=0
    for entry in "$STATE"/* "$STATE"/.[!.]*; do
      [ -e "$entry" ] || [ -L "$entry" ] || continue
      [ "$(basename "$entry")" = backups ] && continue
      mv "$entry" "$aside/" || die "could not move $entry aside (nothing after it was moved)"
      count=$((count + 1))
    done
    say "moved $count entr$( [ "$count" -eq 1 ] && echo y || echo ies) of state/ into $aside (state/backups/ stays)"
  fi
  mkdir -p "$STATE" && chmod 700 "$STATE"
  config=$CLAUDE/lifeguard.json
  if [ -f "$config" ] && ! py "$config" <<'EOF'
import json, sys
try:
    json.loads(open(sys.argv[1], "rb").read())
except (OSError, ValueError):
    sys.exit(1)
EOF
  then
    mv "$config" "$aside/lifeguard.json" && say "moved the invalid lifeguard.json to $aside/"
  fi
  if [ ! -f "$config" ]; then
    if py "$config" <<'EOF'
import json, os, sys
sys.path.insert(0, os.environ["LIFEGUARD_LIB"])
from lifeguard.config.load import DEFAULTS
path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
with os.fdopen(fd, "w") as out:
    out.write(json.dumps(DEFAULTS, indent=2) + "\n")
EOF
    then
      say "wrote the default settings to $config"
    else
      FAILED=1
      say "could not write the default lifeguard.json (is .claude/lib/lifeguard installed?)"
    fi
  fi
}

# -- validate ------------------------------------------------------------------------------

validate_layout() {
  step "Validate the folder layout"
  problems=0
  if [ ! -d "$STATE" ]; then
    mkdir -p "$STATE" && chmod 700 "$STATE" && say "created $STATE"
  fi
  [ -w "$STATE" ] || { say "PROBLEM: $STATE is not writable (fix: chown -R \"\$USER\" $STATE)"; problems=$((problems + 1)); }
  for required in hooks/lifeguard-run lib/lifeguard/__init__.py lib/lifeguard/hook/runner.py; do
    [ -e "$CLAUDE/$required" ] || { say "PROBLEM: $CLAUDE/$required is missing (fix: reinstall with install.sh)"; problems=$((problems + 1)); }
  done
  [ -x "$CLAUDE/hooks/lifeguard-run" ] || [ ! -e "$CLAUDE/hooks/lifeguard-run" ] ||
    { say "PROBLEM: hooks/lifeguard-run is not executable (fix: chmod +x $CLAUDE/hooks/lifeguard-run)"; problems=$((problems + 1)); }
  if [ -f "$CLAUDE/settings.json" ]; then
    if ! grep -q "/.claude/hooks/lifeguard-run" "$CLAUDE/settings.json"; then
      say "PROBLEM: settings.json has no lifeguard hooks (fix: reinstall with install.sh)"; problems=$((problems + 1))
    fi
  else
    say "PROBLEM: $CLAUDE/settings.json is missing (fix: reinstall with install.sh)"; problems=$((problems + 1))
  fi
  if [ "$problems" -eq 0 ]; then
    say "layout ok: state folder, hooks, library and settings.json entries are in place"
  else
    FAILED=1
  fi
}

# -- test ----------------------------------------------------------------------------------

test_state_operations() {
  step "Test basic state operations"
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/lifeguard-emergency.XXXXXX") || die "cannot make a scratch folder"
  # the scratch folder is our own; the real state is never touched by this test
  if py "$scratch" <<'EOF'
import os, sys
sys.path.insert(0, os.environ["LIFEGUARD_LIB"])
from pathlib import Path
from lifeguard.core.paths import Layout
from lifeguard.features.registry import FEATURES
from lifeguard.store.session import SessionStore
from lifeguard.store import reducer, state as state_mod

layout = Layout(Path(sys.argv[1]) / ".claude")
store = SessionStore(layout, "emergency-test", reducers=FEATURES)
with store.transaction() as txn:
    txn.commit({"event": "SessionStart", "source": "startup"})
    txn.commit({"event": "PreToolUse", "tool": "Bash"})
saved = state_mod.load(store.state_path)
replayed = reducer.replay_log(store.log_path, "emergency-test", FEATURES)
assert saved is not None and saved == replayed, "state differs from a replay of its log"
assert state_mod.sequence(saved) == 2, "events were lost"
print("state store ok: 2 events written, state reloaded, equal to a replay of the log")
EOF
  then :; else FAILED=1; say "PROBLEM: the state library failed its self-test (reinstall with install.sh)"; fi
  runner=$CLAUDE/hooks/lifeguard-run
  if [ -x "$runner" ] && command -v uv >/dev/null 2>&1; then
    mkdir -p "$scratch/.claude"
    [ -f "$CLAUDE/lifeguard.json" ] && cp "$CLAUDE/lifeguard.json" "$scratch/.claude/"
    out=$(printf '{"session_id":"emergency-test","hook_event_name":"SessionStart","source":"startup","cwd":"%s"}' "$WORKSPACE" |
      LIFEGUARD_HOME="$scratch/.claude" "$runner" session_start 60 2>"$scratch/stderr")
    if printf '%s' "$out" | grep -q '"hookEventName":"SessionStart"' && ! grep -q "failed open" "$scratch/stderr"; then
      say "hook ok: session_start answered a sample event"
    else
      FAILED=1
      say "PROBLEM: the session_start hook did not answer properly: ${out:-no output} $(tail -1 "$scratch/stderr")"
    fi
  else
    say "skipped the live hook test (uv or hooks/lifeguard-run not available)"
  fi
  rm -rf "$scratch"
}

# -- main ----------------------------------------------------------------------------------

FAILED=0
STEP_WARNINGS=0
BACKUP=none
say "lifeguard emergency recovery: $MODE on $CLAUDE"
find_python || die "no python3 (3.9+) or uv found; cannot run the checks"

case "$MODE" in
  backup) backup_state ;;
  clean) backup_state; clean_sessions ;;
  reset) backup_state; reset_defaults; validate_layout; test_state_operations ;;
  auto) backup_state; clean_sessions; validate_layout; test_state_operations ;;
esac

step "Summary"
say "backup: $BACKUP"
[ "$MODE" = backup ] || say "kept: moved files are in $STATE/quarantine/ and $RECOVERY/ (nothing was deleted)"
if [ "$FAILED" -ne 0 ]; then
  say "some steps FAILED (see PROBLEM lines above); fix them, then run: $0 $WORKSPACE auto"
  exit 1
fi
[ "$STEP_WARNINGS" -eq 0 ] || say "some sessions were busy and skipped; stop Claude Code and run again"
say "done. Check the result with: $CLAUDE/lifeguard analyze"
exit 0
