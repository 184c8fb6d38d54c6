"""Cases the random change sequences rarely reach, each once a bug of `Connectivity.apply`
(found by review): every one compares the incremental index with a rebuild."""

from __future__ import annotations

import pytest

from microseg.analyses.stats import compute_stats
from microseg.engine import Connectivity, UnknownEndpointError, WorkloadGraph
from microseg.engine.views import blocks
from microseg.model import (
    Cluster,
    ContainerPort,
    Direction,
    FrozenLabels,
    IPBlockPeer,
    IPSet,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Operator,
    Pod,
    PortSpec,
    Protocol,
    Requirement,
    Rule,
    Workload,
    WorkloadKey,
)
from microseg.model.changes import Change, DeletePolicy, PutPod, PutPolicy, RelabelPod
from microseg.render.connlist import connlist_rows, render_connlist

NS = Namespace("ns-a", FrozenLabels({"kubernetes.io/metadata.name": "ns-a"}))


def _pod(
    name: str,
    workload: str | None = None,
    ports: tuple[ContainerPort, ...] = (),
    from_template: bool = False,
    **labels: str,
) -> Pod:
    key = WorkloadKey("ns-a", workload or name, "Deployment" if workload else "Pod")
    return Pod("ns-a", name, FrozenLabels(labels), key, ports, from_template=from_template)


def _sel(**labels: str) -> LabelSelector:
    return LabelSelector(
        tuple(Requirement(k, Operator.IN, frozenset([v])) for k, v in labels.items())
    )


def _cluster(pods: list[Pod], policies: tuple[NetworkPolicy, ...] = ()) -> Cluster:
    workloads = tuple(dict.fromkeys(Workload(p.workload) for p in pods))
    return Cluster(namespaces=(NS,), workloads=workloads, pods=tuple(pods), policies=policies)


def _connlist(conn: Connectivity) -> str:
    return render_connlist(connlist_rows(WorkloadGraph.build(conn)), "txt")


def _same_after(conn: Connectivity, changes: list[Change]) -> None:
    for change in changes:
        conn = conn.apply(change)
    assert _connlist(conn) == _connlist(Connectivity.build(conn.cluster))


def _tables(cluster: Cluster, mode: str) -> Connectivity:
    conn = Connectivity.build(cluster)
    if mode == "dense":
        _ = conn.ingress.bits, conn.egress.bits
    else:
        _ = conn.reach(f"ns-a/{cluster.pods[0].name}", f"ns-a/{cluster.pods[0].name}")
    return conn


@pytest.mark.parametrize("mode", ["dense", "lazy"])
def test_a_group_left_without_targets_keeps_its_address_columns_in_step(mode: str) -> None:
    everywhere = IPBlockPeer("0.0.0.0/0", (), IPSet.from_cidr("0.0.0.0/0"))
    policy = NetworkPolicy(
        "ns-a",
        "p",
        _sel(app="web"),
        frozenset([Direction.INGRESS]),
        ingress=(Rule((everywhere,), None, 0),),
    )
    conn = _tables(_cluster([_pod("web", app="web")], (policy,)), mode)
    changes: list[Change] = [
        DeletePolicy("NetworkPolicy", "p", "ns-a"),
        PutPod(_pod("db", app="db")),  # a new class: the address columns move up
        PutPolicy(policy),
    ]
    _same_after(conn, changes)


def test_a_group_left_without_targets_after_counts_on_lazy_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blocks, "DENSE_BYTES", 0)
    everywhere = IPBlockPeer("0.0.0.0/0", (), IPSet.from_cidr("0.0.0.0/0"))
    policy = NetworkPolicy(
        "ns-a",
        "p",
        _sel(app="web"),
        frozenset([Direction.INGRESS]),
        (Rule((everywhere,), None, 0),),
    )
    conn = Connectivity.build(_cluster([_pod("web", app="web")], (policy,)))
    compute_stats(conn)  # caches the group spans
    assert not conn.ingress.materialised
    _same_after(
        conn,
        [
            DeletePolicy("NetworkPolicy", "p", "ns-a"),
            PutPod(_pod("db", app="db")),
            PutPolicy(policy),
        ],
    )


@pytest.mark.parametrize("mode", ["dense", "lazy"])
def test_a_named_port_no_rule_uses_any_more_still_gets_its_own_atom(mode: str) -> None:
    def http(n: int) -> ContainerPort:
        return ContainerPort(Protocol.TCP, n, "http")

    policy = NetworkPolicy(
        "ns-a",
        "p",
        LabelSelector(()),
        frozenset([Direction.INGRESS]),
        ingress=(Rule(None, (PortSpec(Protocol.TCP, name="http"),), 0),),
    )
    conn = _tables(_cluster([_pod("a", ports=(http(8080),), app="a")], (policy,)), mode)
    changes: list[Change] = [
        DeletePolicy("NetworkPolicy", "p", "ns-a"),
        PutPod(_pod("b", ports=(http(9090),), app="b")),
        PutPolicy(policy),
    ]
    _same_after(conn, changes)


@pytest.mark.parametrize("before", [True, False])
def test_a_pod_switching_to_or_from_a_template_is_named_as_a_rebuild_names_it(
    before: bool,
) -> None:
    def pod(template: bool) -> Pod:
        return _pod("w-7f9c", workload="w", from_template=template, app="web")

    conn = Connectivity.build(_cluster([pod(before), _pod("o", app="db")]))
    updated = conn.apply(PutPod(pod(not before)))
    rebuilt = Connectivity.build(updated.cluster)
    answers = []
    for c in (updated, rebuilt):
        try:
            c.reach("ns-a/w-7f9c", "ns-a/o")
            answers.append("answers")
        except UnknownEndpointError:
            answers.append("unknown")
    assert answers[0] == answers[1]


def test_a_workload_counts_as_isolated_only_when_all_its_pods_are() -> None:
    allow_all = NetworkPolicy(
        "ns-a",
        "open",
        _sel(app="web"),
        frozenset([Direction.INGRESS]),
        ingress=(Rule(None, None, 0),),
    )
    pods = [_pod("w-1", workload="w"), _pod("w-2", workload="w")]
    conn = Connectivity.build(_cluster(pods, (allow_all,)))
    updated = conn.apply(RelabelPod("ns-a", "w-1", {"app": "web"}))
    rebuilt = Connectivity.build(updated.cluster)
    swapped = Connectivity.build(_cluster(list(updated.cluster.pods[::-1]), (allow_all,)))
    counts = {compute_stats(c).isolated_ingress for c in (updated, rebuilt, swapped)}
    assert counts == {0}  # one of its two pods is selected: the workload is not isolated
