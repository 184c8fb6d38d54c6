"""`reach --from {ingress-controller}` against netpol-analyzer's connlist rows.

For every case with Ingress or Route objects, each workload's answer from the ingress
controller must be exactly the `{ingress-controller} => W` row netpol-analyzer computed
(and nothing for a workload without a row): the query and the list cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import microseg
from microseg.engine import EngineOptions, HostNetwork, Verdict
from microseg.model.sets import ConnSet
from tests.conformance.canonical import parse_conn
from tests.conformance.test_netpol_analyzer_connlist import CASES

INGRESS_CASES = [c for c, cat in CASES if cat == "np+ingress-route"]


@pytest.mark.parametrize(
    "case",
    INGRESS_CASES
    or [pytest.param("none", marks=pytest.mark.skip(reason="conformance corpus not found"))],
)
def test_reach_from_the_ingress_controller_equals_its_connlist_rows(
    corpus: Path, case: str
) -> None:
    base = corpus / "netpol-analyzer"
    rows: dict[str, ConnSet] = {}
    for line in (
        (base / "expected" / "connlist" / f"{case}_connlist_output.txt").read_text().splitlines()
    ):
        src, rest = line.split(" => ", 1)
        if src == "{ingress-controller}":
            dst, conn = rest.split(" : ", 1)
            rows[dst] = parse_conn(conn)
    cluster = microseg.load([str(base / "tests" / case)])
    conn = microseg.Connectivity.build(cluster, EngineOptions(HostNetwork.POD))
    workloads = {str(w.key) for w in cluster.workloads}
    assert set(rows) <= workloads
    for w in sorted(workloads):
        d = conn.reach("{ingress-controller}", w)
        want = rows.get(w, ConnSet.none())
        assert d.allowed == want, f"{case}: {w}: reach {d.allowed}, connlist {want}"
        assert (d.verdict is Verdict.ALLOW) == bool(want)
        assert d.entries is not None
        opened = ConnSet.none()
        for e in d.entries:
            opened = opened | e.conns
        assert want.issubset(opened)  # every allowed port has its Ingress or Route


def test_reach_cli_accepts_the_ingress_controller(corpus: Path) -> None:
    from typer.testing import CliRunner

    from microseg.cli.app import app

    case = str(corpus / "netpol-analyzer" / "tests" / "acs-security-demos")
    args = ["reach", case, "-q", "--from", "{ingress-controller}"]
    ok = CliRunner().invoke(app, [*args, "--to", "frontend/webapp"])
    assert ok.exit_code == 0, ok.output
    assert "exposed through Route frontend/webapp" in ok.stdout
    closed = CliRunner().invoke(app, [*args, "--to", "backend/catalog", "--port", "TCP/8080"])
    assert closed.exit_code == 1, closed.output
    assert "no Ingress or Route exposes it" in closed.stdout
    external = CliRunner().invoke(app, [*args, "--to", "10.0.0.1"])
    assert external.exit_code == 2
