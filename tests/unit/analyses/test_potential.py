"""`potential_exposure` on small clusters whose answers are read off their policies by hand:
the entire cluster, potential peers (and which ones are not listed), the tier order,
unresolvable named ports, unprotected workloads; and how the lines are written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.analyses.potential import ExposureEntry, PortSet, Potential, potential_exposure
from microseg.analyses.potential.peers import full_match, potential_peers
from microseg.engine import Connectivity
from microseg.ingest import load
from microseg.model import ConnSet, Protocol
from microseg.model.netpol import Direction
from microseg.model.selectors import LabelSelector, Operator, Requirement
from microseg.render.potential import format_port_set, peer_label

WEB = "shop/web[Pod]"
BASE = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers:
  - name: c
    image: x
    ports:
    - {name: http, containerPort: 8080}
    - {name: dns, containerPort: 53, protocol: UDP}
"""


def _exposure(tmp_path: Path, *docs: str) -> list[ExposureEntry]:
    path = tmp_path / "c.yaml"
    path.write_text("\n---\n".join([BASE, *(textwrap.dedent(d) for d in docs)]))
    conn = Connectivity.build(load([str(path)]))
    return list(potential_exposure(conn).entries)


def _of(entries: list[ExposureEntry], direction: Direction) -> dict[str, str]:
    return {
        peer_label(e.peer): format_port_set(e.ports) for e in entries if e.direction is direction
    }


NP_HEAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
"""


def test_a_rule_naming_absent_pods_is_a_potential_peer(tmp_path: Path) -> None:
    entries = _exposure(
        tmp_path,
        NP_HEAD
        + """
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 8080}]
  - from: [{namespaceSelector: {matchLabels: {team: b}}}]
    ports: [{port: dns, protocol: UDP}]
""",
    )
    assert _of(entries, Direction.INGRESS) == {
        # podSelector alone: the policy's namespace, written by its name
        "shop/[pod with {app=api}]": "TCP 8080",
        # a named port resolves on the real destination
        "[namespace with {team=b}]/[all pods]": "UDP 53",
    }
    # Egress: no policy selects web there, so it is open to everything.
    assert _of(entries, Direction.EGRESS) == {"entire-cluster": "All Connections"}


def test_whole_cluster_rules_and_peers_they_cover(tmp_path: Path) -> None:
    entries = _exposure(
        tmp_path,
        NP_HEAD
        + """
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 8080}]
  - from: [{namespaceSelector: {matchLabels: {team: b}}}]
    ports: [{port: 8080}]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: b}}}]
    ports: [{port: http}]
""",
    )
    # team=b gets exactly what the whole cluster gets: not repeated.
    assert _of(entries, Direction.INGRESS) == {"entire-cluster": "TCP 8080"}
    # A name towards pods that do not exist stays a name.
    assert _of(entries, Direction.EGRESS) == {"[namespace with {team=b}]/[all pods]": "TCP http"}


ANP = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: anp}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  egress:
  - {name: deny-x, action: Deny, to: [{namespaces: {matchLabels: {house: x}}}], ports: [{portNumber: {port: 9090}}]}
  - {name: pass-y, action: Pass, to: [{namespaces: {matchLabels: {house: y}}}]}
  - {name: all, action: Allow, to: [{namespaces: {}}]}
"""


def test_an_earlier_deny_carves_a_peer_out_of_the_whole_cluster(tmp_path: Path) -> None:
    entries = _exposure(tmp_path, ANP)
    egress = _of(entries, Direction.EGRESS)
    assert egress["entire-cluster"] == "All Connections"
    assert egress["[namespace with {house=x}]/[all pods]"] == (
        "SCTP 1-65535,TCP 1-9089,9091-65535,UDP 1-65535"
    )
    # Pass hands house=y to the tiers below; nothing below isolates web: allowed, as the
    # whole cluster is, so not repeated.
    assert "[namespace with {house=y}]/[all pods]" not in egress


def test_an_earlier_deny_of_everything_is_no_connections(tmp_path: Path) -> None:
    entries = _exposure(tmp_path, ANP.replace(", ports: [{portNumber: {port: 9090}}]", ""))
    assert (
        _of(entries, Direction.EGRESS)["[namespace with {house=x}]/[all pods]"] == "No Connections"
    )


def test_an_admin_named_port_to_the_whole_cluster_names_no_protocol(tmp_path: Path) -> None:
    anp = ANP.replace(
        "  - {name: all, action: Allow, to: [{namespaces: {}}]}",
        "  - {name: all, action: Allow, to: [{namespaces: {}}], ports: [{namedPort: http}]}\n"
        "  - {name: rest, action: Deny, to: [{namespaces: {}}]}",
    )
    entries = _exposure(tmp_path, anp)
    wide = next(e for e in entries if e.peer is None and e.direction is Direction.EGRESS)
    assert wide.ports == PortSet(ConnSet.none(), frozenset({(None, "http")}))
    assert format_port_set(wide.ports) == "http"


def test_unprotected_workloads_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE)
    result = potential_exposure(Connectivity.build(load([str(path)])))
    assert set(result.unprotected) == {(WEB, Direction.EGRESS), (WEB, Direction.INGRESS)}


def test_a_potential_peer_a_real_pod_stands_for_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        BASE
        + "---\n"
        + NP_HEAD
        + """
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
  - from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [web, api]}]}}]
"""
    )
    peers = potential_peers(load([str(path)]))
    # app=web in shop is the real pod web; `app in (web,api)` may be pods to come.
    assert [str(p.pods) for p in peers] == ["app in (api,web)"]


def test_equal_selectors_are_one_peer_and_full_match_wants_equality() -> None:
    a = LabelSelector((Requirement("app", Operator.IN, frozenset({"x"})),))
    b = LabelSelector.from_labels({"app": "x"})
    wider = LabelSelector((Requirement("app", Operator.IN, frozenset({"x", "y"})),))
    assert full_match(a, b)
    assert full_match(LabelSelector(), wider)  # an empty rule selector matches any
    assert not full_match(wider, a)
    assert not full_match(a, None)
    # Requirements that are a subset are another selector, not this potential peer's.
    narrower = LabelSelector.from_labels({"app": "x", "tier": "front"})
    assert not full_match(a, narrower)
    assert not full_match(narrower, a)
    ns = LabelSelector.from_labels({"kubernetes.io/metadata.name": "shop"})
    assert Potential(ns, a, "shop").namespace_name() == "shop"
    assert peer_label(Potential(LabelSelector(), a)) == "[all namespaces]/[pod with {app=x}]"


@pytest.mark.parametrize(
    ("ports", "text"),
    [
        (PortSet(ConnSet.all(), frozenset({(Protocol.TCP, "x")})), "All Connections"),
        (PortSet(), "No Connections"),
        (
            PortSet(
                ConnSet.single(Protocol.TCP, 80), frozenset({(Protocol.TCP, "http"), (None, "n")})
            ),
            "n,TCP 80,http",
        ),
    ],
)
def test_port_sets_are_written_in_the_connlist_grammar(ports: PortSet, text: str) -> None:
    assert format_port_set(ports) == text
