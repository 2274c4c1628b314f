"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

try:  # tests/ is not a package: pytest puts tests/ itself on sys.path
    from e2e.fakemodel import FakeModel
    from e2e.harness import require_claude
except ImportError:  # tests/ is a package (tests/__init__.py exists)
    from tests.e2e.fakemodel import FakeModel
    from tests.e2e.harness import require_claude


@pytest.fixture(autouse=True)
def _no_resident_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hooks run by tests start no resident helper (each would outlive its test by minutes);
    tests/test_helper.py and the end-to-end runs turn it back on and stop it themselves."""
    monkeypatch.setenv("LIFEGUARD_HELPER", "0")


@pytest.fixture(autouse=True)
def _nothing_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh hook process would: no record held, none written, no
    invocation (store/inflight.py keeps this per process; in-process tests share the module)."""
    from lifeguard.store import inflight

    for name, value in (("_held", None), ("_settled", False), ("_attempted", False),
                        ("_invocation", None), ("_on_written", None)):
        monkeypatch.setattr(inflight, name, value)


@pytest.fixture(autouse=True)
def _json_as_in_a_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts on the stdlib's json, as a hook does; a tool run in-process switches to
    orjson (store/jsoncodec.py) for its test only."""
    from lifeguard.store import jsoncodec

    monkeypatch.setattr(jsoncodec, "orjson", None)
    monkeypatch.setattr(jsoncodec, "_DUMPS_OPTIONS", 0)


@pytest.fixture(autouse=True)
def _no_work_left_for_later() -> Iterator[None]:
    """What a hook run in-process leaves for after its answer (core/later.py) is run only by the
    tests that ask for it (later.take()); the rest is dropped with the test."""
    yield
    from lifeguard.core import later

    later.take()


@pytest.fixture
def claude_bin() -> str:
    """Path of the Claude Code CLI; skips the test if it is not installed."""
    return require_claude()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace directory for one CLI run."""
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def fake_model() -> Iterator[FakeModel]:
    """A started FakeModel with an empty script; shut down after the test.
    Fill ``fake_model.turns`` / ``.subagent_turns`` and pass it to
    ``run_claude(..., model=fake_model)``."""
    fm = FakeModel()
    fm.start()
    try:
        yield fm
    finally:
        fm.stop()
