"""The task dependency graph rules: cycles, deadlocks, orphans, and task data validation."""

from __future__ import annotations

from lifeguard.core import graph
from lifeguard.features.coordination import tasks as tv
from lifeguard.features.coordination import taskgraph as tg


def test_edges_from_update_reads_blocks_and_blocked_by_the_same_way():
    # "#1 blocks #2" whether said from #1 (addBlocks) or from #2 (addBlockedBy)
    assert tg.edges_from_update("1", ["2"]) == [("1", "2")]
    assert tg.edges_from_update("2", add_blocked_by=["1"]) == [("1", "2")]
    assert tg.edges_from_update("3", ["4"], ["5"]) == [("3", "4"), ("5", "3")]


def test_acyclic_link_is_fine_and_the_closing_link_names_the_cycle():
    existing = [("1", "2")]
    assert tg.cycle_closed_by(existing, [("2", "3")]) is None
    edge, cycle = tg.cycle_closed_by(existing, [("2", "1")])
    assert edge == ("2", "1")
    assert tg.format_cycle(cycle) == "#2 -> #1 -> #2"


def test_cycle_through_several_tasks_and_within_one_update():
    existing = [("1", "2"), ("2", "3")]
    edge, cycle = tg.cycle_closed_by(existing, [("3", "1")])
    assert cycle == ["3", "1", "2", "3"]
    # the second of two new links closes the cycle the first one opened
    edge, cycle = tg.cycle_closed_by([], [("1", "2"), ("2", "1")])
    assert edge == ("2", "1") and cycle == ["2", "1", "2"]


def test_self_dependency_is_a_cycle():
    edge, cycle = tg.cycle_closed_by([], [("4", "4")])
    assert cycle == ["4", "4"]


def test_weakest_link_prefers_low_priority_then_most_recent():
    cycle = ["1", "2", "3", "1"]
    # equal priorities: the most recent link (not in `order`) is the one to drop
    assert tg.weakest_link(cycle, {}, {("1", "2"): 5, ("2", "3"): 6}) == ("3", "1")
    # a link between low-priority tasks is weaker than a newer one between critical ones
    prio = {"1": "critical", "2": "low", "3": "low"}
    assert tg.weakest_link(cycle, prio, {("1", "2"): 5, ("2", "3"): 6}) == ("2", "3")


def test_find_cycles_one_per_group():
    edges = [("1", "2"), ("2", "1"), ("3", "4"), ("4", "5"), ("5", "3"), ("6", "7")]
    cycles = graph.find_cycles(["1", "2", "3", "4", "5", "6", "7"], edges)
    assert cycles == [["1", "2", "1"], ["3", "4", "5", "3"]]


def test_find_cycles_handles_long_chains_without_recursion():
    n = 5000
    edges = [(str(i), str(i + 1)) for i in range(n)] + [(str(n), "0")]
    cycles = graph.find_cycles([str(i) for i in range(n + 1)], edges)
    assert len(cycles) == 1 and len(cycles[0]) == n + 2


def _tasks(**statuses):
    return {k.lstrip("t"): {"status": v} for k, v in statuses.items()}


def test_no_deadlock_while_some_task_can_proceed():
    tasks = _tasks(t1="pending", t2="pending", t3="pending")
    assert tg.find_deadlock(tasks, [("1", "2"), ("2", "1")]) is None  # #3 can still go ahead


def test_no_deadlock_when_blockers_are_finished_or_nothing_is_left():
    assert tg.find_deadlock(_tasks(t1="completed", t2="pending"), [("1", "2")]) is None
    assert tg.find_deadlock(_tasks(t1="completed"), []) is None


def test_deadlock_names_the_stuck_tasks_and_the_link_to_relax():
    tasks = _tasks(t1="pending", t2="in_progress", t3="pending")
    tasks["2"]["priority"] = "high"
    edges = [("1", "2"), ("2", "1"), ("1", "3")]
    found = tg.find_deadlock(tasks, edges, {("1", "2"): 1, ("2", "1"): 2, ("1", "3"): 3})
    assert found["stuck"] == ["1", "2", "3"]
    assert found["cycles"] == [["1", "2", "1"]]
    assert found["waits"] == {"1": ["2"], "2": ["1"], "3": ["1"]}
    # #2 has the highest priority: it goes ahead without its blocker #1
    assert found["relax"] == ("1", "2")


def test_deadlock_relaxes_the_most_recent_link_among_equals():
    tasks = _tasks(t1="pending", t2="pending", t3="pending")
    tasks["1"]["priority"] = "high"
    # #1 (highest) waits for #2 and #3 (both medium); the link from #3 is the newer one
    edges = [("2", "1"), ("3", "1"), ("1", "2"), ("1", "3")]
    order = {("2", "1"): 1, ("3", "1"): 9, ("1", "2"): 2, ("1", "3"): 3}
    found = tg.find_deadlock(tasks, edges, order)
    assert found["relax"] == ("3", "1") and found["also"] == [("2", "1")]


def test_orphans_are_unfinished_tasks_of_gone_owners():
    tasks = {"1": {"status": "pending", "owner": "worker"}, "2": {"status": "completed", "owner": "worker"},
             "3": {"status": "in_progress", "owner": "other"}, "4": {"status": "pending", "owner": "a123"}}
    assert tg.orphans(tasks, {"worker", "a123"}) == ["1", "4"]
    assert tg.orphans(tasks, set()) == []


def test_validate_create_and_update_give_clear_messages():
    assert tv.validate_create({"subject": "x", "description": "y"}) is None
    assert "subject" in tv.validate_create({"subject": " ", "description": "y"})
    assert "priority" in tv.validate_create({"subject": "x", "metadata": {"priority": "urgent"}})
    assert tv.validate_create("not a dict") is not None
    assert tv.validate_update({"taskId": "1", "addBlocks": ["2"], "status": "in_progress"}) is None
    assert "list" in tv.validate_update({"taskId": "1", "addBlocks": "2"})
    assert "status" in tv.validate_update({"taskId": "1", "status": "done"})
    assert "taskId" in tv.validate_update({"addBlocks": ["2"]})
    assert tv.validate_update({"taskId": "1", "addBlockedBy": [None]}) is not None


def test_validate_task_like_the_spec():
    good = {"id": "1", "title": "t", "status": "pending", "priority": "high", "dependencies": []}
    assert tv.validate_task(good).valid
    assert tv.validate_task({"id": "1"}).error == "Missing required fields: title, status, priority"
    assert tv.validate_task({**good, "status": "weird"}).error == "Invalid status: weird"
    assert tv.validate_task({**good, "priority": "p0"}).error == "Invalid priority: p0"
    assert tv.validate_task({**good, "dependencies": "2"}).error == "Dependencies must be a list"
    assert not tv.validate_task(None).valid
