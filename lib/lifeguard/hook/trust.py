"""Whether a folder is ours to create files in: a real folder (not a symlink), owned by this
user, that no one else can write. The hook client, the runner and the helper all ask before
writing into the state folder. Imports only posix and _stat (what os and stat are built on):
the client asks on every hook, without importing os (environ.py says why)."""

import posix
from _stat import S_ISDIR


def trusted_state(state_dir: str) -> bool:
    """The state folder is ours: a real folder (not a symlink: nothing of the helper is created
    through one), owned by this user, that no one else can write."""
    try:
        folder = posix.lstat(state_dir)
    except OSError:
        return False
    return S_ISDIR(folder.st_mode) and folder.st_uid == posix.getuid() and not folder.st_mode & 0o022
