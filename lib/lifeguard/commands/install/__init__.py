"""install.sh's work: copy lifeguard into a project's .claude/ and merge its hook entries.

    python -m lifeguard.commands.install [TARGET]             install or upgrade (__main__)
    python -m lifeguard.commands.install --uninstall [TARGET] remove exactly what was installed

- command: the verbs (`install`, `uninstall`, `main`) and the order of their steps
- manifest: the files copied from this checkout and MANIFEST.json, their hashes
- settings: settings.json and lifeguard's hook entries in it (`HOOKS`, `is_ours`), merged and
  removed with the user's own settings kept as they are, backed up before any change
- gitignore: lifeguard's block in .claude/.gitignore
- environment: uv, the one environment all hooks share, bytecode, the lifeguard.json check
- guarding: `--guard-existing`, the user's own hook commands wrapped in guard.py and restored
- folders: whether the project's folders are safe to install into
- common: the checkout (`REPO`), `InstallError`, `say`, `write_public`

A file at a destination that lifeguard did not put there is never overwritten, and an invalid
settings.json stops the install: both before any change.

Cold path: may import core, config, guard and hook (to stop the resident helper), lazily where
the plain `python3` of install.sh may lack what they need. `commands.doctor` reads what this
writes through these modules; nothing here imports doctor.
"""
