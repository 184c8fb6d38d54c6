"""Observed endpoints resolved against a snapshot: pods by name and IP, workloads, Calico
aggregated names, Service ClusterIPs to backends with targetPorts, nodes, the rest."""

from __future__ import annotations

from microseg.model import Cluster, FrozenLabels
from microseg.model.flows import EndpointKind, EndpointResolver
from microseg.model.objects import ContainerPort, Node, Pod, Service, ServicePort, WorkloadKey
from microseg.model.sets import Protocol

WEB = WorkloadKey("shop", "web", "Deployment")
DB = WorkloadKey("shop", "db", "StatefulSet")
PODS = (
    Pod("shop", "web-5d8f9c-abcde", FrozenLabels({"app": "web"}), WEB, ips=("10.244.1.10",)),
    Pod(
        "shop",
        "db-0",
        FrozenLabels({"app": "db"}),
        DB,
        ports=(ContainerPort(Protocol.TCP, 5432, "pg"),),
        ips=("10.244.2.20", "fd00::20"),
    ),
    Pod(
        "kube-system",
        "agent",
        FrozenLabels(),
        WorkloadKey("kube-system", "agent", "DaemonSet"),
        host_network=True,
        host_ip="192.168.0.5",
    ),
)
SVC = Service(
    "shop",
    "db",
    FrozenLabels({"app": "db"}),
    ports=(ServicePort(Protocol.TCP, 80, "pg"), ServicePort(Protocol.TCP, 81, 9999)),
    cluster_ips=("10.96.0.20",),
)
CLUSTER = Cluster(
    pods=PODS,
    services=(SVC,),
    nodes=(Node("node-1", FrozenLabels(), ("192.168.0.5",)),),
)


def test_each_step() -> None:
    r = EndpointResolver(CLUSTER)
    assert r.resolve("shop", "db-0", "", "").pods == (1,)
    assert r.resolve("", "", "", "10.244.2.20").name == "shop/db[StatefulSet]"
    assert r.resolve("", "", "", "fd00:0::20").pods == (1,)
    assert r.resolve("shop", "", "web[Deployment]", "").pods == (0,)
    assert r.resolve("shop", "web-5d8f9c-*", "", "").name == "shop/web[Deployment]"
    assert r.resolve("shop", "web-5d8f9c-zzzzz", "", "").name == "shop/web[Deployment]"
    node = r.resolve("kube-system", "agent", "", "")
    assert (node.kind, node.name, node.ip) == (EndpointKind.NODE, "node-1", "192.168.0.5")
    assert r.resolve("", "", "", "192.168.0.5").kind is EndpointKind.NODE
    ext = r.resolve("", "pub", "", "203.0.113.9")
    assert (ext.kind, ext.ip) == (EndpointKind.EXTERNAL, "203.0.113.9")
    assert r.resolve("ghost", "x", "", "").kind is EndpointKind.UNRESOLVED
    assert r.resolve("", "", "", "not-an-ip").kind is EndpointKind.UNRESOLVED


def test_service_ports_map_to_target_ports() -> None:
    r = EndpointResolver(CLUSTER)
    svc = r.resolve("", "", "", "10.96.0.20")
    assert (svc.kind, svc.pods) == (EndpointKind.SERVICE, (1,))
    assert svc.target_port(r.named_ports, 1, Protocol.TCP, 80) == 5432  # named targetPort
    assert svc.target_port(r.named_ports, 1, Protocol.TCP, 81) == 9999
    assert svc.target_port(r.named_ports, 1, Protocol.TCP, 82) is None  # no such port


def test_a_csv_name_is_a_workload_or_else_a_pod() -> None:
    """CSV's `ns/name` reaches the resolver as a workload name; a pod's name is also valid
    there (README: "a pod or a workload"), found once no workload has that name."""
    r = EndpointResolver(CLUSTER)
    assert r.resolve("shop", "", "db-0", "").pods == (1,)
    assert r.resolve("shop", "", "web-5d8f9c-abcde", "").name == "shop/web[Deployment]"
    assert r.resolve("shop", "", "db", "").name == "shop/db[StatefulSet]"
    assert r.resolve("shop", "", "db-0[Pod]", "").kind is EndpointKind.UNRESOLVED


def test_host_network_as_pod() -> None:
    r = EndpointResolver(CLUSTER, host_network_as_node=False)
    assert r.resolve("kube-system", "agent", "", "").pods == (2,)
