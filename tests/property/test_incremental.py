"""`Connectivity.apply(change)` equals `Connectivity.build` on the changed cluster.

Random small clusters (guardrail tiers included) get random sequences of changes: policies
created, replaced and deleted, pods created, relabelled and deleted, namespaces created,
relabelled and deleted. After the sequence, the incrementally updated index and a rebuild
must give the same connectivity list, the same counts (up to the index's own shape: class
and atom counts), and the same explained decision for every pair of pods and for external
probes. Both ways of holding tables are covered: never materialised, and materialised
before the first change (then patched in place by every update).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microseg.analyses.stats import compute_stats
from microseg.engine import Connectivity, WorkloadGraph
from microseg.model import Cluster
from microseg.model.changes import (
    Change,
    ChangeError,
    DeleteNamespace,
    DeletePod,
    DeletePolicy,
    PutNamespace,
    PutPod,
    PutPolicy,
    RelabelPod,
    apply_change,
)
from microseg.render.connlist import connlist_rows, render_connlist
from tests.property.clusters import (
    NAMESPACES,
    NS_LABEL_VALUES,
    POD_LABELS,
    PROBE_ADDRESSES,
    admin_policies,
    clusters,
    labels,
    pods,
    policies,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def change_for(draw: st.DrawFn, cluster: Cluster, serial: int) -> Change:
    kinds = ["put-policy", "put-pod", "put-namespace"]
    if cluster.policies:
        kinds += ["replace-policy", "delete-policy"]
    if cluster.pods:
        kinds += ["relabel-pod", "relabel-pod", "delete-pod", "replace-pod"]
    if cluster.admin_policies:
        kinds += ["delete-admin"]
    kinds += ["put-admin", "delete-namespace"]
    kind = draw(st.sampled_from(kinds))
    if kind == "put-policy":
        return PutPolicy(draw(policies(100 + serial)))
    if kind == "replace-policy":
        old = draw(st.sampled_from(cluster.policies))
        new = draw(policies(0))
        return PutPolicy(replace(new, namespace=old.namespace, name=old.name))
    if kind == "delete-policy":
        old = draw(st.sampled_from(cluster.policies))
        return DeletePolicy("NetworkPolicy", old.name, old.namespace)
    if kind == "put-admin":
        made = draw(admin_policies())
        if not made:
            return PutNamespace(NAMESPACES[0], draw(labels(NS_LABEL_VALUES)))
        return PutPolicy(draw(st.sampled_from(made)))
    if kind == "delete-admin":
        old_admin = draw(st.sampled_from(cluster.admin_policies))
        return DeletePolicy(old_admin.kind, old_admin.name)
    if kind == "put-pod":
        return PutPod(draw(pods(100 + serial)))
    if kind == "replace-pod":  # same name, anything else may change (ports, workload, ...)
        pod = draw(st.sampled_from(cluster.pods))
        fresh = draw(pods(100 + serial))
        return PutPod(replace(fresh, namespace=pod.namespace, name=pod.name))
    if kind == "relabel-pod":
        pod = draw(st.sampled_from(cluster.pods))
        return RelabelPod(pod.namespace, pod.name, draw(POD_LABELS))
    if kind == "delete-pod":
        pod = draw(st.sampled_from(cluster.pods))
        return DeletePod(pod.namespace, pod.name)
    if kind == "put-namespace":
        name = draw(st.sampled_from((*NAMESPACES, "ns-new")))
        return PutNamespace(name, draw(labels(NS_LABEL_VALUES)))
    present = [ns.name for ns in cluster.namespaces]
    if not present:
        return PutNamespace("ns-new", {})
    return DeleteNamespace(draw(st.sampled_from(present)))


def _connlist(conn: Connectivity) -> str:
    return render_connlist(connlist_rows(WorkloadGraph.build(conn)), "txt")


def _counts(conn: Connectivity) -> dict[str, object]:
    s = compute_stats(conn)
    out = {f: getattr(s, f) for f in s.__dataclass_fields__}
    for index_shape in ("classes", "port_atoms", "ip_atoms"):
        out.pop(index_shape)
    return out


def _decisions(conn: Connectivity) -> list[object]:
    names = [f"{p.namespace}/{p.name}" for p in conn.cluster.pods if not p.from_template]
    out: list[object] = []
    for a in names:
        for b in [*names, *PROBE_ADDRESSES[:2]]:
            out.append(conn.reach(a, b))
    return out


def _assert_same(incremental: Connectivity, rebuilt: Connectivity) -> None:
    assert incremental.cluster == rebuilt.cluster
    assert _connlist(incremental) == _connlist(rebuilt)
    assert _counts(incremental) == _counts(rebuilt)
    assert _decisions(incremental) == _decisions(rebuilt)


@FAST
@given(clusters(max_pods=6, max_policies=4), st.booleans(), st.data())
def test_apply_equals_rebuild(cluster: Cluster, dense: bool, data: st.DataObject) -> None:
    conn = Connectivity.build(cluster)
    if dense:
        _ = conn.ingress.bits, conn.egress.bits
    for serial in range(data.draw(st.integers(1, 6))):
        change = data.draw(change_for(conn.cluster, serial))
        try:
            expected = apply_change(conn.cluster, change)
        except ChangeError:
            # The change names a missing object (the only refusal the model makes): the
            # incremental path must refuse it the same way, leaving the index as it was.
            with pytest.raises(ChangeError):
                conn.apply(change)
            continue
        conn = conn.apply(change)
        assert conn.cluster == expected
    _assert_same(conn, Connectivity.build(conn.cluster))


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_pods=8, max_policies=6), st.booleans(), st.data())
def test_apply_equals_rebuild_many(cluster: Cluster, dense: bool, data: st.DataObject) -> None:
    test_apply_equals_rebuild.hypothesis.inner_test(cluster, dense, data)  # type: ignore[attr-defined]
