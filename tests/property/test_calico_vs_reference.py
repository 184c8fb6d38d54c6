"""The fast engine equals Calico's reference evaluator (engine/spec/calico.py) on random
Calico clusters, for every pod, host endpoint and probe address, on probe connections of
every protocol; and `reach`'s explanation (walked per query from the policies) allows
exactly what the tables allow."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from microseg.engine import Connectivity
from microseg.engine.connectivity import Endpoint
from microseg.engine.options import EngineOptions, HostNetwork
from microseg.engine.spec.calico import calico_allowed
from microseg.model import Cluster, IPSet
from microseg.model.netpol import Direction
from tests.property.calico_clusters import PROBE_ADDRESSES, PROBES, calico_clusters

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(cluster: Cluster, options: EngineOptions) -> None:
    conn = Connectivity.build(cluster, options)
    pods = [
        Endpoint(str(p.workload), klass=int(conn.classes.pod_class[i]))
        for i, p in enumerate(cluster.pods)
    ]
    ends: list[tuple[object, Endpoint]] = list(zip(cluster.pods, pods, strict=True))
    ends += [(a, Endpoint(a, addresses=IPSet.from_address(a))) for a in PROBE_ADDRESSES]
    for src_ref, src in ends:
        for dst_ref, dst in ends:
            if src.klass is None and dst.klass is None:
                continue
            fast, _ = conn.allowed(src, dst)
            decision = conn.reach(src, dst)
            explained = decision.egress.allowed & decision.ingress.allowed
            assert explained == fast, (src.name, dst.name, explained, fast)
            for proto, port in PROBES:
                want = calico_allowed(
                    cluster, src_ref, dst_ref, proto, port, options.host_network.value
                )  # type: ignore[arg-type]
                got = fast.contains(proto, port)
                assert got == want, (
                    f"{src.name} -> {dst.name} {proto.value}/{port}: engine {got}, reference {want}"
                )


@FAST
@given(calico_clusters())
def test_engine_equals_calico_reference(cluster: Cluster) -> None:
    _check(cluster, EngineOptions())


@FAST
@given(calico_clusters(max_pods=3, max_policies=3))
def test_engine_equals_calico_reference_host_network_as_pods(cluster: Cluster) -> None:
    _check(cluster, EngineOptions(HostNetwork.POD))


@pytest.mark.slow
@SLOW
@given(calico_clusters(max_pods=7, max_policies=8))
def test_engine_equals_calico_reference_many(cluster: Cluster) -> None:
    _check(cluster, EngineOptions())


def _matrices(cluster: Cluster) -> tuple[object, ...]:
    """Pod-level connectivity: pairs, and per pod the external ranges in and out merged
    into maximal runs (so two builds with other address cuts compare by meaning)."""
    from microseg.engine import unpack

    conn = Connectivity.build(cluster)
    pairs, out, into = conn.packed_matrices()
    k = conn.classes.pod_class

    def conns(words: object) -> object:
        return conn.ports.to_connset(unpack(words, len(conn.ports)))  # type: ignore[arg-type]

    spans = []
    for a in range(len(conn.ips)):
        s = conn.ips.atom_set(a)
        fam, (lo, hi) = (4, s.v4.intervals[0]) if s.v4 else (6, s.v6.intervals[0])
        spans.append((fam, lo, hi))

    def runs(row: object) -> tuple[object, ...]:
        merged: list[list[object]] = []
        for a, (fam, lo, hi) in enumerate(spans):
            c = conns(row[a])  # type: ignore[index]
            if merged and merged[-1][0] == fam and merged[-1][3] == c:
                merged[-1][2] = hi
            else:
                merged.append([fam, lo, hi, c])
        return tuple(tuple(m) for m in merged)

    pod_pairs = tuple(
        conns(pairs[int(k[i]), int(k[j])]) for i in range(len(k)) for j in range(len(k))
    )
    ext = tuple((runs(out[int(c)]), runs(into[int(c)])) for c in k)
    return pod_pairs, ext


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calico_clusters(max_pods=3, max_policies=4))
def test_lint_redundancy_is_exact(cluster: Cluster) -> None:
    """A rule or policy lint calls redundant (or never reached) can be removed without
    changing connectivity; one it does not call so cannot."""
    from dataclasses import replace

    from microseg.engine import calico_lint_facts

    conn = Connectivity.build(cluster)
    rules, policies = calico_lint_facts(conn)
    base = _matrices(cluster)
    calico = cluster.calico
    for pf in policies:
        p = pf.policy
        if pf.selects_nothing or not hasattr(p, "selector_text"):
            continue
        kept = tuple(q for q in calico.policies if q is not p)
        changed = _matrices(replace(cluster, calico=replace(calico, policies=kept)))
        assert (changed == base) == pf.redundant, (p.ref, pf)
    flagged = {(id(f.policy), f.direction, f.index) for f in rules if f.redundant or f.shadowed}
    empty = {(id(f.policy), f.direction, f.index) for f in rules if f.empty}
    for pf in policies:
        p = pf.policy
        if pf.selects_nothing or pf.redundant or not hasattr(p, "selector_text"):
            continue
        for d in (Direction.INGRESS, Direction.EGRESS):
            if d not in p.types:
                continue
            for rule in p.rules(d):
                if rule.action.value == "Log" or rule.http is not None:
                    continue
                field = "ingress" if d is Direction.INGRESS else "egress"
                smaller = replace(p, **{field: tuple(r for r in p.rules(d) if r is not rule)})
                kept = tuple(smaller if q is p else q for q in calico.policies)
                changed = _matrices(replace(cluster, calico=replace(calico, policies=kept)))
                key = (id(p), d, rule.index)
                if key in flagged or key in empty:
                    assert changed == base, (p.ref, d, rule.index)
                else:
                    assert changed != base, (p.ref, d, rule.index)
