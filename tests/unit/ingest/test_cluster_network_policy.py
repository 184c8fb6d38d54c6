"""ClusterNetworkPolicy (v1alpha2) reads into the same internal form as ANP/BANP."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.engine import Connectivity
from microseg.errors import InputError
from microseg.ingest import load
from microseg.model import Action, AdminTier, ConnSet, Protocol

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: b}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cli, namespace: b, labels: {app: cli}}
spec: {containers: [{name: c, image: i}]}
"""

CNP = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
  - name: accept-http
    action: Accept
    from: [{namespaces: {matchLabels: {team: b}}}]
    protocols: [{destinationNamedPort: http}, {udp: {destinationPort: {range: {start: 5000, end: 5010}}}}]
  - name: deny-rest
    action: Deny
    from: [{namespaces: {}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: floor}
spec:
  tier: Baseline
  priority: 1
  subject: {namespaces: {}}
  egress:
  - action: Pass
    to: [{networks: [10.0.0.0/8]}]
  - action: Deny
    to: [{networks: [0.0.0.0/0]}]
    protocols: [{tcp: {}}]
"""


def _write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "c.yaml"
    f.write_text(text)
    return str(f)


def test_cnp_tiers_actions_and_protocols(tmp_path: Path) -> None:
    cluster = load(_write(tmp_path, BASE + CNP))
    guard, floor = sorted(cluster.admin_policies, key=lambda p: p.name, reverse=True)
    assert (guard.tier, guard.priority, floor.tier) == (AdminTier.ADMIN, 5, AdminTier.BASELINE)
    assert guard.ingress[0].action is Action.ALLOW  # Accept
    conn = Connectivity.build(cluster)
    allowed = conn.reach("b/cli", "a/web").allowed
    assert allowed == ConnSet.single(Protocol.TCP, 8080) | ConnSet.single(Protocol.UDP, 5000, 5010)
    # Baseline Pass skips the remaining baseline rules: the default (allow) decides.
    assert conn.reach("a/web", "10.1.2.3").allowed == ConnSet.all()
    denied = conn.reach("a/web", "8.8.8.8").allowed
    assert not denied & ConnSet.of({Protocol.TCP: ConnSet.all().get(Protocol.TCP)})
    assert denied.get(Protocol.UDP)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("action: Accept\n    from: [{namespaces: {matchLabels: {team: b}}}]", None),
        ("tier: Admin", "spec.tier"),
        ("{destinationNamedPort: http}", "spec.ingress[0].protocols[0]"),
        ("priority: 5", "spec.priority"),
    ],
)
def test_cnp_invalid_fields_are_located(tmp_path: Path, change: str, field: str | None) -> None:
    bad = {
        "tier: Admin": "tier: Cluster",
        "{destinationNamedPort: http}": "{destinationNamedPort: http, tcp: {}}",
        "priority: 5": "priority: 5000",
        "action: Accept\n    from: [{namespaces: {matchLabels: {team: b}}}]": "action: Allow\n    from: [{namespaces: {matchLabels: {team: b}}}]",
    }[change]
    text = BASE + CNP.replace(change, bad, 1)
    with pytest.raises(InputError) as info:
        load(_write(tmp_path, text))
    (diag,) = info.value.diagnostics
    assert diag.code == "MS110"
    assert diag.field == (field or "spec.ingress[0].action")
    assert diag.origin is not None
    assert diag.origin.line is not None


def test_cnp_equal_priorities_warn_not_fail(tmp_path: Path) -> None:
    twin = CNP.split(
        "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: floor}"
    )[0]
    twin = twin.replace("name: guard", "name: guard-2")
    cluster = load(_write(tmp_path, BASE + CNP + twin))
    assert any(d.code == "MS111" and "share priority 5" in d.message for d in cluster.diagnostics)
