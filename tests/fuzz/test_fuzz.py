"""A short fuzz run for `make test`: hostile mutations of the demo and of a sample of the
peer corpus through the CLI in this process (tests/fuzz/oracle.py judges every output),
and a few of them as real processes under time and memory limits. `make fuzz` runs the
same strategies for as long as asked (tests/fuzz/run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.cases import Case, cases
from tests.fuzz.oracle import Outcome, run_case, run_subprocess

SHORT = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def _clean(outcome: Outcome, case: Case) -> None:
    assert outcome.kind in ("ok", "rejected"), (
        f"{outcome.kind}: {outcome.detail}\n{case.args}\n{case.notes}"
    )


@SHORT
@given(case=cases(max_mutations=3, every=10))
def test_hostile_inputs_in_process(case: Case, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("case")
    _clean(run_case(case, root), case)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases(max_mutations=2, every=25))
def test_hostile_inputs_as_processes_under_limits(
    case: Case, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The process sees what the in-process run saw: same outcome, same exit code."""
    inside = run_case(case, tmp_path_factory.mktemp("inside"))
    outside = run_subprocess(case, tmp_path_factory.mktemp("outside"), memory_mb=2048)
    _clean(outside, case)
    assert (inside.kind, inside.exit_code) == (outside.kind, outside.exit_code)


def test_the_driver_records_every_case(tmp_path: Path) -> None:
    """tests/fuzz/driver.py as `make fuzz` runs it: one JSON line per case."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.driver",
            "--work",
            str(tmp_path),
            "--count",
            "3",
            "--every",
            "50",
        ],
        cwd=root,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    lines = (tmp_path / "results.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 3
    assert all(json.loads(x)["kind"] in ("ok", "rejected") for x in lines)
