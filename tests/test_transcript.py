"""Reading the calls no hook saw from the transcript (transcript.py): incremental, bounded, tolerant."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lifeguard.features.loops import transcript

ERROR = "<tool_use_error>String to replace not found in file.</tool_use_error>"


def use(tuid: str, tool: str = "Edit", **fields) -> bytes:
    rec = {"type": "assistant", "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": tuid, "name": tool, "input": {"file_path": "/ws/f.txt", **fields}}]}}
    return (json.dumps(rec) + "\n").encode()


def result(tuid: str, text: str = ERROR, **extra) -> bytes:
    rec = {"type": "user", **extra, "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": tuid, "content": text, "is_error": True}]}}
    return (json.dumps(rec) + "\n").encode()


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_reads_only_what_was_added_since_last_time(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(use("a") + result("a"))
    cursor, hidden = transcript.read(str(path), None)
    assert [h["id"] for h in hidden] == ["a"] and hidden[0]["label"] == "Edit: /ws/f.txt"
    assert hidden[0]["err"] == "String to replace not found in file." and not hidden[0]["ok"]
    assert cursor["offset"] == path.stat().st_size
    cursor, hidden = transcript.read(str(path), cursor)
    assert hidden == []  # nothing new
    append(path, use("b") + result("b"))
    cursor, hidden = transcript.read(str(path), cursor)
    assert [h["id"] for h in hidden] == ["b"]


def test_a_partial_last_line_waits_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    line = result("a")
    path.write_bytes(use("a") + line[:20])
    cursor, hidden = transcript.read(str(path), None)
    assert hidden == [] and cursor["offset"] == len(use("a"))
    append(path, line[20:])
    cursor, hidden = transcript.read(str(path), cursor)
    assert [h["id"] for h in hidden] == ["a"]


def test_the_result_of_a_call_a_hook_saw_is_not_hidden(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(use("a"))
    cursor, _ = transcript.read(str(path), None)
    cursor = transcript.saw(cursor, "a")  # its PreToolUse ran
    append(path, result("a") + use("b") + result("b", "ok, done"))
    cursor, hidden = transcript.read(str(path), cursor)
    assert hidden == []  # a: seen by a hook; b: no validation error
    # a hook that sees its call before the line is read: still not folded later
    cursor = transcript.saw(cursor, "c")
    append(path, use("c") + result("c"))
    assert transcript.read(str(path), cursor)[1] == []


def test_missing_file_and_no_path_change_nothing(tmp_path: Path) -> None:
    cursor = {"offset": 10, "ident": [1, 2], "pending": {}}
    assert transcript.read(str(tmp_path / "missing.jsonl"), cursor) == (cursor, [])
    assert transcript.read(None, cursor) == (cursor, [])


def test_a_replaced_or_truncated_file_starts_over_and_a_large_one_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(use("a") + result("a"))
    cursor, _ = transcript.read(str(path), None)
    path.write_bytes(use("x"))  # truncated: shorter than the offset
    cursor, hidden = transcript.read(str(path), cursor)
    append(path, result("x"))
    cursor, hidden = transcript.read(str(path), cursor)
    assert [h["id"] for h in hidden] == ["x"]
    os.replace(tmp_path / "t.jsonl", tmp_path / "old.jsonl")  # rotated: another inode at the path
    big = b"".join(use(f"old{i}", old_string="x" * 1000) + result(f"old{i}") for i in range(200))
    path.write_bytes(big)
    cursor, hidden = transcript.read(str(path), cursor)
    assert hidden == [] and cursor["offset"] == len(big)  # history of a long session is skipped
    append(path, use("new") + result("new"))
    assert [h["id"] for h in transcript.read(str(path), cursor)[1]] == ["new"]


def test_each_read_is_bounded_and_the_rest_comes_next_time(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"")
    cursor, _ = transcript.read(str(path), None)
    chunk = b"".join(use(f"c{i}", old_string="y" * 3000) + result(f"c{i}") for i in range(200))
    assert len(chunk) > 2 * transcript.MAX_BYTES
    append(path, chunk)
    seen, reads = [], 0
    while cursor["offset"] < len(chunk):
        before = cursor["offset"]
        cursor, hidden = transcript.read(str(path), cursor)
        assert cursor["offset"] - before <= transcript.MAX_BYTES
        seen += [h["id"] for h in hidden]
        reads += 1
    assert reads >= 3 and seen == [f"c{i}" for i in range(200)][-len(seen):] and len(seen) >= 190


def test_a_line_longer_than_a_read_is_skipped_whole(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"")
    cursor, _ = transcript.read(str(path), None)
    append(path, use("huge", new_string="z" * (transcript.MAX_BYTES + 10)) + use("a") + result("a"))
    hidden: list[dict] = []
    for _ in range(4):
        cursor, found = transcript.read(str(path), cursor)
        hidden += found
    assert [h["id"] for h in hidden] == ["a"] and cursor["offset"] == path.stat().st_size


def test_garbage_and_subagent_lines_are_passed_over(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"")
    cursor, _ = transcript.read(str(path), None)
    append(path, b'{"type":"tool_use" not json\n\xff\xfe<tool_use_error>\n[1]\n{"message": 3, "x": "tool_use"}\n')
    append(path, use("s").replace(b'"type": "assistant"', b'"type": "assistant", "isSidechain": true'))
    append(path, result("s") + use("a") + result("a"))
    cursor, hidden = transcript.read(str(path), cursor)
    assert [h["id"] for h in hidden] == ["a"]


def test_unanswered_calls_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(use(f"p{i}") for i in range(100)))
    cursor, _ = transcript.read(str(path), None)
    assert len(cursor["pending"]) == transcript.PENDING_KEEP
