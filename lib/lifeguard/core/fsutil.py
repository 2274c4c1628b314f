"""Crash-safe file primitives: atomic replace, durable append, private folders, quarantine.

Rules kept everywhere: never write through a symlink (O_NOFOLLOW), files are 0600 and
folders 0700 whatever the umask, and damaged bytes are moved aside, never deleted.
Paths are str or os.PathLike, joined with os.path (no pathlib on the hot path: core/paths.py);
a path returned is a str.
"""

from __future__ import annotations

import errno
import os

from . import clock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

    PathArg = Union[str, os.PathLike]

FILE_MODE = 0o600
DIR_MODE = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafePathError(OSError):
    """A path lifeguard was about to write is a symlink or otherwise not ours."""


def ensure_private_dir(path: PathArg) -> None:
    """Create `path` (and parents) as 0700 if missing; refuse a symlink in its place."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            pass
        st = os.lstat(path)
    import stat as _stat

    if _stat.S_ISLNK(st.st_mode) or not _stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(errno.ELOOP, "not a private folder (symlink or file)", str(path))
    if st.st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)


def fsync_dir(path: PathArg) -> None:
    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: PathArg, data: bytes, *, sync: bool = True) -> None:
    """Replace `path` with `data`: unique temp file, fsync, os.replace, fsync the folder.

    A reader sees the old bytes or the new, never a mix; kill -9 at any instant leaves
    one of the two. A symlink at `path` is refused, not followed. `sync=False` skips both
    fsyncs, for a file that can be rebuilt (a session's snapshot, from its log): a process
    killed at any instant still leaves the old bytes or the new; only a machine that loses
    power may leave it older, or empty, which its reader then rebuilds.
    """
    folder = os.path.dirname(path) or "."
    if os.path.islink(path):
        raise UnsafePathError(errno.ELOOP, "refusing to replace a symlink", str(path))
    tmp = write_temp(path, data, sync=sync)
    try:
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync:
        fsync_dir(folder)


def write_temp(path: PathArg, data: bytes, *, sync: bool = True) -> str:
    """A new, unique 0600 temp file beside `path` holding `data`, fsynced unless `sync` is
    False (removed on failure)."""
    folder, name = os.path.split(os.fspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, FILE_MODE)
    try:
        if sync:
            write_all_fsync(fd, data)
        else:
            write_all(fd, data)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    os.close(fd)
    return tmp


def write_all_fsync(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd` (short writes continued), then fsync it."""
    write_all(fd, data)
    os.fsync(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`, short writes continued."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def open_append(path: PathArg) -> int:
    """An O_APPEND descriptor on `path`, created 0600; a symlink at `path` is refused."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC, FILE_MODE)


def append_durable(path: PathArg, data: bytes) -> None:
    """Append `data` in one write and fdatasync it. A failed fsync raises: not committed."""
    fd = open_append(path)
    try:
        written = os.write(fd, data)
        if written != len(data):  # short write: disk full mid-line; the reader quarantines it
            raise OSError(errno.ENOSPC, "short write", str(path))
        os.fdatasync(fd)
    finally:
        os.close(fd)


def read_bytes_nofollow(path: PathArg, limit: int | None = None) -> bytes:
    """Read a file we own without following a symlink at its name."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    try:
        if limit is None:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        return os.read(fd, limit)
    finally:
        os.close(fd)


def quarantine(quarantine_dir: PathArg, name: str, data: bytes, reason: str) -> str:
    """Keep damaged bytes under `quarantine_dir` (never deleted); returns where they went."""
    ensure_private_dir(quarantine_dir)
    stamp = clock.file_stamp()
    kept = f"{stamp}-{os.getpid()}-{os.urandom(3).hex()}-{name}"
    target = os.path.join(quarantine_dir, kept)
    atomic_write(target, data)
    note = f'{{"file":"{kept}","bytes":{len(data)},"reason":{_json_str(reason)}}}\n'
    append_durable(os.path.join(quarantine_dir, "index.jsonl"), note.encode())
    return target


def quarantine_file(quarantine_dir: PathArg, path: PathArg, reason: str) -> str | None:
    """Move a damaged or foreign file (or symlink) at `path` into quarantine."""
    ensure_private_dir(quarantine_dir)
    stamp = clock.file_stamp()
    folder, name = os.path.split(os.fspath(path))
    kept = f"{stamp}-{os.getpid()}-{os.urandom(3).hex()}-{name}"
    target = os.path.join(quarantine_dir, kept)
    try:
        os.rename(path, target)  # renames a symlink itself, never its target
    except FileNotFoundError:
        return None
    note = f'{{"file":"{kept}","from":{_json_str(os.fspath(path))},"reason":{_json_str(reason)}}}\n'
    append_durable(os.path.join(quarantine_dir, "index.jsonl"), note.encode())
    fsync_dir(folder or ".")
    return target


def planted_kind(path: PathArg, want_dir: bool = False) -> str | None:
    """What is wrongly at `path` ("symlink", "fifo", ...), or None if nothing or the expected kind.

    Something other than a regular file (or folder, with `want_dir`) at a path lifeguard owns
    was planted there: writing through it could clobber another file, reading it could hang.
    """
    import stat as _stat

    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if _stat.S_ISLNK(mode):
        return "symlink"
    if want_dir:
        return None if _stat.S_ISDIR(mode) else "file"
    if _stat.S_ISREG(mode):
        return None
    for test, name in ((_stat.S_ISDIR, "folder"), (_stat.S_ISFIFO, "fifo"), (_stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "device"


def quarantine_planted(quarantine_dir: PathArg, path: PathArg, want_dir: bool = False) -> str | None:
    """Move a link (or other foreign entry) planted at `path` into quarantine, the link itself,
    never its target. Returns a line for the user saying what was done, or None if nothing was."""
    kind = planted_kind(path, want_dir)
    if kind is None:
        return None
    name = os.path.basename(path)
    where = quarantine_file(quarantine_dir, path, f"a {kind} was planted at {name}; moved aside, not followed")
    if where is None:
        return None
    return f"a {kind} planted at {name} was moved to {where} (lifeguard never writes through links)"


def create_exclusive(path: PathArg, data: bytes) -> bool:
    """Create `path` holding `data` (0600) only if nothing is there yet; True if we created it.

    Written to a temp file first and hard-linked into place, so nobody ever sees a part-written
    file and a concurrent creator's file is never replaced. A link at `path` is left alone.
    """
    tmp = write_temp(path, data)
    try:
        try:
            os.link(tmp, path, follow_symlinks=False)
            created = True
        except FileExistsError:
            created = False
        except OSError:  # no hard links on this filesystem: exclusive create, written in place
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, FILE_MODE)
            except FileExistsError:
                return False
            try:
                write_all_fsync(fd, data)
            finally:
                os.close(fd)
            created = True
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    fsync_dir(os.path.dirname(path) or ".")
    return created


def _json_str(text: str) -> str:
    import json

    return json.dumps(text)
