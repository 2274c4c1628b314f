"""The loop rules (features/loops/rules.py) and the signatures they compare (signature.py)."""

from __future__ import annotations

import pytest

from lifeguard.features.loops import rules
from lifeguard.features.loops import signature as sig
from lifeguard.config.load import DEFAULTS

LIMITS = DEFAULTS["loops"]


def call(name: str, ok: bool = False, out: str = "same") -> dict:
    """A window entry: call `name` with outcome `out` (success or failure)."""
    return {"sig": f"sig-{name}", "fp": f"{'ok' if ok else 'fail'}:{out}", "ok": ok, "label": f"Bash: {name}"}


def fails(name: str, n: int, out: str = "same") -> list[dict]:
    return [call(name, False, out) for _ in range(n)]


# -- signatures and fingerprints -----------------------------------------------------------


def test_signature_ignores_description_and_key_order() -> None:
    a = sig.call_signature("Bash", {"command": "pytest -x", "description": "run tests"})
    b = sig.call_signature("Bash", {"description": "again", "command": "pytest -x"})
    assert a == b
    assert a != sig.call_signature("Bash", {"command": "pytest -x tests/a.py"})
    assert a != sig.call_signature("Other", {"command": "pytest -x"})
    # description matters for tools where it is not a mere label
    assert sig.call_signature("Edit", {"file_path": "f", "description": "x"}) != \
        sig.call_signature("Edit", {"file_path": "f", "description": "y"})


def test_failure_fingerprint_masks_volatile_details() -> None:
    one = ("Exit code 1\n2025-01-02T10:11:12.345Z pid 4242 failed at 0x7ffd1234"
           " in /tmp/pytest-7/x.py after 0.53s")
    two = ("Exit code 1\n2026-03-04T01:02:03.999Z pid 17 failed at 0x7aaa0000"
           " in /tmp/pytest-9/y.py after 12.1s")
    assert sig.failure_fingerprint(one) == sig.failure_fingerprint(two)
    uuid_a = "Exit code 2\nrequest 123e4567-e89b-12d3-a456-426614174000 rejected, commit deadbeef42"
    uuid_b = "Exit code 2\nrequest 00000000-1111-2222-3333-444444444444 rejected, commit 0badc0de99"
    assert sig.failure_fingerprint(uuid_a) == sig.failure_fingerprint(uuid_b)


def test_masking_skips_only_patterns_that_cannot_match() -> None:
    """normalize runs a volatile-part pattern only on a text holding what it needs (a "-", a
    digit, "/tmp/"...): the result must be that of running every pattern, in order, always."""
    import re

    every = [(re.compile(rx.pattern), repl) for _, rx, repl in sig._VOLATILE]

    def masked_by_all(text: str) -> str:
        for pattern, repl in every:
            text = pattern.sub(repl, text)
        return text

    texts = ["", "nothing to commit, working tree clean", "ok", "src/module_5/file_3.py:21: def handler_7():",
             "2025-01-02T10:11:12.345Z pid 4242 failed at 0x7ffd1234 in /tmp/pytest-7/x.py after 0.53s",
             "request 123e4567-e89b-12d3-a456-426614174000 rejected, commit deadbeef42", "took 12 ms", "[1234] up",
             "/private/var/folders/ab/T/x", "/dev/shm/q", "/var/tmp/z y", "Process 77 exited", "PID=9", "epoch 1700000000",
             "\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661 stamps", "\u0661\u0662 ms", "t=\uff11\uff12:34:56",
             "12:34:56 and 3:04:05.6", "2024-05-06 07:08", "at 0xZZ and 0x1f", "[12] [1] [12345678]", "abcdef1 a1b2c3d4e",
             "x" * 5000 + " 99 ms " + "y" * 5000, "line\nwith\ttabs 5s\n"]
    for text in texts + [t.upper() for t in texts] + [" ".join(texts)]:
        assert sig.normalize(text) == masked_by_all(text), text


def test_failure_fingerprint_keeps_what_matters() -> None:
    base = "Exit code 1\nNameError: name 'foo' is not defined"
    assert sig.failure_fingerprint(base) != sig.failure_fingerprint(base.replace("1", "2", 1))  # exit code
    assert sig.failure_fingerprint(base) != sig.failure_fingerprint(base.replace("foo", "bar"))  # message
    # the end of a long error counts too (tracebacks and test summaries end there)
    head = "\n".join(f"line {i}" for i in range(30))
    assert sig.failure_fingerprint(head + "\nE1 failed") != sig.failure_fingerprint(head + "\nE2 failed")


def test_success_fingerprint_compares_results() -> None:
    fp = sig.success_fingerprint
    assert fp({"stdout": "a", "stderr": ""}) == fp({"stderr": "", "stdout": "a"})
    assert sig.success_fingerprint({"stdout": "a"}) != sig.success_fingerprint({"stdout": "b"})
    assert fp({"stdout": "done at 10:11:12"}) == fp({"stdout": "done at 23:59:01"})


def test_exit_code_and_first_error_line() -> None:
    assert sig.exit_code("Exit code 3\nerr") == 3
    assert sig.exit_code("no code here") is None
    assert sig.first_error_line("Exit code 3\n\n  boom happened\nmore") == "boom happened"
    assert sig.first_error_line("Exit code 3") == "Exit code 3"


def test_call_label_is_short_and_readable() -> None:
    assert sig.call_label("Bash", {"command": "pytest   -x\n tests"}) == "Bash: pytest -x tests"
    assert len(sig.call_label("Bash", {"command": "x" * 500})) <= sig.LABEL_CHARS + len("Bash: ")
    assert sig.call_label("mcp__gh__list", {}) == "mcp__gh__list"


# -- repeated failure ----------------------------------------------------------------------


def test_repeated_failure_warns_from_the_third() -> None:
    assert rules.warn_repeated_failure(fails("a", 2), LIMITS) is None
    found = rules.warn_repeated_failure(fails("a", 3), LIMITS)
    assert found is not None and found.rule == "repeated_failure" and found.count == 3


def test_repeated_failure_refuses_the_fifth_run() -> None:
    assert rules.refuse_repeated_failure(fails("a", 3), "sig-a", None, LIMITS) is None
    found = rules.refuse_repeated_failure(fails("a", 4), "sig-a", None, LIMITS)
    assert found is not None and found.stage == "refuse" and found.count == 4


def test_repeated_failure_counts_only_the_same_failure() -> None:
    window = fails("a", 2, "one") + fails("a", 2, "two")  # the error changed: something moved
    assert rules.warn_repeated_failure(window, LIMITS) is None
    assert rules.refuse_repeated_failure(window + fails("a", 1, "two"), "sig-a", None, LIMITS) is None


def test_repeated_failure_different_call_is_not_refused() -> None:
    assert rules.refuse_repeated_failure(fails("a", 6), "sig-b", None, LIMITS) is None


def test_hidden_failures_are_warned_about_but_never_refused() -> None:
    """Calls Claude Code rejected (no hook saw them) count; the same input passing validation
    later means something changed, so it is not refused on their account."""
    window = [{**e, "hidden": True} for e in fails("edit", 4)]
    found = rules.first_warning(window, LIMITS)
    assert found is not None and found.rule == "repeated_failure" and found.entry["hidden"]
    assert rules.first_refusal(window, "sig-edit", None, LIMITS) is None
    assert rules.first_refusal(fails("edit", 4), "sig-edit", None, LIMITS) is not None  # near miss: seen by hooks


def test_edit_in_between_is_progress() -> None:
    window: list[dict] = []
    for i in range(6):
        window += [call("a"), call(f"edit-{i}", ok=True)]
    window.append(call("a"))
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-a", None, LIMITS) is None


def test_changed_approach_restarts_the_count() -> None:
    window = fails("a", 4) + [call("b", ok=True)] + fails("a", 2)
    assert rules.warn_repeated_failure(window, LIMITS) is None
    assert rules.refuse_repeated_failure(window, "sig-a", None, LIMITS) is None


def test_thresholds_come_from_the_config() -> None:
    limits = {**LIMITS, "failure_warn_after": 2, "failure_block_after": 3}
    assert rules.warn_repeated_failure(fails("a", 2), limits) is not None
    assert rules.refuse_repeated_failure(fails("a", 2), "sig-a", None, limits) is not None


# -- repeated result (success included) ----------------------------------------------------


def test_repeated_result_warns_and_refuses() -> None:
    same = [call("poll", ok=True) for _ in range(3)]
    assert rules.warn_repeated_result(same, LIMITS) is None
    found = rules.warn_repeated_result(same + [call("poll", ok=True)], LIMITS)
    assert found is not None and found.count == 4
    assert rules.refuse_repeated_result(same + [call("poll", ok=True)], "sig-poll", None, LIMITS) is None
    found = rules.refuse_repeated_result([call("poll", ok=True)] * 5, "sig-poll", None, LIMITS)
    assert found is not None and found.count == 5


def timed(name: str, times: list[float]) -> list[dict]:
    return [{**call(name, ok=True), "t": t} for t in times]


def test_polling_with_growing_waits_is_waiting_but_a_tight_poll_is_refused() -> None:
    growing = timed("poll", [0, 5, 15, 35, 75])  # waits 5, 10, 20, 40: backing off
    assert rules.warn_repeated_result(growing, LIMITS) is None
    assert rules.refuse_repeated_result(growing, "sig-poll", 160, LIMITS) is None
    tight = timed("poll", [0, 5, 10, 15, 20])  # every 5 s, the same answer
    assert rules.warn_repeated_result(tight, LIMITS) is not None
    assert rules.refuse_repeated_result(tight, "sig-poll", 25, LIMITS) is not None
    # near miss: the waits grew, but this run comes right after the last one
    assert rules.refuse_repeated_result(growing, "sig-poll", 76, LIMITS) is not None
    slow = timed("poll", [0, 60, 125, 190, 250])  # a check a minute: a job that takes its time
    assert rules.warn_repeated_result(slow, LIMITS) is None
    assert rules.refuse_repeated_result(slow, "sig-poll", 310, LIMITS) is None
    assert rules.refuse_repeated_result(slow, "sig-poll", 260, LIMITS) is not None  # near miss: 10 s later


def test_repeated_result_changing_output_is_fine() -> None:
    window = [call("poll", ok=True, out=str(i)) for i in range(10)]
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-poll", None, LIMITS) is None


def test_repeated_result_leaves_failures_to_their_rule() -> None:
    assert rules.warn_repeated_result(fails("a", 6), LIMITS) is None
    assert rules.refuse_repeated_result(fails("a", 6), "sig-a", None, LIMITS) is None


def test_allowed_calls_may_repeat() -> None:
    window = [{**call("gh run watch", ok=True), "allow": True} for _ in range(8)]
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-gh run watch", None, LIMITS, allowed=True) is None
    plain = [call("gh run watch", ok=True) for _ in range(8)]  # near miss: not allowed
    assert rules.first_refusal(plain, "sig-gh run watch", None, LIMITS) is not None


# -- cycles of two and three calls ---------------------------------------------------------


def rounds(names: str, n: int, ok: str = "") -> list[dict]:
    """n entries going round `names` (each a call; those listed in `ok` succeed), same outcomes."""
    return [call(names[i % len(names)], ok=names[i % len(names)] in ok) for i in range(n)]


def test_cycle_tail() -> None:
    assert rules.cycle_tail(rounds("ab", 3), 2) == 0
    assert rules.cycle_tail(rounds("ab", 4), 2) == 4
    assert rules.cycle_tail([call("c", ok=True)] + rounds("ab", 7), 2) == 7
    assert rules.cycle_tail(fails("a", 6), 2) == 0  # a plain repeat is not a cycle
    assert rules.cycle_tail(rounds("abc", 6), 3) == 6
    assert rules.cycle_tail(rounds("abc", 5), 3) == 0


def test_a_pair_is_warned_at_its_second_round_and_refused_in_its_third() -> None:
    assert rules.warn_cycle(rounds("ab", 3), LIMITS) is None
    found = rules.warn_cycle(rounds("ab", 4), LIMITS)
    assert found is not None and found.rule == "cycle" and found.count == 2
    assert rules.warn_cycle(rounds("ab", 5), LIMITS) is None  # once per full round
    found = rules.refuse_cycle(rounds("ab", 4), "sig-a", None, LIMITS)
    assert found is not None and found.count == 2 and found.entry["sig"] == "sig-a"
    assert rules.refuse_cycle(rounds("ab", 4), "sig-c", None, LIMITS) is None  # breaking out is fine
    assert rules.refuse_cycle(rounds("ab", 3), "sig-b", None, LIMITS) is None  # near miss: round 2


def test_three_calls_in_turn_are_refused_by_their_third_round() -> None:
    assert rules.warn_cycle(rounds("abc", 5), LIMITS) is None
    found = rules.warn_cycle(rounds("abc", 6), LIMITS)
    assert found is not None and [m["sig"] for m in found.members] == ["sig-a", "sig-b", "sig-c"]
    assert rules.refuse_cycle(rounds("abc", 6), "sig-a", None, LIMITS) is not None
    assert rules.refuse_cycle(rounds("abc", 5), "sig-c", None, LIMITS) is None  # near miss: round 2


def test_a_bystander_repeated_inside_a_round_does_not_let_the_loop_out() -> None:
    # A B A B, A refused, B again: A once more is still the third round of the same loop
    window = rounds("ab", 4, ok="b") + [call("b", ok=True)]
    assert rules.refuse_cycle(window, "sig-a", None, LIMITS) is not None
    assert rules.warn_cycle(window, LIMITS) is None  # it completes no new round
    # near miss: B's result changed: that is news, the count starts again
    assert rules.refuse_cycle(rounds("ab", 4, ok="b") + [call("b", ok=True, out="new")], "sig-a", None, LIMITS) is None


def test_a_round_completed_by_two_entries_at_once_is_warned() -> None:
    """Claude Code may write a rejected Edit to the transcript after the next Read's PreToolUse
    ran: the Edit is then read at that Read's PostToolUse, and both enter the window together.
    R E R + (E R): the second round completed inside what was added, off the round's edge."""
    window = rounds("re", 5, ok="r")  # R E R E R
    found = rules.warn_cycle(window, LIMITS, added=2)
    assert found is not None and found.count == 2 and found.entry["sig"] == "sig-e"
    assert rules.first_warning(window, LIMITS, added=2) is not None
    # near miss: only the last Read is new, and the second round was complete before it
    assert rules.warn_cycle(window, LIMITS, added=1) is None


def test_runs_of_a_failing_call_are_not_folded_into_a_cycle() -> None:
    # x x x x L x x x x L: two bouts of a repeated failure, not a cycle of x and L
    window = (fails("x", 4) + [call("look", ok=True)]) * 2
    assert rules.warn_cycle(window, LIMITS) is None
    assert rules.refuse_cycle(window, "sig-x", None, LIMITS) is None


def test_pair_order_is_stable_from_one_message_to_the_next() -> None:
    one = rules.warn_cycle(rounds("ab", 4), LIMITS)
    two = rules.warn_cycle(rounds("ab", 6), LIMITS)
    assert [m["sig"] for m in one.members] == [m["sig"] for m in two.members] == ["sig-a", "sig-b"]
    assert two.count == 3


def test_the_innocent_call_of_a_cycle_is_never_refused() -> None:
    """Read (same content) / failing Edit: the Edit is to blame, not the Read."""
    window = rounds("re", 4, ok="r")
    assert rules.refuse_cycle(window, "sig-r", None, LIMITS) is None
    found = rules.warn_cycle(window, LIMITS)
    assert found is not None and found.entry["sig"] == "sig-e"  # the failing call is the one named
    hidden = [{**e, "hidden": True} if e["sig"] == "sig-e" else e for e in window]
    assert rules.first_refusal(hidden, "sig-r", None, LIMITS) is None
    # near miss: both calls fail: the next one is refused
    assert rules.refuse_cycle(rounds("ab", 4), "sig-a", None, LIMITS) is not None


def test_cycle_with_changing_outcome_is_not_a_loop() -> None:
    window = []
    for i in range(5):
        window += [call("test", out=f"error {i}"), call("edit", ok=True)]
    assert rules.cycle_tail(window, 2) == 0
    assert rules.first_refusal(window, "sig-test", None, LIMITS) is None


def test_test_commands_rerun_after_distinct_edits_are_progress() -> None:
    window = []
    for i in range(5):
        window += [call("test-a"), call(f"edit-{i}", ok=True), call("test-b"), call(f"edit-{i}b", ok=True)]
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-test-a", None, LIMITS) is None


def test_the_same_edit_again_and_again_is_not_progress() -> None:
    window = []
    for _ in range(2):
        window += [call("test"), call("edit-same", ok=True)]
    assert rules.first_refusal(window, "sig-test", None, LIMITS) is not None


# -- incident keys -------------------------------------------------------------------------


def test_incident_key_is_per_agent_and_per_call() -> None:
    f = rules.Finding("repeated_failure", "warn", 3, [call("a")])
    assert f.key("main") != f.key("agent-1")
    assert f.key("main") != rules.Finding("repeated_failure", "warn", 3, [call("b")]).key("main")
    pair = rules.Finding("cycle", "warn", 3, [call("a"), call("b")])
    assert pair.key("main") == rules.Finding("cycle", "warn", 4, [call("b"), call("a")]).key("main")


@pytest.mark.parametrize("window", [[], [call("a")], fails("a", 2)])
def test_short_windows_never_trigger(window: list[dict]) -> None:
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-a", None, LIMITS) is None


def test_signatures_are_keyed_with_the_workspace_salt():
    """A signature of a secret-bearing command can't be recomputed without the salt."""
    from lifeguard.features.loops import signature as sig

    cmd = {"command": "deploy --password hunter2"}
    try:
        sig.use_key(b"salt-one")
        one = sig.call_signature("Bash", cmd)
        assert sig.call_signature("Bash", cmd) == one  # stable under one key: repeats still match
        sig.use_key(b"salt-two")
        assert sig.call_signature("Bash", cmd) != one
    finally:
        sig.use_key(b"")
