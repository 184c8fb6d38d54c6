"""`microseg identity` and the mesh options of reach/connectivity/stats, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

runner = CliRunner()


@pytest.fixture
def demo(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    repo = demo_dir.parents[1]
    monkeypatch.chdir(repo)
    return str(demo_dir.relative_to(repo))


def test_identity_json(demo: str) -> None:
    result = runner.invoke(app, ["identity", demo, "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "IdentityReport"
    assert any(f["code"] == "plaintext-caller" for f in doc["findings"])


def test_identity_trust_domain(demo: str) -> None:
    result = runner.invoke(app, ["identity", demo, "--trust-domain", "corp.example"])
    assert result.exit_code == 0
    assert "spiffe://corp.example/ns/shop/sa/api-gateway" in result.stdout


def test_bad_trust_domain_and_layer_exit_2(demo: str) -> None:
    result = runner.invoke(app, ["identity", demo, "--trust-domain", "a/b"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["reach", demo, "--from", "a/b", "--to", "c/d", "--layer", "l7"])
    assert result.exit_code == 2
    assert "--layer 'l7': expected network, mesh or both" in result.stderr


def test_reach_two_layer_chain(demo: str) -> None:
    args = ["reach", demo, "--from", "monitoring/prometheus", "--to", "shop/api-gateway"]
    result = runner.invoke(app, [*args, "--port", "TCP/9100"])
    assert result.exit_code == 1
    assert (
        "[NP shop/allow-prometheus-scrape#0 Allow] + [mTLS STRICT shop: plaintext rejected]"
        in result.stdout
    )
    network = runner.invoke(app, [*args, "--port", "TCP/9100", "--layer", "network"])
    assert network.exit_code == 0
    assert "mesh" not in network.stdout


def test_reach_carries_l7_conditions(demo: str) -> None:
    args = ["reach", demo, "--from", "frontend/webapp", "--to", "shop/api-gateway"]
    result = runner.invoke(app, [*args, "--port", "TCP/8080", "-o", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["layer"] == "both"
    (cond,) = doc["conditions"]
    assert cond["conn"] == "TCP 8080"
    assert cond["requires"] == ["{methods: GET|POST, paths: /api/*}"]
    text = runner.invoke(app, [*args, "--port", "TCP/8080"]).stdout
    assert "TCP 8080 {methods: GET|POST, paths: /api/*}" in text.splitlines()[0]
    assert (
        "[AuthZ shop/api-gateway-allow rule 0 ALLOW principal cluster.local/ns/frontend/sa/webapp"
        in text
    )


def test_connectivity_layers(demo: str) -> None:
    both = runner.invoke(app, ["connectivity", demo]).stdout
    network = runner.invoke(app, ["connectivity", demo, "--layer", "network"]).stdout
    line = "monitoring/prometheus[Deployment] => shop/api-gateway[Deployment] : TCP 9100"
    assert line in network
    assert line not in both
