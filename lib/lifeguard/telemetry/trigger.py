"""When a hook starts the OpenTelemetry exporter, and how (never exporting itself).

Only when asked for: `LIFEGUARD_OTEL=1`, or `telemetry.enabled` in lifeguard.json
(`LIFEGUARD_OTEL=0` wins over the file). Then, once its answer is out, a hook starts the
exporter (`scripts/otel_export.py`, its own `uv run --script` with the OpenTelemetry packages
pinned in its header) as a detached process: always at Stop and SessionEnd, so a session's
numbers are sent by its end; at other events at most once per `export_interval_seconds`.
Starting it costs a hook one fork and exec (a few ms, and only then); sending, retries and a
dead or slow collector are the exporter's, never the hook's. Stdlib only.

When is due is one stat of the marker `state/telemetry/export.started`: its mtime is when the
last exporter was started. An exporter whose collector did not accept backs off (`back_off`):
it writes the time of the next try into the marker and sets its mtime to that time less the
interval, so the hooks' check holds until then, at Stop and SessionEnd too (a marker that is
not empty: backing off). A run that was accepted empties it again (`resume`).
"""

from __future__ import annotations

import os
import time

FLUSH_EVENTS = ("Stop", "SessionEnd")
MARKER = "export.started"
SCRIPT = "otel_export.py"


def enabled(section: dict | None) -> bool:
    """The switch: LIFEGUARD_OTEL when set, else telemetry.enabled."""
    env = os.environ.get("LIFEGUARD_OTEL", "").strip().lower()
    if env:
        return env not in ("0", "false", "no", "off")
    return bool((section or {}).get("enabled"))


def after_hook(claude_dir, state_dir, event: str, section: dict | None) -> bool:
    """Start the exporter if it is switched on and due; True if one was started."""
    if not enabled(section):
        return False
    marker = os.path.join(state_dir, "telemetry", MARKER)
    interval = interval_of(section)
    try:
        st = os.stat(marker)
        if (event not in FLUSH_EVENTS or st.st_size) and time.time() - st.st_mtime < interval:
            return False
    except FileNotFoundError:
        pass
    command = exporter_command(claude_dir)
    if command is None:
        return False
    import subprocess  # only now: a hook that starts nothing does not pay for the import

    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.close(fd)
        os.utime(marker)
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True, cwd=str(claude_dir))
    except OSError:
        return False  # the next due hook tries again; nothing recorded is lost meanwhile
    return True


def interval_of(section: dict | None) -> float:
    return float((section or {}).get("export_interval_seconds") or 60)


def back_off(state_dir, until: float, section: dict | None) -> None:
    """No exporter started before `until`, at any event (the exporter's, after a failed run)."""
    marker = os.path.join(state_dir, "telemetry", MARKER)
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, b"%.3f\n" % until)
    finally:
        os.close(fd)
    os.utime(marker, (until - interval_of(section),) * 2)


def resume(state_dir) -> None:
    """Back to the usual schedule (the exporter's, after an accepted run)."""
    try:
        fd = os.open(os.path.join(state_dir, "telemetry", MARKER), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if os.fstat(fd).st_size:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def exporter_command(claude_dir) -> list[str] | None:
    """`uv run --script otel_export.py --workspace CLAUDE_DIR`, or None without uv or the script."""
    lib = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = os.path.join(os.path.dirname(lib), "scripts", SCRIPT)  # .claude/scripts, or the checkout's
    if not os.path.isfile(script):
        return None
    uv = None
    try:
        with open(os.path.join(claude_dir, "hooks", "uv.path")) as f:
            uv = f.readline().strip() or None
    except OSError:
        pass
    if not (uv and os.access(uv, os.X_OK)):
        import shutil

        uv = shutil.which("uv") or next((p for p in (os.path.expanduser("~/.local/bin/uv"),) if os.access(p, os.X_OK)), None)
    if uv is None:
        return None
    return [uv, "run", "-q", "--script", script, "--workspace", str(claude_dir)]
