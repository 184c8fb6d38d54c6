"""`connectivity --exposure`: the list, then the exposure section; the JSON document's shape;
dot refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from microseg.cli.app import app

runner = CliRunner()

CLUSTER = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: pay}}, podSelector: {matchLabels: {app: web}}}]
    ports: [{port: http}]
"""


def _run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "c.yaml"
    path.write_text(CLUSTER)
    result = runner.invoke(app, ["connectivity", str(path), "--exposure", *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_lists_potential_peers_and_unprotected_directions(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path)
    assert code == 0
    exposure = out[out.index("Exposure Analysis Result:") :]
    assert (
        "shop/api[Deployment] \t<= \t[namespace with {team=pay}]/[pod with {app=web}] : TCP 8080"
        in exposure
    )
    assert "shop/api[Deployment] \t=> \tentire-cluster : All Connections" in exposure
    assert "shop/api[Deployment] is not protected on Egress" in exposure


def test_json_adds_an_exposure_object(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["kind"] == "ConnectivityList"
    assert {
        "src": "[namespace with {team=pay}]/[pod with {app=web}]",
        "dst": "shop/api[Deployment]",
        "conn": "TCP 8080",
    } in doc["exposure"]["ingress"]
    assert {"workload": "shop/api[Deployment]", "direction": "Egress"} in doc["exposure"][
        "unprotected"
    ]
    assert isinstance(doc["connections"], list)


def test_dot_has_no_exposure_form(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, "-o", "dot")
    assert code == 2
    assert out == ""
    assert "--exposure has no dot form" in err
