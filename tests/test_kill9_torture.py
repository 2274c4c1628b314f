"""kill -9 torture of the library's writers (the hook-level test is tests/test_torture.py).

Concurrent writer processes commit ~3-5 KB records (so lines straddle 4 KiB pages) to one
session, now and then compacting the log into a snapshot, and are SIGKILLed at random
moments. After every round, with no writer alive:
- the state file loads and validates against the schema,
- the log (archived segments + snapshot + log) holds every event number 1..N exactly once:
  contiguous, and every acknowledged event is among them,
- only the last line of the log may be damaged (a torn tail), and
- the state equals a replay of the log (as saved: a prefix replay; after opening: the whole).

A sample of kills runs by default; LIFEGUARD_TORTURE=full runs at least 1,000.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from lifeguard.features.registry import FEATURES
from lifeguard.upkeep import cleanup
from lifeguard.store import eventlog, snapshot as logsnapshot, reducer, state as state_mod
from lifeguard.core.paths import Layout
from lifeguard.upkeep.schema import validate_state
from lifeguard.store.session import SessionStore

pytestmark = pytest.mark.torture

FULL = os.environ.get("LIFEGUARD_TORTURE") == "full"
KILLS = 1000 if FULL else 60
WRITERS = 3
SID = "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"  # a Claude Code session id: used as is in file names


def writer(claude_dir: Path, ack_path: Path, seed: int) -> None:
    """Commit forever (until killed); append each acknowledged seq to `ack_path`."""
    rng = random.Random(seed)
    layout = Layout(claude_dir)
    store = SessionStore(layout, SID, lock_timeout=10, reducers=FEATURES)
    ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    while True:
        blob = "".join(rng.choice("abcdefghij0123456789") for _ in range(rng.randint(3000, 5000)))
        with store.transaction() as txn:
            seq = txn.commit({"event": "PostToolUse", "tool": f"T{seed % 5}", "input": {"blob": blob}})
            os.write(ack, f"{seq}\n".encode())
            if rng.random() < 0.04:
                cleanup.compact(layout, SID, txn.state, txn.last_seq)


def spawn(claude_dir: Path, ack_path: Path, seed: int) -> int:
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            writer(claude_dir, ack_path, seed)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    return pid


def all_seqs(layout: Layout) -> list[int]:
    """Every event number in the archived segments and the live log (each line counted once)."""
    seqs = []
    paths = sorted(layout.archive_dir.glob(f"events-{SID}-upto*.jsonl")) if layout.archive_dir.exists() else []
    for path in [*paths, layout.event_log(SID)]:
        seqs.extend(r["seq"] for r in eventlog.iter_records(path))
    return seqs


def verify(layout: Layout, ack_path: Path) -> int:
    log = layout.event_log(SID)
    saved = state_mod.load(layout.session_file(SID))
    if saved is None:  # killed before the first snapshot save: the log must be tiny then
        assert len(all_seqs(layout)) <= 1
        return 0
    assert validate_state(saved) == []

    report = eventlog.ReadReport()
    lines = list(eventlog.iter_records(log, report))
    n_lines = len(lines) + len(report.damaged_lines)
    assert all(n == n_lines for n in report.damaged_lines), f"damage before the tail: {report.damaged_lines}"

    seqs = all_seqs(layout)
    snap = logsnapshot.read(log)
    base = snap.seq if snap else 0
    last = max(seqs + [base])
    # every event once; events at or below the snapshot may also sit in a not-yet-moved old log
    assert set(seqs) == set(range(1, last + 1)), "sequence numbers are not contiguous"
    acked = {int(x) for x in ack_path.read_text().split()} if ack_path.exists() else set()
    assert acked <= set(seqs), f"acknowledged events missing: {sorted(acked - set(seqs))[:5]}"

    seen = state_mod.sequence(saved)
    assert base <= seen <= last
    prefix = reducer.replay((r for r in lines if base < r["seq"] <= seen), SID, FEATURES,
                            snap.state if snap else None)
    assert prefix == saved, "the saved state is not a replay of the log up to its sequence"

    with SessionStore(layout, SID, reducers=FEATURES).transaction() as txn:  # opening catches up and cuts a torn tail
        assert txn.last_seq == last
        assert txn.state == reducer.replay_log(log, SID, FEATURES)
    return last


def test_kill9_torture(tmp_path: Path):
    claude_dir = tmp_path / ".claude"
    layout = Layout(claude_dir)
    ack_path = tmp_path / "acks"
    rng = random.Random(1234)
    kills = rounds = last = 0
    while kills < KILLS:
        rounds += 1
        pids = [spawn(claude_dir, ack_path, rounds * 10 + i) for i in range(WRITERS)]
        time.sleep(rng.uniform(0.01, 0.12))
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            kills += 1
            time.sleep(rng.uniform(0, 0.01))
        for pid in pids:
            os.waitpid(pid, 0)
        last = verify(layout, ack_path)
    assert kills >= KILLS
    assert last > rounds  # the writers really did make progress between kills
