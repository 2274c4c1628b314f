"""The verbs of `state_recovery.py`, one module each; `cli.main` parses and dispatches.

    analyze    totals of healthy / corrupted / stale / large sessions, and what needs attention
    backup     a complete backup of the state folder
    backups    the backups there are, newest first
    restore    put a backup back (the current state is backed up first)
    repair     the automatic repair, on demand, for one session or all
    doctor     checks the installation itself, each problem with its fix (a package: one module
               per group of checks, the verb in doctor/command.py)
    incidents  what lifeguard did: loops stopped, repairs, timeouts, faults

and `install/`, install.sh's work (install, upgrade, uninstall, --guard-existing), a package too.

These run outside Claude Code, by hand: cold path, any import is fine. Output goes through
`ui.UI`, which uses rich when it is installed (the script's PEP 723 header asks for it) and
plain text otherwise, so the tools still work under a bare `python3` when uv itself is broken.
"""
