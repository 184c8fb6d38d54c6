"""Istio's automatic protocol selection (istio.io "Protocol Selection"): on a port whose
protocol no Service declares, the sidecar sniffs HTTP, so an ALLOW rule with HTTP fields
can match there, but only if the traffic is HTTP. Online Boutique's checkoutservice ->
paymentservice gRPC call is the case that found it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.engine import Connectivity, Verdict
from microseg.engine.explain.mesh_reasons import evaluate
from microseg.ingest import load
from microseg.model import Cluster, ConnSet, Protocol
from microseg.render.reach import decision_text

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: boutique, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: payment, namespace: boutique, labels: {app: paymentservice}}
spec:
  serviceAccountName: paymentservice
  containers: [{name: server, image: i, ports: [{containerPort: 50051}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: checkout, namespace: boutique, labels: {app: checkoutservice}}
spec:
  serviceAccountName: checkoutservice
  containers: [{name: server, image: i}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: paymentservice, namespace: boutique}
spec:
  selector: {matchLabels: {app: paymentservice}}
  action: ALLOW
  rules:
    - from: [{source: {principals: [cluster.local/ns/boutique/sa/checkoutservice]}}]
      to: [{operation: {methods: [POST], paths: [/hipstershop.PaymentService/Charge]}}]
"""
SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: paymentservice, namespace: boutique}}
spec:
  selector: {{app: paymentservice}}
  ports: [{{{port}port: 50051, targetPort: 50051}}]
"""
CLAUSE = "{methods: POST, paths: /hipstershop.PaymentService/Charge}"
GRPC = ConnSet.single(Protocol.TCP, 50051)


def _cluster(tmp_path: Path, service_port: str | None) -> Cluster:
    text = BASE
    if service_port is not None:
        text += "---\n" + textwrap.dedent(SERVICE.format(port=service_port))
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return load([str(path)])


def _answer(cluster: Cluster) -> tuple[bool, tuple[str, ...]]:
    pods = {p.name: p for p in cluster.pods}
    verdict, _ = evaluate(cluster, pods["checkout"], pods["payment"], Protocol.TCP, 50051)
    conn = Connectivity.build(cluster)
    d = conn.reach("boutique/checkout", "boutique/payment", GRPC)
    # The fast table and the reference agree, verdict and condition alike.
    assert (d.verdict is Verdict.ALLOW) == verdict.allowed
    table = tuple(r for c, v in d.conditions if c & GRPC for r in v.requires)
    assert table == (verdict.requires if verdict.allowed else ())
    return verdict.allowed, verdict.requires


@pytest.mark.parametrize(
    "service_port",
    [None, "", "name: server, ", "name: web-50051, "],
    ids=["no-service", "unnamed", "name-without-protocol", "unknown-prefix"],
)
def test_sniffed_port_allows_if_the_traffic_is_http(
    tmp_path: Path, service_port: str | None
) -> None:
    allowed, requires = _answer(_cluster(tmp_path, service_port))
    assert allowed
    assert requires == (f"if HTTP {CLAUSE}",)


def test_declared_grpc_port_allows_on_its_l7_condition(tmp_path: Path) -> None:
    allowed, requires = _answer(_cluster(tmp_path, "name: grpc, "))
    assert allowed
    assert requires == (CLAUSE,)


@pytest.mark.parametrize("declared", ["name: tcp-grpc, ", "appProtocol: tcp, ", "name: mongo, "])
def test_port_declared_tcp_never_matches_http_rules(tmp_path: Path, declared: str) -> None:
    allowed, _ = _answer(_cluster(tmp_path, declared))
    assert not allowed


def test_reach_says_the_verdict_is_conditional_on_http(tmp_path: Path) -> None:
    conn = Connectivity.build(_cluster(tmp_path, None))
    text = decision_text(conn.reach("boutique/checkout", "boutique/payment", GRPC))
    head = text.splitlines()[0]
    assert head.startswith("ALLOWED ")
    assert head.endswith(f"TCP 50051 if HTTP {CLAUSE}")
    assert f"only if HTTP {CLAUSE}" in text
    assert "protocol detected at run time" in text
