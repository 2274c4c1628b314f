"""Backups of the state folder and per-session checkpoints (stdlib only).

A backup is a complete copy of `.claude/state/` (except `backups/` itself, lock files and
temp files) in `state/backups/<timestamp>-<name>/`, with a `metadata.json`. It is built in
a hidden temp folder and renamed into place at the end, so a crash mid-copy never leaves
a half backup that looks complete (folders without `metadata.json` are ignored).

A checkpoint is a per-session copy (state file and event-log snapshot, not the log) in
`state/backups/checkpoints/<session>/<timestamp>-seq<N>/`; a bounded number is kept.

    create_backup(layout, name=None, reason="") -> Path
    list_backups(layout) -> list[dict]                   newest first
    restore_backup(layout, backup_id) -> Path            the pre-restore backup made first
    prune_backups(layout, keep, reason_prefix) -> list[Path]
    checkpoint_session(layout, session_id, keep) -> Path | None
    list_checkpoints(layout, session_id) -> list[dict]   newest first

Copies read files without following symlinks (a symlink in the state folder is skipped),
write 0600 files in 0700 folders, and fsync what they write.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import time
from pathlib import Path

from .. import VERSION
from ..core import clock, fsutil
from ..store import snapshot as logsnapshot
from ..core.paths import Layout, safe_name

METADATA = "metadata.json"
CHECKPOINTS = "checkpoints"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SKIP_DIRS = {"backups"}


def validate_name(name: str) -> str:
    """`name` if it is a safe backup name (letters, digits, `_ . -`, no leading dot); else ValueError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"unsafe backup name {name!r}: use letters, digits, '_', '-' and '.' (up to 64, not starting with '.')"
        )
    return name


def _stamp() -> str:
    t = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f"{int(t % 1 * 1_000_000):06d}"


def _skip_file(name: str) -> bool:
    return name.endswith(".lock") or name.startswith(".") or name.endswith(".tmp")


def _copy_file(src: Path, dst: Path) -> int | None:
    """Copy one regular file without following a symlink; returns bytes copied, None if skipped."""
    try:
        st = os.lstat(src)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        data = fsutil.read_bytes_nofollow(src)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):  # gone, or replaced by a symlink meanwhile
            return None
        raise
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | fsutil._NOFOLLOW | fsutil._CLOEXEC, fsutil.FILE_MODE)
    try:
        fsutil.write_all_fsync(fd, data)
    finally:
        os.close(fd)
    return len(data)


def _copy_order(names: list[str]) -> list[str]:
    """State snapshots before event-log snapshots before logs: a copy taken while a hook
    writes then holds a log at least as new as its state (the next open catches up)."""

    def rank(name: str) -> tuple[int, str]:
        if name.startswith("session-") and name.endswith(".json"):
            return (0, name)
        if name.endswith(".snapshot.json"):
            return (1, name)
        if name.endswith(".jsonl"):
            return (2, name)
        return (3, name)

    return sorted(names, key=rank)


def _copy_tree(src_dir: Path, dst_dir: Path, top: bool) -> tuple[int, int]:
    files = size = 0
    try:
        names = os.listdir(src_dir)
    except FileNotFoundError:
        return 0, 0
    for name in _copy_order(names):
        if top and name in _SKIP_DIRS:
            continue
        src = src_dir / name
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(dst_dir / name, fsutil.DIR_MODE)
            f, s = _copy_tree(src, dst_dir / name, False)
            files, size = files + f, size + s
        elif stat.S_ISREG(st.st_mode) and not _skip_file(name):
            copied = _copy_file(src, dst_dir / name)
            if copied is not None:
                files, size = files + 1, size + copied
    fsutil.fsync_dir(dst_dir)
    return files, size


def _write_metadata(folder: Path, meta: dict) -> None:
    fsutil.atomic_write(folder / METADATA, (json.dumps(meta, indent=2) + "\n").encode())


def _publish(tmp: Path, final: Path) -> Path:
    os.rename(tmp, final)
    fsutil.fsync_dir(final.parent)
    return final


def create_backup(layout: Layout, name: str | None = None, reason: str = "") -> Path:
    """Copy the whole state folder into `state/backups/<timestamp>-<name>/`; returns that folder."""
    name = validate_name(name) if name is not None else "backup"
    fsutil.ensure_private_dir(layout.state_dir)
    fsutil.ensure_private_dir(layout.backup_dir)
    stamp = _stamp()
    final = layout.backup_dir / f"{stamp}-{name}"
    tmp = layout.backup_dir / f".tmp-{stamp}-{os.getpid()}-{os.urandom(3).hex()}"
    os.mkdir(tmp, fsutil.DIR_MODE)
    try:
        files, size = _copy_tree(layout.state_dir, tmp, True)
        meta = {"id": final.name, "name": name, "kind": "backup", "created_at": clock.now_iso(), "files": files,
                "bytes": size, "reason": reason, "lifeguard_version": VERSION}
        _write_metadata(tmp, meta)
        return _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # our own half-made copy, not user data
        raise


def _read_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads(fsutil.read_bytes_nofollow(folder / METADATA))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    meta.setdefault("id", folder.name)
    meta["path"] = str(folder)
    return meta


def list_backups(layout: Layout) -> list[dict]:
    """Every complete backup (one with a readable metadata.json), newest first."""
    out = []
    try:
        names = os.listdir(layout.backup_dir)
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith(".") or name == CHECKPOINTS:
            continue
        folder = layout.backup_dir / name
        if not folder.is_dir() or folder.is_symlink():
            continue
        meta = _read_meta(folder)
        if meta is not None:
            out.append(meta)
    return sorted(out, key=lambda m: m["id"], reverse=True)


def _resolve(layout: Layout, backup_id: str) -> Path:
    if not isinstance(backup_id, str) or not _NAME.fullmatch(backup_id) or ".." in backup_id:
        raise ValueError(f"unsafe backup id {backup_id!r}")
    folder = layout.backup_dir / backup_id
    if folder.is_symlink() or _read_meta(folder) is None:
        raise FileNotFoundError(f"no complete backup named {backup_id!r} in {layout.backup_dir}")
    return folder


def restore_backup(layout: Layout, backup_id: str) -> Path:
    """Put a backup's files back into the state folder; returns the pre-restore backup.

    The current state is backed up first (reason "pre-restore"). Every file the backup holds
    replaces the current one atomically; files the backup does not hold are left as they are
    (they are in the pre-restore backup too). Run it while no hook of the affected sessions
    is running (the recovery CLI takes the session locks; see `session_locks`).
    """
    folder = _resolve(layout, backup_id)
    before = create_backup(layout, "pre-restore", reason=f"before restoring {backup_id}")
    _restore_tree(folder, layout.state_dir, True)
    return before


def _restore_tree(src_dir: Path, dst_dir: Path, top: bool) -> None:
    fsutil.ensure_private_dir(dst_dir)
    for name in _copy_order(os.listdir(src_dir)):
        if top and (name == METADATA or name in _SKIP_DIRS):
            continue
        src = src_dir / name
        st = os.lstat(src)
        if stat.S_ISDIR(st.st_mode):
            _restore_tree(src, dst_dir / name, False)
        elif stat.S_ISREG(st.st_mode) and not _skip_file(name):
            fsutil.atomic_write(dst_dir / name, fsutil.read_bytes_nofollow(src))


def prune_backups(layout: Layout, keep: int, name: str | None = None) -> list[Path]:
    """Rotation: remove all but the newest `keep` backups named `name` (all names if None).

    Backups are copies, so old ones may go; originals of damaged files live in quarantine.
    """
    victims = [m for m in list_backups(layout) if name is None or m.get("name") == name][max(keep, 0):]
    removed = []
    for meta in victims:
        path = Path(meta["path"])
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


# -- per-session checkpoints -------------------------------------------------------------


def session_files(layout: Layout, session_id: str) -> list[Path]:
    """The files that make up one session's durable state, in copy order."""
    log = layout.event_log(session_id)
    return [layout.session_file(session_id), snapshot_path(log), log]


def snapshot_path(log_path: Path) -> Path:
    return logsnapshot.path_for(log_path)


def checkpoint_dir(layout: Layout, session_id: str) -> Path:
    return layout.backup_dir / CHECKPOINTS / safe_name(session_id)


def checkpoint_session(layout: Layout, session_id: str, keep: int, seq: int | None = None,
                       reason: str = "") -> Path | None:
    """Copy one session's files into a new checkpoint; keep only the newest `keep`.

    Returns the checkpoint folder, or None when the session has no files yet. Call it
    under the session lock (the hooks do) for a consistent copy.
    """
    # the state file and the log's snapshot: each is a whole state; the log itself is not copied
    # (it can be large, and Stop checkpoints often); full backups hold it
    files = [p for p in session_files(layout, session_id)[:2] if p.exists()]
    if not files:
        return None
    root = checkpoint_dir(layout, session_id)
    for folder in (layout.state_dir, layout.backup_dir, layout.backup_dir / CHECKPOINTS, root):
        fsutil.ensure_private_dir(folder)
    stamp = _stamp()
    final = root / (f"{stamp}-seq{seq}" if seq is not None else stamp)
    tmp = root / f".tmp-{stamp}-{os.getpid()}-{os.urandom(3).hex()}"
    os.mkdir(tmp, fsutil.DIR_MODE)
    try:
        count = size = 0
        for src in files:
            copied = _copy_file(src, tmp / src.name)
            if copied is not None:
                count, size = count + 1, size + copied
        fsutil.fsync_dir(tmp)
        _write_metadata(tmp, {"id": final.name, "kind": "checkpoint", "session_id": session_id,
                              "created_at": clock.now_iso(), "sequence": seq, "files": count, "bytes": size,
                              "reason": reason, "lifeguard_version": VERSION})
        _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(layout, session_id)[max(keep, 1):]:
        shutil.rmtree(old["path"], ignore_errors=True)
    return final


def list_checkpoints(layout: Layout, session_id: str) -> list[dict]:
    root = checkpoint_dir(layout, session_id)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    out = [m for m in (_read_meta(root / n) for n in names if not n.startswith(".")) if m is not None]
    return sorted(out, key=lambda m: m["id"], reverse=True)


def newest_auto_backup_age(layout: Layout, name: str) -> float | None:
    """Seconds since the newest backup called `name` was made (by its folder's mtime), or None."""
    for meta in list_backups(layout):
        if meta.get("name") == name:
            try:
                return max(0.0, time.time() - os.stat(meta["path"]).st_mtime)
            except OSError:
                return None
    return None
