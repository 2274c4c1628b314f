"""`doctor`: checks the installation itself; every problem comes with its fix.

Each check is a small function returning findings `(level, what, fix)` (findings), level "ok",
"warn" or "fail"; command runs them in order and exits 1 when any fails.

- settings: settings.json's lifeguard entries (runner, script, event, timeout; no event
  missing), or the enabled plugin's hooks/hooks.json
- files: the on/off switches (LIFEGUARD_DISABLE, "enabled", LIFEGUARD_SKIP), the installed files
  against their manifest, lifeguard.json, who may write the code folders, the state folder
- history: open urgent alerts, the OpenTelemetry export, your guarded hooks that keep failing or
  timing out, what the last sweep of the sessions did
- environment: the resident helper (and nothing else at its socket's path), uv (on PATH too,
  its cache not locked), Python recent enough
- live: each hook answers a sample event within its budget, in a scratch folder with the
  default settings (so the real state is never touched; the settings were checked above)
- command: the verb (`run`), the checks in order (`diagnose`)

Everything is read from files already written (lifeguard.json through its validated cache), so
doctor loads pydantic only when that cache is out of date: about 1 s in all, most of it the
hooks' own start.

Cold path: may import any lower layer and `commands.install` (what an install writes); every
module here imports only findings and settings of its siblings, command imports them all.
"""
