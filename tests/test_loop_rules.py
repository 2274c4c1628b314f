"""The loop rules (loop_rules.py) and the signatures they compare (signature.py)."""

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
    assert rules.refuse_repeated_failure(fails("a", 3), "sig-a", LIMITS) is None
    found = rules.refuse_repeated_failure(fails("a", 4), "sig-a", LIMITS)
    assert found is not None and found.stage == "refuse" and found.count == 4


def test_repeated_failure_counts_only_the_same_failure() -> None:
    window = fails("a", 2, "one") + fails("a", 2, "two")  # the error changed: something moved
    assert rules.warn_repeated_failure(window, LIMITS) is None
    assert rules.refuse_repeated_failure(window + fails("a", 1, "two"), "sig-a", LIMITS) is None


def test_repeated_failure_different_call_is_not_refused() -> None:
    assert rules.refuse_repeated_failure(fails("a", 6), "sig-b", LIMITS) is None


def test_edit_in_between_is_progress() -> None:
    window: list[dict] = []
    for i in range(6):
        window += [call("a"), call(f"edit-{i}", ok=True)]
    window.append(call("a"))
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-a", LIMITS) is None


def test_changed_approach_restarts_the_count() -> None:
    window = fails("a", 4) + [call("b", ok=True)] + fails("a", 2)
    assert rules.warn_repeated_failure(window, LIMITS) is None
    assert rules.refuse_repeated_failure(window, "sig-a", LIMITS) is None


def test_thresholds_come_from_the_config() -> None:
    limits = {**LIMITS, "failure_warn_after": 2, "failure_block_after": 3}
    assert rules.warn_repeated_failure(fails("a", 2), limits) is not None
    assert rules.refuse_repeated_failure(fails("a", 2), "sig-a", limits) is not None


# -- repeated result (success included) ----------------------------------------------------


def test_repeated_result_warns_and_refuses() -> None:
    same = [call("poll", ok=True) for _ in range(3)]
    assert rules.warn_repeated_result(same, LIMITS) is None
    found = rules.warn_repeated_result(same + [call("poll", ok=True)], LIMITS)
    assert found is not None and found.count == 4
    assert rules.refuse_repeated_result(same + [call("poll", ok=True)], "sig-poll", LIMITS) is None
    found = rules.refuse_repeated_result([call("poll", ok=True)] * 5, "sig-poll", LIMITS)
    assert found is not None and found.count == 5


def test_repeated_result_changing_output_is_fine() -> None:
    window = [call("poll", ok=True, out=str(i)) for i in range(10)]
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-poll", LIMITS) is None


def test_repeated_result_leaves_failures_to_their_rule() -> None:
    assert rules.warn_repeated_result(fails("a", 6), LIMITS) is None
    assert rules.refuse_repeated_result(fails("a", 6), "sig-a", LIMITS) is None


# -- alternation ---------------------------------------------------------------------------


def abab(n: int) -> list[dict]:
    """n entries of A B A B ... (A fails, B succeeds, same outcomes each time)."""
    return [call("a") if i % 2 == 0 else call("b", ok=True) for i in range(n)]


def test_alternation_length() -> None:
    assert rules.alternation_length(abab(3)) == 0
    assert rules.alternation_length(abab(4)) == 4
    assert rules.alternation_length([call("c", ok=True)] + abab(7)) == 7
    assert rules.alternation_length(fails("a", 6)) == 0  # a plain repeat is not an alternation


def test_alternation_warns_after_three_rounds() -> None:
    assert rules.warn_alternation(abab(5), LIMITS) is None
    found = rules.warn_alternation(abab(6), LIMITS)
    assert found is not None and found.rule == "alternation" and found.count == 3


def test_alternation_refuses_the_fifth_run() -> None:
    # A B A B A B A: the next B would be its 4th run; allowed
    assert rules.refuse_alternation(abab(7), "sig-b", LIMITS) is None
    # A B A B A B A B: the next A would be its 5th run; refused
    found = rules.refuse_alternation(abab(8), "sig-a", LIMITS)
    assert found is not None and found.stage == "refuse" and found.count == 4
    assert rules.refuse_alternation(abab(8), "sig-c", LIMITS) is None  # breaking out is fine


def test_alternation_with_changing_outcome_is_not_a_loop() -> None:
    window = []
    for i in range(5):
        window += [call("test", out=f"error {i}"), call("edit", ok=True)]
    assert rules.alternation_length(window) == 0
    assert rules.first_refusal(window, "sig-test", LIMITS) is None


def test_alternation_with_distinct_edits_is_progress() -> None:
    window = []
    for i in range(5):
        window += [call("test"), call(f"edit-{i}", ok=True)]
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-test", LIMITS) is None


def test_the_same_edit_again_and_again_is_not_progress() -> None:
    window = []
    for _ in range(4):
        window += [call("test"), call("edit-same", ok=True)]
    assert rules.first_refusal(window, "sig-test", LIMITS) is not None


# -- incident keys -------------------------------------------------------------------------


def test_incident_key_is_per_agent_and_per_call() -> None:
    f = rules.Finding("repeated_failure", "warn", 3, call("a"))
    assert f.key("main") != f.key("agent-1")
    assert f.key("main") != rules.Finding("repeated_failure", "warn", 3, call("b")).key("main")
    pair = rules.Finding("alternation", "warn", 3, call("a"), call("b"))
    assert pair.key("main") == rules.Finding("alternation", "warn", 4, call("b"), call("a")).key("main")


@pytest.mark.parametrize("window", [[], [call("a")], fails("a", 2)])
def test_short_windows_never_trigger(window: list[dict]) -> None:
    assert rules.first_warning(window, LIMITS) is None
    assert rules.first_refusal(window, "sig-a", LIMITS) is None


def test_alternation_refuses_the_other_call_too() -> None:
    # A B A B A B A B, then A was refused: B once more is still the loop
    found = rules.refuse_alternation(abab(8), "sig-b", LIMITS)
    assert found is not None and found.count == 4
    assert rules.refuse_alternation(abab(6), "sig-b", LIMITS) is None  # B's 4th run: allowed


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
