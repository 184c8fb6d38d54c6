"""Adding an allow rule to a policy never removes connectivity."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.engine import Connectivity
from microseg.model import Cluster, Direction
from tests.property.clusters import clusters, rules

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
    assert (before.pod_to_pod() <= after.pod_to_pod()).all()
    assert (before.to_external() <= after.to_external()).all()
    assert (before.from_external() <= after.from_external()).all()
