"""Staged policies enforced: Set replaces or adds the twin of the enforced kind, Delete
removes it, and nothing staged is left."""

from __future__ import annotations

from microseg.model import Cluster, LabelSelector, NetworkPolicy
from microseg.model.calico import CalicoConfig, CalicoPolicy
from microseg.model.calico_selector import All
from microseg.model.netpol import Direction
from microseg.model.staged import enforce_staged

INGRESS = frozenset({Direction.INGRESS})


def _policy(
    kind: str, name: str, ns: str = "shop", action: str = "", tier: str = "default"
) -> CalicoPolicy:
    return CalicoPolicy(kind, name, ns, tier, None, All(), INGRESS, staged_action=action)


def test_set_delete_and_kubernetes() -> None:
    k8s = NetworkPolicy("shop", "np", LabelSelector(), INGRESS)
    cluster = Cluster(
        policies=(k8s,),
        calico=CalicoConfig(
            present=True,
            policies=(
                _policy("NetworkPolicy", "a"),
                _policy("GlobalNetworkPolicy", "g", ns=""),
                _policy("StagedNetworkPolicy", "a", action="Set", tier="security"),
                _policy("StagedGlobalNetworkPolicy", "g", ns="", action="Delete"),
                _policy("StagedNetworkPolicy", "new", action="Set"),
                CalicoPolicy(
                    "StagedKubernetesNetworkPolicy",
                    "np",
                    "shop",
                    "default",
                    1000.0,
                    All(),
                    frozenset(),
                    staged_action="Delete",
                ),
            ),
        ),
    )
    out = enforce_staged(cluster)
    assert not out.calico.staged
    assert out.policies == ()
    got = {(p.kind, p.ref, p.tier) for p in out.calico.policies}
    assert got == {
        ("NetworkPolicy", "shop/a", "security"),
        ("NetworkPolicy", "shop/new", "default"),
    }
    assert enforce_staged(out) is out  # nothing staged: the same cluster
