"""The event log's snapshot: `events-<id>.snapshot.json`, the state at sequence N.

Log compaction and repair rebase a session's log onto a snapshot: replay then starts from
the snapshot's state and applies only the log lines with a sequence number above N, so
`state == replay(snapshot + log)` keeps holding and sequence numbers stay contiguous
(the log continues at N+1). The snapshot is written atomically and carries a CRC of its
state (of the state's bytes as jsoncodec writes them), so a damaged one is detected rather than
trusted. Snapshots of older versions carry the CRC of the stdlib's bytes, which differ only for
NaN and tiny floats (store/jsoncodec.py): either CRC is taken.

    {"format": 1, "session_id": "...", "seq": N, "ts": "...", "crc": "xxxxxxxx", "state": {...}}
"""

from __future__ import annotations

import os
import zlib

from ..core import fsutil
from . import jsoncodec

FORMAT = 1

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..core.fsutil import PathArg


class SnapshotDamaged(ValueError):
    """A snapshot file exists but cannot be trusted (not JSON, wrong shape, CRC mismatch)."""


class Snapshot:
    __slots__ = ("seq", "state", "ts")

    def __init__(self, seq: int, state: dict, ts: str = ""):
        self.seq = seq
        self.state = state
        self.ts = ts


def path_for(log_path: PathArg) -> PathArg:
    """`events-<id>.jsonl` -> `events-<id>.snapshot.json`, a str for a str (the hooks': no
    pathlib, core/paths.py), a Path for a Path (the tools')."""
    folder, name = os.path.split(os.fspath(log_path))
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    path = os.path.join(folder, stem + ".snapshot.json")
    return path if isinstance(log_path, str) else type(log_path)(path)


def _crc(body: bytes) -> str:
    return f"{zlib.crc32(body):08x}"


def encode(state: dict, seq: int, session_id: str = "", ts: str = "") -> bytes:
    crc = _crc(jsoncodec.dumps(state))
    doc = {"format": FORMAT, "session_id": session_id, "seq": seq, "ts": ts, "crc": crc, "state": state}
    return jsoncodec.dumps(doc)


def decode(data: bytes) -> Snapshot:
    try:
        doc = jsoncodec.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SnapshotDamaged(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotDamaged("not a lifeguard log snapshot")
    seq, state = doc.get("seq"), doc.get("state")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(state, dict):
        raise SnapshotDamaged("snapshot has no sequence number or state")
    crc = doc.get("crc")
    if crc != _crc(jsoncodec.dumps(state)) and crc != _crc(jsoncodec.stdlib_dumps(state)):
        raise SnapshotDamaged("snapshot CRC does not match its state")
    return Snapshot(seq, state, str(doc.get("ts") or ""))


def read(log_path: PathArg) -> Snapshot | None:
    """The snapshot beside `log_path`, None if there is none; SnapshotDamaged if untrustworthy.

    The returned state is the caller's to change: decoded afresh each call (so no copy, and no
    `copy` module, 0.75 ms of a hook's imports).
    """
    try:
        data = fsutil.read_bytes_nofollow(path_for(log_path))
    except FileNotFoundError:
        return None
    return decode(data)


def write(log_path: PathArg, state: dict, seq: int, session_id: str = "", ts: str = "") -> PathArg:
    """Write the snapshot durably (atomic replace + folder fsync) before anything relies on it."""
    path = path_for(log_path)
    fsutil.atomic_write(path, encode(state, seq, session_id, ts))
    return path
