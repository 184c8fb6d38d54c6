"""Quarantine plans proven by the engine: before, the compromised pod reaches what its
policies allow; after, nothing but the kept exceptions, both directions."""

from __future__ import annotations

from dataclasses import replace

import pytest

import microseg
from microseg.analyses.runtime.quarantine import (
    QUARANTINE_LABEL,
    Detach,
    Keep,
    plan_quarantine,
)
from microseg.engine import Connectivity
from microseg.model.sets import ConnSet, Protocol
from tests.conftest import DEMO

POD = "webapp-7d9f8b6c5-x7k2p"


@pytest.fixture(scope="module")
def conn() -> Connectivity:
    return Connectivity.build(microseg.load([str(DEMO)]))


def template(conn: Connectivity) -> int:
    return next(
        i
        for i, p in enumerate(conn.cluster.pods)
        if str(p.workload) == "frontend/webapp[Deployment]"
    )


def after(conn: Connectivity, plan: object) -> Connectivity:
    for change in plan.changes:  # type: ignore[attr-defined]
        conn = conn.apply(change)
    return conn


def test_before_the_pod_reaches_the_database(conn: Connectivity) -> None:
    assert conn.reach("frontend/webapp", "shop/postgres").allowed == ConnSet.single(
        Protocol.TCP, 5432
    )


def test_with_anp_only_dns_is_left(conn: Connectivity) -> None:
    plan = plan_quarantine(conn, "a1", "frontend", POD, template(conn), Keep(), anp=True)
    assert plan.proof.holds
    assert plan.admin is not None
    assert plan.admin.priority == 0
    assert [(k.direction, k.peer) for k in plan.proof.kept] == [
        ("egress", "kube-system/coredns[Deployment]")
    ]
    assert plan.proof.kept[0].conns == ConnSet.single(Protocol.UDP, 53) | ConnSet.single(
        Protocol.TCP, 53
    )
    # The public ingress NetworkPolicy admits the internet on 8080 and no ANP can deny
    # addresses: the pod's labels had to go.
    assert plan.detached
    assert plan.labels_after == {QUARANTINE_LABEL: "a1"}
    assert any(r.direction == "ingress" and "0.0.0.0" in r.peer for r in plan.attached)
    # The engine's verdicts afterwards, pair by pair.
    q = after(conn, plan)
    me = f"frontend/{POD}"
    assert not q.reach(me, "shop/postgres").allowed
    assert not q.reach(me, "shop/api-gateway").allowed
    assert not q.reach("203.0.113.7", me).allowed
    assert q.reach(me, "kube-system/coredns").allowed == plan.proof.kept[0].conns
    # The other replicas keep their connectivity.
    assert q.reach("frontend/webapp", "shop/postgres").allowed


def test_forensics_namespace_is_kept_both_ways(conn: Connectivity) -> None:
    plan = plan_quarantine(
        conn, "a2", "frontend", POD, template(conn), Keep(forensics="monitoring"), anp=True
    )
    assert plan.proof.holds
    assert {(k.direction, k.peer) for k in plan.proof.kept} >= {
        ("egress", "monitoring/prometheus[Deployment]"),
        ("ingress", "monitoring/prometheus[Deployment]"),
    }


def test_never_detach_reports_what_stays_open(conn: Connectivity) -> None:
    plan = plan_quarantine(
        conn, "a3", "frontend", POD, template(conn), Keep(), anp=False, detach=Detach.NEVER
    )
    assert not plan.proof.holds
    assert not plan.detached
    open_ = {(r.direction, r.peer) for r in plan.proof.residual}
    assert ("egress", "shop/postgres[StatefulSet]") in open_
    first = next(r for r in plan.proof.residual if r.peer == "shop/postgres[StatefulSet]")
    assert first.decision is not None
    assert first.decision.allowed


def test_priority_skips_taken_numbers(conn: Connectivity) -> None:
    plan = plan_quarantine(
        conn,
        "a4",
        "frontend",
        POD,
        template(conn),
        Keep(),
        anp=True,
        taken_priorities=frozenset({0, 1}),
    )
    assert plan.admin is not None
    assert plan.admin.priority == 2


def test_a_listed_pod_is_relabelled(conn: Connectivity) -> None:
    c = conn.cluster
    t = template(conn)
    pod = replace(c.pods[t], name=POD, from_template=False)
    live = Connectivity.build(replace(c, pods=(*c.pods, pod)))
    plan = plan_quarantine(live, "a5", "frontend", POD, len(c.pods), Keep(), anp=True)
    assert type(plan.changes[-1]).__name__ == "RelabelPod"
    assert plan.proof.holds
