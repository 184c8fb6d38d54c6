"""Kinds are read by (API group, kind): another CNI's policy that reuses a Kubernetes policy
kind's name is skipped with a warning (MS011), never read as, merged with, or counted as a
duplicate of the Kubernetes one."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import Severity
from microseg.ingest import load
from tests.unit.ingest._support import write

K8S_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""

CALICO_POLICY = """\
apiVersion: {api}
kind: NetworkPolicy
metadata: {{name: np, namespace: shop}}
spec:
  selector: all()
  types: [Egress]
  egress:
  - action: Deny
"""

ANTREA_POLICY = """\
apiVersion: crd.antrea.io/v1beta1
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  priority: 5
  appliedTo:
  - podSelector: {}
  egress:
  - action: Drop
    to:
    - ipBlock: {cidr: 0.0.0.0/0}
"""


def test_antrea_policy_of_the_same_name_is_skipped_not_a_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path, "np.yaml", ANTREA_POLICY + "---\n" + K8S_POLICY)
    cluster = load([str(path)])  # no InputError: no MS103
    assert not [d for d in cluster.diagnostics if d.code == "MS103"]
    [warning] = [d for d in cluster.diagnostics if d.code == "MS011"]
    assert warning.severity is Severity.WARNING
    assert "skipped 1 NetworkPolicy object(s) of API group crd.antrea.io" in warning.message
    assert "the connectivity shown ignores these policies" in warning.message
    assert warning.origin is not None
    assert warning.origin.line == 1
    [policy] = cluster.policies
    assert policy.origin.line == ANTREA_POLICY.count("\n") + 2  # the Kubernetes one
    assert policy.egress == ()  # the Antrea egress drop was not merged in


@pytest.mark.parametrize(
    "api", ["projectcalico.org/v3", "crd.projectcalico.org/v1"], ids=["calico-v3", "calico-crd"]
)
def test_calico_policy_of_the_same_name_is_calicos_not_a_duplicate(
    tmp_path: Path, api: str
) -> None:
    """A Calico NetworkPolicy is read as Calico's (ingest/calico.py), beside the Kubernetes
    NetworkPolicy of the same name: neither a duplicate (MS103) nor skipped (MS011)."""
    path = write(tmp_path, "np.yaml", CALICO_POLICY.format(api=api) + "---\n" + K8S_POLICY)
    cluster = load([str(path)])
    assert not [d for d in cluster.diagnostics if d.code in ("MS103", "MS011")]
    [k8s] = cluster.policies
    assert k8s.egress == ()
    [calico] = cluster.calico.policies
    assert (calico.kind, calico.ref, calico.tier) == ("NetworkPolicy", "shop/np", "default")
    assert calico.egress[0].action.value == "Deny"


def test_foreign_policies_are_counted_once_per_group_and_kind(tmp_path: Path) -> None:
    docs = [ANTREA_POLICY, ANTREA_POLICY.replace("name: np", "name: np2")]
    docs.append(
        "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\n"
        "spec: {priority: 1}\n"
    )
    path = write(tmp_path, "np.yaml", "---\n".join(docs))
    cluster = load([str(path)])
    warnings = sorted(d.message for d in cluster.diagnostics if d.code == "MS011")
    assert len(warnings) == 2
    assert warnings[0].startswith(
        "skipped 1 ClusterNetworkPolicy object(s) of API group crd.antrea.io"
    )
    assert "policy.networking.k8s.io" in warnings[0]
    assert warnings[1].startswith("skipped 2 NetworkPolicy object(s) of API group crd.antrea.io")
    assert "networking.k8s.io" in warnings[1]
    assert not cluster.policies
    assert not cluster.admin_policies


def test_a_typed_list_passes_its_api_version_to_its_items(tmp_path: Path) -> None:
    text = """\
    apiVersion: projectcalico.org/v3
    kind: NetworkPolicyList
    items:
    - metadata: {name: np, namespace: shop}
      spec: {selector: all()}
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicyList
    items:
    - metadata: {name: np, namespace: shop}
      spec: {podSelector: {}}
    """
    cluster = load([str(write(tmp_path, "lists.yaml", text))])
    assert [p.name for p in cluster.policies] == ["np"]
    assert [p.kind for p in cluster.calico.policies] == ["NetworkPolicy"]  # Calico's


def test_untyped_list_items_without_api_version_are_read_by_kind(tmp_path: Path) -> None:
    text = """\
    apiVersion: v1
    kind: List
    items:
    - kind: NetworkPolicy
      metadata: {name: np, namespace: shop}
      spec: {podSelector: {}}
    - kind: Namespace
      metadata: {name: shop}
    """
    cluster = load([str(write(tmp_path, "list.yaml", text))])
    assert [p.name for p in cluster.policies] == ["np"]
    assert [n.name for n in cluster.namespaces if n.declared] == ["shop"]


def test_core_kinds_are_still_read_under_a_stray_group(tmp_path: Path) -> None:
    # netpol-analyzer's own corpus writes `apps/v1` Pods; they are read as before.
    pod = "apiVersion: apps/v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {}\n"
    cluster = load([str(write(tmp_path, "pod.yaml", pod))])
    assert [p.name for p in cluster.pods] == ["p"]
    assert not [d for d in cluster.diagnostics if d.code in ("MS010", "MS011")]
