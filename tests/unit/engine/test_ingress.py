"""The ingress controller's connections: Ingress/Route -> Service -> workloads and target
ports, then the policies, as netpol-analyzer computes them (engine/views/ingress.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from microseg.engine import Connectivity, WorkloadGraph
from microseg.engine.views.ingress import ingress_controller_conns, pod_ports, service_target_ports
from microseg.ingest import load
from microseg.model import ConnSet, ContainerPort, FrozenLabels, Pod, Protocol, WorkloadKey
from microseg.model.cluster import Cluster
from microseg.model.objects import Service, ServicePort
from microseg.render.connlist import connlist_rows


def _cluster(text: str, tmp_path: Path) -> Cluster:
    path = tmp_path / "in.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load([str(path)])


SVC = Service(
    "shop",
    "web",
    FrozenLabels({"app": "web"}),
    ports=(
        ServicePort(Protocol.TCP, 80, "http", "web"),
        ServicePort(Protocol.TCP, 8443, 9443, "tls"),
        ServicePort(Protocol.TCP, 9000, 9000),
    ),
)


def test_asked_port_picks_the_first_matching_service_port() -> None:
    assert service_target_ports(SVC, None, route=False) == ["http", 9443, 9000]
    assert service_target_ports(SVC, 80, route=False) == ["http"]
    assert service_target_ports(SVC, 9443, route=False) == [9443]  # matches the targetPort
    assert service_target_ports(SVC, "tls", route=False) == [9443]
    assert service_target_ports(SVC, 81, route=False) == []


def test_named_target_port_matches_routes_only() -> None:
    # An Ingress port name is a Service port name; a Route's may also be a targetPort name.
    assert service_target_ports(SVC, "http", route=False) == []
    assert service_target_ports(SVC, "http", route=True) == ["http"]


def test_target_ports_resolve_on_the_pod() -> None:
    pod = Pod(
        "shop",
        "p",
        FrozenLabels({"app": "web"}),
        WorkloadKey("shop", "p", "Pod"),
        ports=(
            ContainerPort(Protocol.TCP, 8080, "http"),
            ContainerPort(Protocol.UDP, 53, "dns"),
            ContainerPort(Protocol.UDP, 9000),
        ),
    )
    assert pod_ports(pod, ["http"]) == {8080}
    assert pod_ports(pod, ["dns"]) == set()  # a named port must be TCP
    assert pod_ports(pod, ["nope", 7000]) == set()  # undeclared numbers do not count
    assert pod_ports(pod, [9000]) == {9000}  # any declared container port, as netpol-analyzer


APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        ports: [{name: http, containerPort: 8080}, {containerPort: 9090}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: web, port: 80, targetPort: http}, {name: metrics, port: 9090}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: front, namespace: shop}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
"""


def _rows(cluster: Cluster) -> list[tuple[str, str, str]]:
    graph = WorkloadGraph.build(Connectivity.build(cluster))
    return [r for r in connlist_rows(graph) if r[0] == "{ingress-controller}"]


def test_service_target_port_by_name(tmp_path: Path) -> None:
    cluster = _cluster(APP, tmp_path)
    conn = Connectivity.build(cluster)
    conns = ingress_controller_conns(conn)
    assert list(conns.values()) == [ConnSet.single(Protocol.TCP, 8080)]
    assert _rows(cluster) == [("{ingress-controller}", "shop/web[Deployment]", "TCP 8080")]


def test_policies_see_a_pod_without_labels_in_its_own_namespace(tmp_path: Path) -> None:
    own_ns = """
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: same-ns, namespace: shop}
    spec:
      podSelector: {}
      ingress: [{from: [{podSelector: {}}]}]
    """
    assert _rows(_cluster(APP + textwrap.dedent(own_ns), tmp_path)) == []
    any_ns = """
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: any-ns, namespace: shop}
    spec:
      podSelector: {}
      ingress: [{from: [{namespaceSelector: {}}], ports: [{port: 8080}, {port: 9090}]}]
    """
    rows = _rows(_cluster(APP + textwrap.dedent(any_ns), tmp_path))
    assert rows == [("{ingress-controller}", "shop/web[Deployment]", "TCP 8080")]
    by_name = """
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: controller-ns, namespace: shop}
    spec:
      podSelector: {}
      ingress:
      - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-controller-ns}}}]
    """
    rows = _rows(_cluster(APP + textwrap.dedent(by_name), tmp_path))
    assert rows == [("{ingress-controller}", "shop/web[Deployment]", "TCP 8080")]


def test_no_ingress_objects_no_controller(tmp_path: Path) -> None:
    cluster = _cluster(APP.split("---\napiVersion: networking.k8s.io/v1")[0], tmp_path)
    conn = Connectivity.build(cluster)
    assert conn.classes.controller is None
    assert ingress_controller_conns(conn) == {}
    assert _rows(cluster) == []
