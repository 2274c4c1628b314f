"""The `timeout` settings.json gives a hook, read once for the client and the runner.
Imports only environ: the client imports it on every hook, without os."""

from . import environ

DEFAULT_TIMEOUT = 10.0  # seconds; what install.sh writes for the hot hooks


def settings_timeout() -> float:
    """The `timeout` settings.json gives this hook (lifeguard-run passes it as LIFEGUARD_TIMEOUT)."""
    try:
        value = float(environ.get("LIFEGUARD_TIMEOUT") or DEFAULT_TIMEOUT)
        return value if value > 0 else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def deadline_for(timeout: float) -> float:
    """The internal deadline for a hook whose settings.json timeout is `timeout` seconds."""
    return max(0.5, min(timeout * 0.6, timeout - 2.0))
