"""`microseg simulate` on the demo: observed flows replayed against the policies and a
proposal, with exit 1 when something observed would break."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

runner = CliRunner()

FLOWS = """src,dst,protocol,port,count,first_seen,last_seen,verdict
frontend/webapp,shop/postgres,TCP,5432,12,2026-11-20T10:00:00Z,2026-11-20T11:00:00Z,forwarded
frontend/webapp,shop/postgres,TCP,22,1,2026-11-20T10:00:00Z,,dropped
203.0.113.7,frontend/webapp,TCP,8080,4,,,forwarded
nowhere/ghost,shop/postgres,TCP,5432,1,,,forwarded
"""

LOCKDOWN = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: postgres-allow-shop-tenant
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: postgres
  policyTypes: [Ingress]
  ingress: []
"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    (tmp_path / "f.csv").write_text(FLOWS)
    path = str(tmp_path / "f.duckdb")
    got = runner.invoke(app, ["flows", "import", str(tmp_path / "f.csv"), "--db", path])
    assert got.exit_code == 0, got.output
    return path


def test_current_policies_allow_what_was_seen(db: str, demo_dir: Path) -> None:
    got = runner.invoke(app, ["simulate", str(demo_dir), "--flows", db, "-o", "json", "-q"])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert doc["kind"] == "SimulationReport"
    assert doc["breaks"] is False
    assert doc["keys"] == 4
    assert doc["replayed"] == 3
    assert doc["unresolvedEndpoints"] == ["nowhere/ghost"]
    (denied,) = doc["denied"]["items"]
    assert (denied["port"], denied["recorded"]) == (22, "dropped")
    assert denied["decision"]["verdict"] == "Deny"
    assert doc["disagreements"]["total"] == 0
    hit = {(h["policy"], h["rule"]) for h in doc["ruleHits"]}
    assert ("shop/postgres-allow-shop-tenant", 0) in hit
    assert "shop/redis[Deployment]" in doc["unobservedWorkloads"]


def test_a_proposal_that_breaks_observed_traffic(db: str, demo_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(LOCKDOWN)
    args = ["simulate", str(demo_dir), "--flows", db, "--with", str(tmp_path / "p.yaml"), "-q"]
    got = runner.invoke(app, args)
    assert got.exit_code == 1, got.output
    assert got.stdout.startswith("WOULD BREAK 1 observed flow keys: the proposal denies them")
    assert "Newly denied by the proposal (1 keys):" in got.stdout
    junit = runner.invoke(app, [*args, "-o", "junit"])
    assert junit.exit_code == 1
    assert 'failures="1"' in junit.stdout
    assert "frontend/webapp[Deployment] -&gt; shop/postgres[StatefulSet] TCP 5432" in junit.stdout


def test_missing_store(demo_dir: Path, tmp_path: Path) -> None:
    got = runner.invoke(app, ["simulate", str(demo_dir), "--flows", str(tmp_path / "x")])
    assert got.exit_code == 2
    assert "no such flow store" in got.stderr
