"""`generate` on random clusters and random allow intents meets the intents exactly: every
allow intent holds (`verify` on the cluster plus the set), and nothing is allowed in or out
of the intents' scope beyond them (the strict-domain excess is 0), unless a workload's
stable labels are shared with a neighbour, which the builder reports."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.analyses.synth.intents import generate
from microseg.model import Cluster, Protocol
from microseg.model.intent import FlowIntent, FlowKind, GroupSpec, IntentPort, IntentSet
from microseg.model.networks import Networks
from tests.property.clusters import NAMESPACES, POD_SELECTORS, clusters

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CIDRS = ("203.0.113.0/24", "198.51.100.7/32", "10.20.0.0/16")


@st.composite
def groups(draw: st.DrawFn, cluster: Cluster, name: str) -> GroupSpec:
    kind = draw(st.sampled_from(["workload", "namespace", "selector", "cidr"]))
    if kind == "workload":
        w = draw(st.sampled_from(cluster.workloads))
        return GroupSpec(name, workload=f"{w.key.namespace}/{w.key.name}")
    if kind == "namespace":
        sel = draw(st.none() | POD_SELECTORS)
        return GroupSpec(name, namespace=draw(st.sampled_from(NAMESPACES)), selector=sel)
    if kind == "selector":
        return GroupSpec(name, selector=draw(POD_SELECTORS))
    return GroupSpec(name, cidrs=(draw(st.sampled_from(CIDRS)),))


PORTS = st.lists(
    st.builds(
        lambda p, n, w: IntentPort(p, n, n + w),
        st.sampled_from([Protocol.TCP, Protocol.UDP]),
        st.sampled_from([53, 80, 443, 8080]),
        st.sampled_from([0, 0, 10]),
    ),
    max_size=2,
).map(tuple)


@FAST
@given(clusters(tiers=False), st.data())
def test_generated_set_meets_the_intents_exactly(cluster: Cluster, data: st.DataObject) -> None:
    pods = tuple(replace(p, host_network=False) for p in cluster.pods)
    cluster = replace(cluster, pods=pods, policies=(), networks=Networks())
    specs = [data.draw(groups(cluster, f"g{i}")) for i in range(data.draw(st.integers(2, 4)))]
    flows = []
    for k in range(data.draw(st.integers(1, 4))):
        a, b = data.draw(st.sampled_from(specs)), data.draw(st.sampled_from(specs))
        if a.cidrs and b.cidrs:
            continue
        flows.append(FlowIntent(FlowKind.ALLOW, "t", k, a.name, b.name, data.draw(PORTS)))
    intents = IntentSet(tuple(specs), tuple(flows), files=("t.yaml",))
    result = generate(cluster, intents)
    holding = {f.id: f for f in result.report.findings}
    for flow in flows:
        finding = holding[flow.id]
        if "is empty" in finding.message:
            continue  # a group that selects nothing: verify's own finding, not the set's
        assert finding.holds, (
            flow,
            finding.message,
            [str(r.src) + "->" + str(r.dst) for r in finding.rows[:3]],
        )
    shared = any(c.neighbours for _, c in result.selectors)
    if not shared:
        assert result.excess.total == 0, [
            (str(r.src), str(r.dst), r.conns) for r in result.excess.rows[:5]
        ]
