"""Adding an allow rule to a policy never removes connectivity."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.engine import Connectivity
from microseg.engine.connectivity import Endpoint
from microseg.model import Cluster, Direction, IPSet
from tests.property.clusters import PROBE_ADDRESSES, clusters, rules

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data(), clusters(max_policies=3))
def test_adding_a_rule_never_removes_connectivity(data: st.DataObject, cluster: Cluster) -> None:
    if not cluster.policies:
        return
    i = data.draw(st.integers(0, len(cluster.policies) - 1))
    policy = cluster.policies[i]
    direction = data.draw(st.sampled_from(sorted(policy.policy_types, key=lambda d: d.value)))
    extra = data.draw(rules(policy.namespace, direction))
    if direction is Direction.INGRESS:
        bigger = replace(policy, ingress=policy.ingress + extra)
    else:
        bigger = replace(policy, egress=policy.egress + extra)
    before = Connectivity.build(cluster)
    after = Connectivity.build(
        replace(cluster, policies=(*cluster.policies[:i], bigger, *cluster.policies[i + 1 :]))
    )
    # Atoms differ between the two builds, so compare connection sets, not matrices.
    for x, y in _endpoint_pairs(cluster, before, after):
        assert before.allowed(*x)[0] <= after.allowed(*y)[0]


def _endpoint_pairs(
    cluster: Cluster, before: Connectivity, after: Connectivity
) -> list[tuple[tuple[Endpoint, Endpoint], tuple[Endpoint, Endpoint]]]:
    def ends(conn: Connectivity) -> list[Endpoint]:
        pods = [
            Endpoint(p.name, klass=int(conn.classes.pod_class[k]))
            for k, p in enumerate(cluster.pods)
        ]
        return pods + [Endpoint(a, addresses=IPSet.from_address(a)) for a in PROBE_ADDRESSES]

    b, a = ends(before), ends(after)
    return [
        ((b[s], b[d]), (a[s], a[d]))
        for s in range(len(b))
        for d in range(len(b))
        if b[s].klass is not None or b[d].klass is not None
    ]
