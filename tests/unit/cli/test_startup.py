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
print(json.dumps(sorted(sys.modules)))
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


# What `reach` on the demo never needs of microseg itself: the demo has NetworkPolicies,
# AdminNetworkPolicies, Istio and RBAC objects, but no Calico, Linkerd, OVN network, SPIRE,
# ClusterNetworkPolicy, Ingress or Route objects, so their readers, models, compilers and explanations stay
# unloaded (each is imported where such objects are met), as do the intents (only --port's
# grammar is read), incremental changes and numpy's masked arrays (np.unique asks for them;
# engine/index/unique.py does not).
NEVER_FOR_REACH_ON_THE_DEMO = (
    "microseg.model.calico",
    "microseg.model.calico_selector",
    "microseg.ingest.calico",
    "microseg.ingest.calico_schema",
    "microseg.engine.index.calico_compile",
    "microseg.engine.index.calico_labels",
    "microseg.engine.index.calico_ports",
    "microseg.engine.index.calico_tiers",
    "microseg.engine.index.firstmatch",
    "microseg.engine.explain.calico",
    "microseg.model.linkerd",
    "microseg.ingest.linkerd",
    "microseg.ingest.linkerd_schema",
    "microseg.ingest.linkerd_config",
    "microseg.engine.mesh.linkerd_match",
    "microseg.engine.mesh.linkerd_table",
    "microseg.engine.mesh.linkerd_verdict",
    "microseg.engine.explain.linkerd_reasons",
    "microseg.ingest.networks",
    "microseg.ingest.networks_schema",
    "microseg.ingest.spire",
    "microseg.ingest.cnp_schema",
    "microseg.ingest.exposure",
    "microseg.model.exposure",
    "microseg.model.intent",
    "microseg.ingest.intents",
    "microseg.ingest.intent_schema",
    "microseg.model.changes",
    "microseg.engine.incremental",
    "numpy.ma",
)


def _modules(*args: str) -> set[str]:
    """Every module the CLI run with `args` loaded, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout))


def _loaded(*args: str) -> set[str]:
    """The top-level packages of `_modules`."""
    return {m.split(".")[0] for m in _modules(*args)}


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
    modules = _modules(
        "reach", str(DEMO), "--from", "frontend/webapp", "--to", "shop/postgres", "-q"
    )
    loaded = {m.split(".")[0] for m in modules}
    assert "numpy" in loaded  # the probe answered: the engine ran
    assert sorted(loaded.intersection(NEVER_FOR_REACH)) == []


def test_reach_on_the_demo_loads_no_reader_of_kinds_it_lacks() -> None:
    modules = _modules(
        "reach",
        str(DEMO),
        "--from",
        "frontend/webapp",
        "--to",
        "shop/postgres",
        "--port",
        "TCP/5432",
        "-q",
    )
    # The probe answered, through the readers and the mesh the demo does have.
    assert {
        "microseg.engine.connectivity",
        "microseg.ingest.istio",
        "microseg.ingest.admin",
    } <= modules
    assert sorted(modules.intersection(NEVER_FOR_REACH_ON_THE_DEMO)) == []


def test_python_dash_m_runs_the_cli() -> None:
    """`python -m microseg` is the `microseg` script: same answer, same exit code."""
    args = ["reach", str(DEMO), "--from", "frontend/webapp", "--to", "shop/postgres"]
    by_module = subprocess.run(
        [sys.executable, "-m", "microseg", *args, "--port", "TCP/5432"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    denied = subprocess.run(
        [sys.executable, "-m", "microseg", *args, "--port", "TCP/1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert by_module.returncode == 0, by_module.stderr
    assert by_module.stdout.startswith("ALLOWED frontend/webapp[Deployment] -> shop/postgres")
    assert denied.returncode == 1, denied.stderr
    assert denied.stdout.split()[:4] == [
        "DENIED",
        "frontend/webapp[Deployment]",
        "->",
        "shop/postgres[StatefulSet]",
    ]
    usage = subprocess.run(
        [sys.executable, "-m", "microseg", "reach"], capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2
    assert "python -m microseg reach --help" in usage.stderr
