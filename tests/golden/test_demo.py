"""CLI golden tests on the bundled demo shop (examples/demo), one folder per scenario.

Each case is (scenario folder, expected file, arguments after the input path, exit code).
The exit code is asserted, never rewritten; `--update-goldens` rewrites only the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

from .conftest import GOLDEN_ROOT, Golden

runner = CliRunner()

GAP = ["--from", "frontend/webapp", "--to", "shop/postgres", "--port", "TCP/5432"]
DENIED = ["--from", "frontend/webapp", "--to", "payments/payment-service", "--port", "TCP/8443"]
INTERNET = ["--from", "203.0.113.7", "--to", "frontend/webapp"]
FOCUS = ["--focus-workload", "shop/postgres"]
VERIFY = ["--intents", "examples/demo/intents.yaml"]
BLAST = ["--from", "frontend/webapp", "--to", "payments/*"]

CASES = [
    # every allowed connection of the demo, in each output format
    ("demo_connectivity", "connectivity.txt", "connectivity", [], 0),
    ("demo_connectivity", "connectivity.json", "connectivity", ["-o", "json"], 0),
    ("demo_connectivity", "connectivity.csv", "connectivity", ["-o", "csv"], 0),
    ("demo_connectivity", "connectivity.md", "connectivity", ["-o", "md"], 0),
    ("demo_connectivity", "connectivity.dot", "connectivity", ["-o", "dot"], 0),
    # the demo's gap: the internet-facing webapp reaches the database
    ("demo_gap_reach", "reach.txt", "reach", GAP, 0),
    ("demo_gap_reach", "reach.json", "reach", [*GAP, "-o", "json"], 0),
    # a pair the policies keep apart: payments only accepts shop/checkout
    ("demo_denied_reach", "reach.txt", "reach", DENIED, 1),
    ("demo_denied_reach", "reach.json", "reach", [*DENIED, "-o", "json"], 1),
    # an internet address reaching the public webapp
    ("demo_internet_reach", "reach.txt", "reach", INTERNET, 0),
    ("demo_internet_reach", "reach.json", "reach", [*INTERNET, "-o", "json"], 0),
    # everything that touches the database
    ("demo_focus_postgres", "connectivity.txt", "connectivity", FOCUS, 0),
    ("demo_focus_postgres", "connectivity.json", "connectivity", [*FOCUS, "-o", "json"], 0),
    # the teams' intents: all hold but `deny web -> database`, the gap
    ("demo_verify", "verify.txt", "verify", VERIFY, 1),
    ("demo_verify", "verify.json", "verify", [*VERIFY, "-o", "json"], 1),
    ("demo_verify", "verify.sarif", "verify", [*VERIFY, "-o", "sarif"], 1),
    ("demo_verify", "verify.xml", "verify", [*VERIFY, "-o", "junit"], 1),
    # what the outside world reaches, and the LoadBalancer whose metrics port the policy shuts
    ("demo_exposure", "exposure.txt", "exposure", [], 0),
    ("demo_exposure", "exposure.json", "exposure", ["-o", "json"], 0),
    # the internet-facing webapp compromised: its shortest attack paths into payments
    ("demo_blast", "blast.txt", "blast-radius", BLAST, 0),
    ("demo_blast", "blast.json", "blast-radius", [*BLAST, "-o", "json"], 0),
    ("demo_blast", "blast.dot", "blast-radius", [*BLAST, "-o", "dot"], 0),
    # lint: the ANP and the payments NetworkPolicy each make the other redundant (one may go)
    ("demo_lint", "lint.txt", "lint", [], 1),
    ("demo_lint", "lint.json", "lint", ["-o", "json"], 1),
    ("demo_lint", "lint.sarif", "lint", ["-o", "sarif"], 1),
]


def run(command: str, demo: str, args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, [command, demo, *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("scenario", "filename", "command", "args", "exit_code"),
    CASES,
    ids=[f"{c[0]}/{c[1]}" for c in CASES],
)
def test_golden(
    golden: Golden,
    demo: str,
    scenario: str,
    filename: str,
    command: str,
    args: list[str],
    exit_code: int,
) -> None:
    code, out, err = run(command, demo, args)
    golden(f"{scenario}/{filename}", out)
    assert code == exit_code, err
    assert err == "", "the demo loads without notices or warnings"


def test_goldens_do_not_depend_on_the_checkout_location(demo_dir: Path) -> None:
    repo = str(demo_dir.parents[1])
    mine = {c[0] for c in CASES}  # other test files keep their own scenarios' goldens
    files = [p for p in GOLDEN_ROOT.glob("demo_*/*") if p.is_file() and p.parent.name in mine]
    assert len(files) == len({(c[0], c[1]) for c in CASES})
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert repo not in text, path
        assert text.strip(), path


# --- what the goldens must say, checked on live output ------------------------------------


def test_connectivity_reports_the_gap(demo: str) -> None:
    code, out, _ = run("connectivity", demo, [])
    assert code == 0
    assert "frontend/webapp[Deployment] => shop/postgres[StatefulSet] : TCP 5432\n" in out
    # and keeps payments closed to the webapp
    assert "frontend/webapp[Deployment] => payments/" not in out
    assert "shop/checkout[Deployment] => payments/payment-service[Deployment] : TCP 8443\n" in out


def test_connectivity_json_matches_txt(demo: str) -> None:
    _, txt, _ = run("connectivity", demo, [])
    _, js, _ = run("connectivity", demo, ["-o", "json"])
    rows = [f"{r['src']} => {r['dst']} : {r['conn']}" for r in json.loads(js)["connections"]]
    assert rows == txt.splitlines()


def test_connectivity_dot_clusters_namespaces(demo: str) -> None:
    _, dot, _ = run("connectivity", demo, ["-o", "dot"])
    for ns in ("frontend", "shop", "payments", "monitoring", "kube-system"):
        assert f'label="namespace {ns}"' in dot
    assert dot.count("subgraph cluster_") == 5
    assert (
        '"198.51.100.0-198.51.100.255[External]" [label="198.51.100.0-198.51.100.255", shape=ellipse'
        in dot
    )


def test_gap_reach_names_both_policies(demo: str) -> None:
    code, out, _ = run("reach", demo, GAP)
    assert code == 0
    assert out.startswith(
        "ALLOWED frontend/webapp[Deployment] -> shop/postgres[StatefulSet]  TCP 5432\n"
    )
    assert "[NP frontend/webapp-egress#2 Allow] (examples/demo/policies/frontend.yaml:" in out
    assert "[NP shop/postgres-allow-shop-tenant#0 Allow] (examples/demo/policies/shop.yaml:" in out
    _, js, _ = run("reach", demo, [*GAP, "-o", "json"])
    doc = json.loads(js)
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "ReachDecision"
    assert doc["verdict"] == "Allow"
    assert doc["allowed"] == "TCP 5432"


def test_denied_reach(demo: str) -> None:
    code, out, _ = run("reach", demo, DENIED)
    assert code == 1
    assert out.startswith("DENIED ")
    assert "NP payments/default-deny-all" in out
    _, js, _ = run("reach", demo, [*DENIED, "-o", "json"])
    doc = json.loads(js)
    assert doc["verdict"] == "Deny"
    assert doc["allowed"] == "No Connections"


def test_focus_postgres_only_touches_postgres(demo: str) -> None:
    code, out, _ = run("connectivity", demo, FOCUS)
    assert code == 0
    lines = out.splitlines()
    assert lines
    assert all("shop/postgres[StatefulSet]" in line for line in lines)
    _, everything, _ = run("connectivity", demo, [])
    assert lines == [line for line in everything.splitlines() if "shop/postgres[" in line]


def test_verify_fails_only_on_the_gap(demo: str) -> None:
    code, out, _ = run("verify", demo, [*VERIFY, "-o", "json"])
    assert code == 1
    doc = json.loads(out)
    assert doc["kind"] == "VerificationReport"
    violated = [f for f in doc["findings"] if f["status"] == "violated"]
    assert [f["id"] for f in violated] == ["shop/deny[0]"]
    assert violated[0]["flows"][0]["src"] == "frontend/webapp[Deployment]"
    assert violated[0]["flows"][0]["dst"] == "shop/postgres[StatefulSet]"
