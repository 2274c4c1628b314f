"""Whether a folder is ours to create files in: a real folder (not a symlink), owned by this
user, that no one else can write. The hook client, the runner and the helper all ask before
writing into the state folder. Imports only os and stat: the client asks on every hook."""

import os
import stat


def trusted_state(state_dir: str) -> bool:
    """The state folder is ours: a real folder (not a symlink: nothing of the helper is created
    through one), owned by this user, that no one else can write."""
    try:
        folder = os.lstat(state_dir)
    except OSError:
        return False
    return stat.S_ISDIR(folder.st_mode) and folder.st_uid == os.getuid() and not folder.st_mode & 0o022
