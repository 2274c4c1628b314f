"""Whether the project's folders are safe to install into (install.sh refuses otherwise, unless
--force; doctor reports the same)."""

from __future__ import annotations

import os
from pathlib import Path


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
