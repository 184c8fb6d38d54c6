"""The progress spinner: every stage runs inside one (the analyses after loading take tens of
seconds at 150,000 pods), nested blocks share the outer one, and it is never made off a
terminal or under --quiet."""

from __future__ import annotations

import io

import pytest

from microseg.cli.common import Session


def _terminal(monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich's console and _maybe_terminal: a TTY
    session = Session(no_color=True)
    from rich.console import Console

    session._err = Console(file=io.StringIO(), force_terminal=True, no_color=True)
    return session


def test_a_stage_outside_any_block_gets_a_spinner_named_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = _terminal(monkeypatch)
    seen: list[str] = []

    def work() -> int:
        assert session._progress is not None
        seen.append(session._progress.tasks[0].description)
        return 7

    assert session.stage("verifying", work) == 7
    assert seen == ["verifying"]
    assert session._progress is None  # closed after the stage
    assert not session._active
    assert "verifying" in session.timings


def test_stages_inside_a_block_share_its_spinner(monkeypatch: pytest.MonkeyPatch) -> None:
    session = _terminal(monkeypatch)
    bars: list[object] = []
    with session.progress():
        outer = session._progress
        session.stage("loading manifests", lambda: bars.append(session._progress))
        session.stage("computing connectivity", lambda: bars.append(session._progress))
        assert outer is not None
        assert outer.tasks[0].description == "computing connectivity"
    assert bars == [outer, outer]
    assert session._progress is None


@pytest.mark.parametrize("quiet", [True, False])
def test_no_spinner_off_a_terminal_or_when_quiet(
    monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a TTY
    session = Session(quiet=quiet, no_color=True)
    made: list[object] = []
    session.stage("linting", lambda: made.append(session._progress))
    assert made == [None]
    assert not session._active
