"""Start-up stays light: `microseg --help`, a usage error and a command's own --help load
none of the heavy libraries, and `reach` loads only what answering needs (issue 22).

Checked on `sys.modules` in a fresh interpreter, never on a clock: the figures are in
`make bench` (bench/startup.py). Each import named here costs tens of milliseconds or more
(numpy ~70 ms, pydantic and our schemas ~100 ms, DuckDB ~40 ms, the Kubernetes client,
FastAPI and uvicorn hundreds), and one module-level import in any command module would
bring it back for every command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo"

# Run the CLI in-process in a fresh interpreter, then list the top-level packages loaded.
_PROBE = """
import contextlib, io, json, sys
sys.argv = ["microseg", *json.loads(sys.argv[1])]
from microseg.cli.app import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""

# Not needed by any command to start, parse its options or print help. (pydantic is
# typer's own from 0.2x on: it coerces every option of a command through a TypeAdapter, so
# it is held out only of the top-level help, below.)
NEVER_AT_START = (
    "numpy",
    "duckdb",
    "pyspark",
    "fastapi",
    "starlette",
    "uvicorn",
    "kubernetes",
    "jinja2",
    "yaml",
    "prometheus_client",
    "cryptography",
    "httpx",
)
NEVER_FOR_HELP = (*NEVER_AT_START, "pydantic", "pydantic_core")
# What `reach` on the demo never needs: no flows, no web stack, no live cluster, no tables.
NEVER_FOR_REACH = (
    "duckdb",
    "pyspark",
    "fastapi",
    "starlette",
    "uvicorn",
    "kubernetes",
    "jinja2",
    "prometheus_client",
    "cryptography",
    "httpx",
    "rich",
    "pygments",
    "markdown_it",
)


def _loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--help"], id="help"),
        pytest.param([], id="no-args"),
        pytest.param(["reach", "--help"], id="reach-help"),
        pytest.param(["connectivity", "--help"], id="connectivity-help"),
        pytest.param(["flows", "import", "--help"], id="flows-import-help"),
        pytest.param(["stats", "--bogus"], id="usage-error"),
    ],
)
def test_heavy_libraries_stay_out_of_start_up(args: list[str]) -> None:
    loaded = _loaded(*args)
    assert "microseg" in loaded  # the probe ran the CLI
    assert sorted(loaded.intersection(NEVER_AT_START)) == []


@pytest.mark.parametrize("args", [["--help"], []], ids=["help", "no-args"])
def test_top_level_help_needs_no_validation_library(args: list[str]) -> None:
    assert sorted(_loaded(*args).intersection(NEVER_FOR_HELP)) == []


def test_reach_on_the_demo_loads_only_what_it_needs() -> None:
    loaded = _loaded("reach", str(DEMO), "--from", "frontend/webapp", "--to", "shop/postgres", "-q")
    assert "numpy" in loaded  # the probe answered: the engine ran
    assert sorted(loaded.intersection(NEVER_FOR_REACH)) == []
