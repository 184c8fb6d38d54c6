"""Shared fixtures: where the peer conformance corpus is, and the repository's demo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

# Correctness, never timing: a property example that is slow because the machine is busy
# (CI shares its cores) is not a failure. Performance lives in `make bench`.
settings.register_profile("default", deadline=None)
settings.load_profile("default")

# tests/mutation/mutate.py runs the suite once per mutant: a failure found is enough, so the
# property tests do not spend minutes shrinking it.
settings.register_profile(
    "mutation", deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
if os.environ.get("MICROSEG_MUTATION"):
    settings.load_profile("mutation")

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite the expected files under tests/golden/ from the current output.",
    )


def conformance_root() -> Path | None:
    env = os.environ.get("MICROSEG_CONFORMANCE")
    root = Path(env) if env else REPO.parent / "shared" / "conformance"
    return root if root.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    root = conformance_root()
    if root is None:
        why = (
            "conformance corpus not found: set MICROSEG_CONFORMANCE or place ../shared/conformance"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the peer oracles, not skip them")
        pytest.skip(why)
    return root


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole test process (starting one takes seconds)."""
    from microseg.ingest.flows.spark import SparkUnavailable, session, stop

    try:
        got = session("local[2]")
    except SparkUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}; CI installs Java and pyspark (.ci/run, make install)")
        pytest.skip(str(exc))
    yield got
    stop()
