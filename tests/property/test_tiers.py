"""Laws of the guardrail tiers, on random clusters written as documents: each law holds for
the fast engine (loaded through `microseg.load`) and for the reference evaluator reading the
documents, and the two agree on every probed connection of the changed cluster.

The laws, from the network-policy-api reference (https://network-policy-api.sigs.k8s.io/api-overview/):
an admin Deny above every other admin policy is final; a Pass above all hands the decision to
the tiers below as if the admin tier said nothing, even past lower admin Denies; the baseline
tier never changes a pod that a NetworkPolicy isolates.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.engine import Connectivity
from microseg.engine.connectivity import Endpoint
from microseg.engine.spec.netpol import Reference
from microseg.engine.spec.world import Endpoint as Pod
from microseg.engine.spec.world import World
from microseg.model import ConnSet, IntervalSet, Protocol
from microseg.model.sets import BASE_PROTOCOLS
from tests.property.documents import (
    ADMIN_PODS,
    NS_SELECTORS,
    PORT_NUMBERS,
    cluster_documents,
    dump,
    probe_ports,
)
from tests.property.test_engine_vs_reference import load_text

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Doc = dict[str, Any]

SUBJECTS = st.one_of(
    st.builds(lambda n: {"namespaces": n}, NS_SELECTORS),
    st.builds(lambda p: {"pods": p}, ADMIN_PODS),
)
# The ports a law is about, as the ANP writes them and as a connection set.
PORTS = st.lists(
    st.builds(
        lambda proto, lo, hi: (proto, min(lo, hi), max(lo, hi)),
        st.sampled_from(("TCP", "UDP", "SCTP")),
        st.sampled_from(PORT_NUMBERS),
        st.integers(1, 65535),
    ),
    min_size=1,
    max_size=2,
)


class Side:
    """One cluster as both evaluators see it."""

    def __init__(self, docs: list[Doc]) -> None:
        text = dump(docs)
        self.docs = docs
        cluster = load_text(text)
        self.conn = Connectivity.build(cluster)
        self.ref = Reference(World.read(list(yaml.safe_load_all(text))))
        mine = {e.key: e for e in self.ref.world.endpoints}
        self.pods: list[tuple[Pod, Endpoint]] = [
            (
                mine[(p.namespace, p.name)],
                Endpoint(p.name, klass=int(self.conn.classes.pod_class[i])),
            )
            for i, p in enumerate(cluster.pods)
        ]

    def engine(self, i: int, j: int) -> ConnSet:
        return self.conn.allowed(self.pods[i][1], self.pods[j][1])[0]

    def reference(self, i: int, j: int, ports: list[int]) -> ConnSet:
        src, dst = self.pods[i][0], self.pods[j][0]
        out = ConnSet.none()
        for proto in BASE_PROTOCOLS:
            for port in ports:
                if self.ref.allowed(src, dst, proto.value, port):
                    out = out | ConnSet.single(proto, port)
        return out

    def subject(self, subject: Doc, j: int) -> bool:
        return self.ref._subject(subject, self.pods[j][0])


def _conns(ports: list[tuple[str, int, int]]) -> ConnSet:
    out = ConnSet.none()
    for proto, lo, hi in ports:
        out = out | ConnSet.of({Protocol(proto): IntervalSet.span(lo, hi)})
    return out


def _anp(
    name: str, priority: int, subject: Doc, action: str, ports: list[tuple[str, int, int]] | None
) -> Doc:
    rule: Doc = {"name": "r0", "action": action, "from": [{"namespaces": {}}]}
    if ports is not None:
        rule["ports"] = [
            {"portRange": {"protocol": p, "start": lo, "end": hi}} for p, lo, hi in ports
        ]
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"priority": priority, "subject": subject, "ingress": [rule]},
    }


def _shifted(docs: list[Doc]) -> list[Doc]:
    """Existing admin-tier policies moved to priorities 1-999, so a test can put one above
    and one below all of them."""
    out = copy.deepcopy(docs)
    k = 0
    for d in out:
        if d["kind"] == "AdminNetworkPolicy" or (
            d["kind"] == "ClusterNetworkPolicy" and d["spec"]["tier"] == "Admin"
        ):
            k += 1
            d["spec"]["priority"] = k
    return out


def _agree(side: Side, i: int, j: int, ports: list[int]) -> ConnSet:
    """The engine's answer, after checking the reference gives the same on `ports`."""
    engine = side.engine(i, j)
    sampled = ConnSet.none()
    for proto in BASE_PROTOCOLS:
        for port in ports:
            if engine.contains(proto, port):
                sampled = sampled | ConnSet.single(proto, port)
    assert side.reference(i, j, ports) == sampled, (i, j, dump(side.docs))
    return engine


@FAST
@given(cluster_documents(), SUBJECTS, PORTS)
def test_highest_priority_deny_is_never_overridden(
    docs: list[Doc], subject: Doc, ports: list[tuple[str, int, int]]
) -> None:
    side = Side([*_shifted(docs), _anp("top-deny", 0, subject, "Deny", ports)])
    denied = _conns(ports)
    probes = probe_ports(side.docs)
    for i, (src, _) in enumerate(side.pods):
        for j in range(len(side.pods)):
            allowed = _agree(side, i, j, probes)
            # Host-network sources are node traffic, which a `namespaces` peer does not match.
            if side.subject(subject, j) and not src.host_network:
                assert not (allowed & denied)


@FAST
@given(cluster_documents(), SUBJECTS, PORTS)
def test_pass_hands_the_decision_down_past_lower_denies(
    docs: list[Doc], subject: Doc, ports: list[tuple[str, int, int]]
) -> None:
    plain_docs = [
        d
        for d in _shifted(docs)
        if d["kind"] != "AdminNetworkPolicy"
        and not (d["kind"] == "ClusterNetworkPolicy" and d["spec"]["tier"] == "Admin")
    ]
    plain = Side(plain_docs)
    passing = Side(
        [
            *plain_docs,
            _anp("top-pass", 0, subject, "Pass", ports),
            _anp("bottom-deny", 1000, subject, "Deny", None),
        ]
    )
    scope = _conns(ports)
    probes = probe_ports(passing.docs)
    for i in range(len(plain.pods)):
        for j in range(len(plain.pods)):
            a, b = _agree(plain, i, j, probes), _agree(passing, i, j, probes)
            if passing.subject(subject, j):
                assert a & scope == b & scope


@FAST
@given(cluster_documents(), SUBJECTS, PORTS, st.sampled_from(("Allow", "Deny")))
def test_baseline_never_changes_pods_isolated_by_networkpolicy(
    docs: list[Doc], subject: Doc, ports: list[tuple[str, int, int]], action: str
) -> None:
    rule: Doc = {"name": "extra", "action": action, "from": [{"namespaces": {}}]}
    rule["ports"] = [{"portRange": {"protocol": p, "start": lo, "end": hi}} for p, lo, hi in ports]
    after_docs = copy.deepcopy(docs)
    banp = next((d for d in after_docs if d["kind"] == "BaselineAdminNetworkPolicy"), None)
    if banp is None:
        banp = {
            "apiVersion": "policy.networking.k8s.io/v1alpha1",
            "kind": "BaselineAdminNetworkPolicy",
            "metadata": {"name": "default"},
            "spec": {"subject": subject},
        }
        after_docs.append(banp)
    banp["spec"]["ingress"] = [rule, *(banp["spec"].get("ingress") or [])]
    before, after = Side(docs), Side(after_docs)
    probes = probe_ports(after.docs)
    for i in range(len(before.pods)):
        for j, (dst, endpoint) in enumerate(after.pods):
            a, b = _agree(before, i, j, probes), _agree(after, i, j, probes)
            assert endpoint.klass is not None
            if after.conn.ingress.isolated[endpoint.klass]:
                assert a == b
                assert (
                    after.ref._np_decides(dst, before.pods[i][0], "Ingress", "TCP", 80) is not None
                )
