"""The fast engine equals the reference evaluator on random clusters.

Through the front door: each random cluster is written as YAML, loaded by `microseg.load`
and compiled by the engine, while the reference (engine/spec/netpol.py) reads the same
documents itself, so ingest's defaults (policyTypes, empty peer lists, `except`, named
ports, namespaces, workload templates) are held to an independent reading too. Both sides
must also agree on which endpoints exist.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import microseg
from microseg.engine import Connectivity, Verdict
from microseg.engine.connectivity import Endpoint
from microseg.engine.options import EngineOptions, HostNetwork
from microseg.engine.spec.netpol import Reference
from microseg.engine.spec.world import Endpoint as Pod
from microseg.engine.spec.world import World
from microseg.model import Cluster, ConnSet, IPSet
from microseg.model.sets import BASE_PROTOCOLS
from tests.property.clusters import clusters
from tests.property.documents import PROBE_ADDRESSES, cluster_documents, dump, probe_ports

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_text(text: str) -> Cluster:
    """`microseg.load` on the text written to a file, as a user would run it."""
    with tempfile.TemporaryDirectory(prefix="microseg-prop-") as folder:
        path = Path(folder) / "cluster.yaml"
        path.write_text(text, encoding="utf-8")
        return microseg.load([str(path)])


def check(docs: list[dict[str, object]], host_network: str) -> None:
    text = dump(docs)
    cluster = load_text(text)
    options = EngineOptions(HostNetwork.POD if host_network == "pod" else HostNetwork.NODE)
    conn = Connectivity.build(cluster, options)
    world = World.read(list(yaml.safe_load_all(text)))
    reference = Reference(world, host_network)
    mine = {e.key: e for e in world.endpoints}
    theirs = {(p.namespace, p.name): i for i, p in enumerate(cluster.pods)}
    assert set(mine) == set(theirs), "ingest and the reference see different endpoints"
    ends: list[tuple[Pod | str, Endpoint]] = [
        (mine[key], Endpoint(f"{key[0]}/{key[1]}", klass=int(conn.classes.pod_class[i])))
        for key, i in sorted(theirs.items())
    ]
    ends += [(a, Endpoint(a, addresses=IPSet.from_address(a))) for a in PROBE_ADDRESSES]
    ports = probe_ports(docs)
    for src_ref, src in ends:
        for dst_ref, dst in ends:
            if isinstance(src_ref, str) and isinstance(dst_ref, str):
                continue
            fast, _ = conn.allowed(src, dst)
            for proto in BASE_PROTOCOLS:
                for port in ports:
                    want = reference.allowed(src_ref, dst_ref, proto.value, port)
                    got = fast.contains(proto, port)
                    assert got == want, (
                        f"{src.name} -> {dst.name} {proto.value}/{port}: engine {got}, "
                        f"reference {want}\n{text}"
                    )


@FAST
@given(cluster_documents())
def test_engine_equals_reference(docs: list[dict[str, object]]) -> None:
    check(docs, "node")


@FAST
@given(cluster_documents())
def test_engine_equals_reference_host_network_as_pods(docs: list[dict[str, object]]) -> None:
    check(docs, "pod")


@pytest.mark.slow
@SLOW
@given(cluster_documents(max_pods=8, max_policies=7))
def test_engine_equals_reference_many(docs: list[dict[str, object]]) -> None:
    check(docs, "node")
    check(docs, "pod")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_explanations_account_for_the_verdict(cluster: Cluster) -> None:
    """The steps of each direction's trace, computed from the policies, add up to what the
    allow tables say; a verdict without a port is ALLOW iff something is allowed."""
    conn = Connectivity.build(cluster)
    eps = [
        Endpoint(f"{p.namespace}/{p.name}", klass=int(conn.classes.pod_class[i]))
        for i, p in enumerate(cluster.pods)
    ]
    for src in eps:
        for dst in eps:
            d = conn.reach(src, dst)
            if d.networks is not None:  # different primary networks: nothing, whatever
                assert d.allowed == ConnSet.none()  # the two directions' policies say
            else:
                assert d.egress.allowed & d.ingress.allowed == d.allowed
            assert (d.verdict is Verdict.ALLOW) == bool(d.allowed)
            for trace in (d.egress, d.ingress):
                union = ConnSet.none()
                for step in trace.steps:
                    if step.effect is Verdict.ALLOW:
                        union = union | step.conns
                assert union == trace.allowed
