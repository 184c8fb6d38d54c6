"""Primary-network isolation in the engine (engine/index/networks.py and its use in
engine/connectivity.py): pods on different primary networks never connect, pods of one
network still follow the policies, external addresses and the ingress controller are not cut."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from microseg.engine import Connectivity
from microseg.engine.index.networks import ANY_NETWORK, DEFAULT_NETWORK
from microseg.engine.index.packed import pack
from microseg.engine.query import Verdict
from microseg.ingest import load
from microseg.model import ConnSet, Protocol
from microseg.model.cluster import Cluster

LABEL = "k8s.ovn.org/primary-user-defined-network"


def _ns(name: str, udn: str | None = None, tenant: str = "") -> str:
    labels = {LABEL: "''"} if udn or tenant else {}
    if tenant:
        labels["tenant"] = tenant
    text = f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
    if labels:
        text += "  labels: {" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}\n"
    if udn:
        text += (
            "---\napiVersion: k8s.ovn.org/v1\nkind: UserDefinedNetwork\n"
            f"metadata: {{name: {udn}, namespace: {name}}}\n"
            "spec: {topology: Layer2, layer2: {role: Primary}}\n"
        )
    return text


def _pod(ns: str, name: str) -> str:
    return (
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, "
        f"labels: {{app: {name}}}}}\n"
    )


CUDN = """\
---
apiVersion: k8s.ovn.org/v1
kind: ClusterUserDefinedNetwork
metadata: {name: shared}
spec:
  namespaceSelector: {matchLabels: {tenant: t1}}
  network: {topology: Layer3, layer3: {role: Primary}}
"""
# Only TCP 80 into green/a, from anywhere.
NP = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: green}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: 80}]}]
"""


def _cluster(tmp_path: Path, text: str) -> Cluster:
    path = tmp_path / "in.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load([str(path)])


def _input() -> str:
    return (
        _ns("blue", "net-b")
        + _ns("green", "net-g")
        + _ns("red", tenant="t1")
        + _ns("yellow", tenant="t1")
        + _ns("plain")
        + CUDN
        + NP
        + "".join(
            _pod(ns, name)
            for ns, name in [
                ("blue", "a"),
                ("green", "a"),
                ("green", "b"),
                ("red", "a"),
                ("yellow", "a"),
                ("plain", "a"),
            ]
        )
    )


def test_each_class_gets_its_namespace_network(tmp_path: Path) -> None:
    conn = Connectivity.build(_cluster(tmp_path, _input()))
    iso = conn.isolation
    assert iso is not None
    named = {}
    for k, rep in enumerate(conn.classes.reps):
        network = iso.network_of(k)
        named[f"{rep.namespace}/{rep.name}"] = network.qualified_name if network else None
    assert named == {
        "blue/a": "blue/net-b",
        "green/a": "green/net-g",
        "green/b": "green/net-g",
        "red/a": "shared",
        "yellow/a": "shared",
        "plain/a": None,
    }
    plain = next(k for k, r in enumerate(conn.classes.reps) if r.namespace == "plain")
    assert int(iso.class_network[plain]) == DEFAULT_NETWORK


def test_pairs_across_networks_are_cut_and_within_follow_policies(tmp_path: Path) -> None:
    conn = Connectivity.build(_cluster(tmp_path, _input()))
    tcp80 = ConnSet.single(Protocol.TCP, 80)
    assert conn.reach("green/b", "green/a").allowed == tcp80  # the NP still decides inside
    assert conn.reach("green/a", "green/b").allowed == ConnSet.all()
    assert conn.reach("red/a", "yellow/a").allowed == ConnSet.all()  # one CUDN, two namespaces
    for src, dst in [
        ("blue/a", "green/a"),
        ("green/a", "blue/a"),
        ("plain/a", "blue/a"),
        ("blue/a", "plain/a"),
        ("red/a", "green/b"),
        ("plain/a", "yellow/a"),
    ]:
        decision = conn.reach(src, dst)
        assert decision.allowed == ConnSet.none(), (src, dst)
        assert decision.verdict is Verdict.DENY
        assert decision.networks is not None
    split = conn.reach("plain/a", "blue/a").networks
    assert split is not None
    assert split.src.kind == ""
    assert split.dst.kind == "UDN"
    assert split.dst.name == "blue/net-b"
    assert (split.dst.role, split.dst.topology) == ("Primary", "Layer2")
    assert conn.reach("green/b", "green/a").networks is None


def test_matrices_agree_with_the_queries(tmp_path: Path) -> None:
    conn = Connectivity.build(_cluster(tmp_path, _input()))
    iso = conn.isolation
    assert iso is not None
    p2p = conn.pod_to_pod()
    same = iso.same()
    assert not p2p[~same].any()
    assert p2p[same].any()
    pairs, to_ext, from_ext = conn.packed_matrices()
    assert np.array_equal(pairs, pack(p2p))
    # External addresses are not on any pod network: policies alone decide (the oracle's
    # `0.0.0.0-255.255.255.255[External] => blue[udn]/webserver[Pod] : All Connections`).
    assert np.array_equal(to_ext, pack(conn.to_external()))
    assert conn.to_external().all()
    cols = iso.columns(len(conn.ips))
    assert cols.shape == (conn.n_classes, conn.n_classes + len(conn.ips))
    assert cols[:, conn.n_classes :].all()
    assert np.array_equal(cols[:, : conn.n_classes], same)
    assert from_ext.shape[0] == conn.n_classes


def test_external_addresses_reach_udn_pods(tmp_path: Path) -> None:
    conn = Connectivity.build(_cluster(tmp_path, _input()))
    assert conn.reach("203.0.113.7", "blue/a").allowed == ConnSet.all()
    assert conn.reach("blue/a", "203.0.113.7").allowed == ConnSet.all()
    assert conn.reach("203.0.113.7", "blue/a").networks is None


def test_no_primary_network_means_no_isolation(tmp_path: Path) -> None:
    text = _ns("blue") + _ns("green") + _pod("blue", "a") + _pod("green", "a")
    conn = Connectivity.build(_cluster(tmp_path, text))
    assert conn.isolation is None
    assert conn.reach("blue/a", "green/a").allowed == ConnSet.all()


def test_ingress_controller_is_on_every_network(tmp_path: Path) -> None:
    text = (
        _ns("green", "net-g")
        + """\
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: green, labels: {app: a}}
spec: {containers: [{name: c, ports: [{containerPort: 8080}]}]}
"""
        + """\
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: green}
spec:
  selector: {app: a}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: green}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
"""
    )
    conn = Connectivity.build(_cluster(tmp_path, text))
    iso = conn.isolation
    assert iso is not None
    assert conn.classes.controller is not None
    assert int(iso.class_network[conn.classes.controller]) == ANY_NETWORK
    assert iso.same()[conn.classes.controller].all()
