"""Lifeguard's notice queue: priorities, overflow and archiving, retries with back-off, dead letters."""

from __future__ import annotations

from lifeguard.features.coordination import queue as nq


def _msg(i: int, priority: str = "normal") -> dict:
    return {"id": i, "priority": priority, "code": "X", "text": f"m{i}"}


def test_priority_follows_the_error_codes_severity():
    assert nq.priority_for("SESSION_CORRUPTED") == "critical"
    assert nq.priority_for("AGENT_CRASHED") == "high"
    assert nq.priority_for("AGENT_TIMEOUT") == "normal"
    assert nq.priority_for("NOT_A_CODE") == "high"  # unknown codes map to a generic error


def test_no_overflow_below_the_limit():
    queue = [_msg(i) for i in range(10)]
    kept, archived = nq.overflow(queue, 10)
    assert kept == queue and archived == []


def test_overflow_keeps_all_urgent_and_the_50_most_recent_normal():
    queue = [_msg(i, "critical" if i % 10 == 0 else "high" if i % 10 == 5 else "normal") for i in range(1, 121)]
    queue.insert(3, _msg(500, "low"))
    kept, archived = nq.overflow(queue, 100, 50)
    urgent = [m for m in queue if m["priority"] in ("critical", "high")]
    assert all(m in kept for m in urgent)
    normal_kept = [m["id"] for m in kept if m["priority"] == "normal"]
    all_normal = sorted(m["id"] for m in queue if m["priority"] == "normal")
    assert normal_kept == all_normal[-50:]
    assert {m["id"] for m in archived} == set(all_normal[:-50]) | {500}
    assert len(kept) + len(archived) == len(queue)
    # order of the kept messages is preserved
    assert [m["id"] for m in kept] == sorted(m["id"] for m in kept)


def test_enqueue_applies_the_overflow_rule():
    queue = [_msg(i) for i in range(1, 101)]
    kept, archived = nq.enqueue(queue, [_msg(101, "high")], 100, 50)
    assert _msg(101, "high") in kept
    assert len([m for m in kept if m["priority"] == "normal"]) == 50
    assert len(archived) == 50


def test_delivery_order_is_most_urgent_first_then_oldest():
    queue = [_msg(1), _msg(2, "critical"), _msg(3, "high"), _msg(4, "low"), _msg(5, "critical")]
    assert [m["id"] for m in nq.by_priority(queue)] == [2, 5, 3, 1, 4]


def test_retry_limits_by_priority_and_capped_exponential_backoff():
    assert [nq.max_retries(p) for p in ("critical", "high", "normal", "low")] == [10, 5, 3, 1]
    assert [nq.backoff_seconds(a) for a in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert nq.backoff_seconds(12) == 300.0  # capped at 5 minutes
    assert nq.retry_decision(1, "normal") == {"retry": True, "attempts": 1, "limit": 3, "delay": 2.0}
    assert nq.retry_decision(3, "normal")["retry"] is False
    assert nq.retry_decision(3, "high")["retry"] is True
    assert nq.retry_decision(1, "low")["retry"] is False


def test_dead_letter_queue_is_bounded():
    dead: list[dict] = []
    for i in range(7):
        dead = nq.dead_letter(dead, {"to": f"a{i}"}, 5)
    assert [d["to"] for d in dead] == ["a2", "a3", "a4", "a5", "a6"]
