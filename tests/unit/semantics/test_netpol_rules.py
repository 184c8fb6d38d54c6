"""NetworkPolicy meaning, one API rule per test, as connectivity answers.

Why: the property tests hold the fast engine equal to the reference evaluator, but both read
the same ingested model, so a wrong default applied at ingest (or a wrong rule written the
same way in both) passes them. These tests are written from the Kubernetes documentation
(kubernetes.io/docs/concepts/services-networking/network-policies/ and the
networking.k8s.io/v1 API reference), not from the code: each loads YAML with
`microseg.load`, asks `Connectivity.reach`, and asserts the verdict and the exact allowed
set. Every test runs through both NetworkPolicy ingest paths (`ingest_path`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.engine import Connectivity
from microseg.engine.query import Verdict
from microseg.model import ConnSet
from tests.unit.semantics._support import ALL, NONE, World, tcp, udp

pytestmark = pytest.mark.usefixtures("ingest_path")

# Namespaces a (team: a) and b (team: b); pods in a: web (the usual destination), client,
# other, db; in b: client, other; and `lone` in `default`, declared without a namespace.
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
spec:
  containers:
  - name: c
    image: i
    ports:
    - {name: http, containerPort: 8080}
    - {name: metrics, containerPort: 9090, protocol: TCP}
    - {name: dns, containerPort: 53, protocol: UDP}
    - {name: pg, containerPort: 6543}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: a, labels: {app: other}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
spec: {containers: [{name: c, image: i, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: b, labels: {app: other}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: lone, labels: {app: lone}}
spec: {containers: [{name: c, image: i}]}
"""

OUTSIDE = "203.0.113.7"


def _np(name: str, spec: str, namespace: str | None = "a") -> str:
    ns = f", namespace: {namespace}" if namespace else ""
    body = textwrap.indent(textwrap.dedent(spec).strip(), "  ")
    return (
        f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: {name}{ns}}}\nspec:\n{body}\n"
    )


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, BASE)


def _allowed(conn: Connectivity, src: str, dst: str) -> ConnSet:
    """The allowed set, checked against the verdict (ALLOW exactly when something is)."""
    decision = conn.reach(src, dst)
    assert (decision.verdict is Verdict.ALLOW) == bool(decision.allowed), (src, dst)
    return decision.allowed


# -- isolation and policyTypes --------------------------------------------------------------
def test_no_policy_allows_everything(world: World) -> None:
    conn = world.build()
    assert _allowed(conn, "a/client", "a/web") == ALL
    assert _allowed(conn, OUTSIDE, "a/web") == ALL
    assert _allowed(conn, "a/web", OUTSIDE) == ALL


def test_policy_types_default_to_ingress_without_egress_rules(world: World) -> None:
    """No policyTypes, no rules: Ingress only, so web's ingress is denied and its egress
    stays open."""
    conn = world.build(_np("deny", "podSelector: {matchLabels: {app: web}}"))
    assert _allowed(conn, "a/client", "a/web") == NONE
    assert _allowed(conn, OUTSIDE, "a/web") == NONE
    assert _allowed(conn, "a/web", "b/other") == ALL
    assert _allowed(conn, "a/web", OUTSIDE) == ALL


def test_policy_types_default_adds_egress_with_egress_rules(world: World) -> None:
    """No policyTypes and only egress rules: ["Ingress", "Egress"]. Ingress is isolated with
    no rule (deny all), egress allows only what the rule says."""
    conn = world.build(
        _np(
            "egress-only",
            """
            podSelector: {matchLabels: {app: web}}
            egress: [{to: [{podSelector: {matchLabels: {app: db}}}]}]
            """,
        )
    )
    assert _allowed(conn, "a/web", "a/db") == ALL
    assert _allowed(conn, "a/web", "a/client") == NONE
    assert _allowed(conn, "a/web", OUTSIDE) == NONE
    assert _allowed(conn, "a/client", "a/web") == NONE
    assert _allowed(conn, OUTSIDE, "a/web") == NONE


def test_policy_types_ingress_rules_alone_leave_egress_open(world: World) -> None:
    conn = world.build(
        _np(
            "ingress-only",
            """
            podSelector: {matchLabels: {app: web}}
            ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
            """,
        )
    )
    assert _allowed(conn, "a/client", "a/web") == ALL
    assert _allowed(conn, "a/other", "a/web") == NONE
    assert _allowed(conn, "a/web", OUTSIDE) == ALL


def test_explicit_policy_types_ignore_the_other_direction_rules(world: World) -> None:
    """policyTypes: [Egress] with ingress rules: the ingress rules do nothing and ingress is
    not isolated; egress is isolated with no rule."""
    conn = world.build(
        _np(
            "egress-typed",
            """
            podSelector: {matchLabels: {app: web}}
            policyTypes: [Egress]
            ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]
            """,
        )
    )
    assert _allowed(conn, "a/other", "a/web") == ALL
    assert _allowed(conn, OUTSIDE, "a/web") == ALL
    assert _allowed(conn, "a/web", "a/client") == NONE


def test_explicit_egress_type_with_empty_egress_denies_all_egress(world: World) -> None:
    conn = world.build(
        _np(
            "no-egress",
            "podSelector: {}\npolicyTypes: [Ingress, Egress]\ningress: [{}]\negress: []",
        )
    )
    assert _allowed(conn, "a/web", OUTSIDE) == NONE
    assert _allowed(conn, "a/web", "a/client") == NONE
    assert _allowed(conn, "b/client", "a/web") == ALL  # ingress: [{}] allows all


@pytest.mark.parametrize("rules", ["ingress: []", "", "ingress: null"])
def test_ingress_type_without_rules_denies_all(world: World, rules: str) -> None:
    conn = world.build(
        _np("deny", f"podSelector: {{matchLabels: {{app: web}}}}\npolicyTypes: [Ingress]\n{rules}")
    )
    assert _allowed(conn, "a/client", "a/web") == NONE
    assert _allowed(conn, "b/client", "a/web") == NONE
    assert _allowed(conn, OUTSIDE, "a/web") == NONE


def test_one_empty_ingress_rule_allows_all(world: World) -> None:
    conn = world.build(_np("all", "podSelector: {matchLabels: {app: web}}\ningress: [{}]"))
    for src in ("a/client", "b/other", OUTSIDE, "default/lone"):
        assert _allowed(conn, src, "a/web") == ALL


def test_one_empty_egress_rule_allows_all(world: World) -> None:
    conn = world.build(
        _np("all", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress: [{}]")
    )
    for dst in ("a/client", "b/other", OUTSIDE):
        assert _allowed(conn, "a/web", dst) == ALL


def test_policies_add_up(world: World) -> None:
    """A pod selected by several policies gets the union of their rules."""
    conn = world.build(
        _np("one", "podSelector: {}\ningress: [{ports: [{port: 80}]}]"),
        _np("two", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 443}]}]"),
    )
    assert _allowed(conn, "b/client", "a/web") == tcp(80) | tcp(443)
    assert _allowed(conn, "b/client", "a/db") == tcp(80)


def test_a_connection_needs_both_egress_and_ingress(world: World) -> None:
    conn = world.build(
        _np(
            "client-out",
            """
            podSelector: {matchLabels: {app: client}}
            policyTypes: [Egress]
            egress: [{ports: [{port: 80}, {port: 443}]}]
            """,
        ),
        _np(
            "web-in",
            "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 443}, {port: 8443}]}]",
        ),
    )
    assert _allowed(conn, "a/client", "a/web") == tcp(443)
    assert _allowed(conn, "a/client", "a/db") == tcp(80) | tcp(443)
    assert _allowed(conn, "a/other", "a/web") == tcp(443) | tcp(8443)


# -- empty and absent peers --------------------------------------------------------------------
@pytest.mark.parametrize("peers", ["from: []", "from: null", ""])
def test_empty_or_absent_from_matches_every_source(world: World, peers: str) -> None:
    """`from` empty or missing: the rule matches all sources, pods of every namespace and
    external addresses alike."""
    rule = "{" + ", ".join(p for p in (peers, "ports: [{port: 8080}]") if p) + "}"
    conn = world.build(_np("web", f"podSelector: {{matchLabels: {{app: web}}}}\ningress: [{rule}]"))
    for src in ("a/client", "b/other", "default/lone", OUTSIDE):
        assert _allowed(conn, src, "a/web") == tcp(8080), src


@pytest.mark.parametrize("peers", ["to: []", "to: null", ""])
def test_empty_or_absent_to_matches_every_destination(world: World, peers: str) -> None:
    rule = "{" + ", ".join(p for p in (peers, "ports: [{port: 53, protocol: UDP}]") if p) + "}"
    conn = world.build(
        _np(
            "web",
            f"podSelector: {{matchLabels: {{app: web}}}}\npolicyTypes: [Egress]\negress: [{rule}]",
        )
    )
    for dst in ("a/client", "b/other", OUTSIDE):
        assert _allowed(conn, "a/web", dst) == udp(53), dst


def test_empty_from_alone_allows_all(world: World) -> None:
    conn = world.build(_np("web", "podSelector: {matchLabels: {app: web}}\ningress: [{from: []}]"))
    assert _allowed(conn, OUTSIDE, "a/web") == ALL
    assert _allowed(conn, "b/other", "a/web") == ALL


def test_empty_ports_list_means_every_port(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\n"
            "ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: []}]",
        )
    )
    assert _allowed(conn, "a/client", "a/web") == ALL
    assert _allowed(conn, "a/other", "a/web") == NONE


# -- selectors -------------------------------------------------------------------------------
def test_empty_pod_selector_selects_every_pod_of_its_namespace_only(world: World) -> None:
    conn = world.build(_np("deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"))
    for pod in ("a/web", "a/client", "a/db"):
        assert _allowed(conn, "b/client", pod) == NONE
        assert _allowed(conn, pod, "b/client") == NONE
    assert _allowed(conn, "b/client", "b/other") == ALL
    assert _allowed(conn, OUTSIDE, "b/other") == ALL


def test_pod_selector_peer_is_in_the_policy_namespace(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\n"
            "ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]",
        )
    )
    assert _allowed(conn, "a/client", "a/web") == ALL
    assert _allowed(conn, "b/client", "a/web") == NONE
    assert _allowed(conn, OUTSIDE, "a/web") == NONE


def test_empty_pod_selector_peer_is_every_pod_of_the_namespace_and_no_address(
    world: World,
) -> None:
    conn = world.build(
        _np("web", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {}}]}]")
    )
    assert _allowed(conn, "a/other", "a/web") == ALL
    assert _allowed(conn, "b/other", "a/web") == NONE
    assert _allowed(conn, OUTSIDE, "a/web") == NONE


def test_namespace_selector_alone_is_every_pod_of_matching_namespaces(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\n"
            "ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}]}]",
        )
    )
    assert _allowed(conn, "b/client", "a/web") == ALL
    assert _allowed(conn, "b/other", "a/web") == ALL
    assert _allowed(conn, "a/client", "a/web") == NONE
    assert _allowed(conn, OUTSIDE, "a/web") == NONE


def test_namespace_and_pod_selector_in_one_peer_intersect(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            """
            podSelector: {matchLabels: {app: web}}
            ingress:
            - from:
              - namespaceSelector: {matchLabels: {team: b}}
                podSelector: {matchLabels: {app: client}}
            """,
        )
    )
    assert _allowed(conn, "b/client", "a/web") == ALL
    assert _allowed(conn, "b/other", "a/web") == NONE
    assert _allowed(conn, "a/client", "a/web") == NONE


def test_namespace_and_pod_selector_in_two_peers_unite(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            """
            podSelector: {matchLabels: {app: web}}
            ingress:
            - from:
              - namespaceSelector: {matchLabels: {team: b}}
              - podSelector: {matchLabels: {app: client}}
            """,
        )
    )
    assert _allowed(conn, "b/client", "a/web") == ALL
    assert _allowed(conn, "b/other", "a/web") == ALL
    assert _allowed(conn, "a/client", "a/web") == ALL
    assert _allowed(conn, "a/other", "a/web") == NONE


def test_undeclared_namespace_has_its_name_label(world: World) -> None:
    """`default` is not declared in the input: it exists with only its
    kubernetes.io/metadata.name label, which a namespaceSelector can match."""
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\ningress: [{from: "
            "[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}}]}]",
        )
    )
    assert _allowed(conn, "default/lone", "a/web") == ALL
    assert _allowed(conn, "b/client", "a/web") == NONE


def test_policy_without_namespace_is_in_default(world: World) -> None:
    """metadata.namespace absent: the object is in `default`, for policies as for pods."""
    conn = world.build(_np("deny", "podSelector: {}", namespace=None))
    assert _allowed(conn, "a/client", "default/lone") == NONE
    assert _allowed(conn, "a/client", "a/web") == ALL
    assert _allowed(conn, "default/lone", "a/web") == ALL


def test_pod_selector_peer_of_a_policy_without_namespace_is_in_default(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            "podSelector: {}\ningress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]",
            namespace=None,
        ),
        _np(
            "lone-client",
            "podSelector: {matchLabels: {app: lone}}\ningress: [{from: [{podSelector: {}}]}]",
        ),
    )
    assert _allowed(conn, "a/client", "default/lone") == NONE
    assert _allowed(conn, "b/client", "default/lone") == NONE


# -- ipBlock -------------------------------------------------------------------------------------
def test_ip_block_except_is_subtracted(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            """
            podSelector: {matchLabels: {app: web}}
            policyTypes: [Egress]
            egress:
            - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.3.0/24]}}]
            """,
        )
    )
    assert _allowed(conn, "a/web", "10.0.0.1") == ALL
    assert _allowed(conn, "a/web", "10.2.4.1") == ALL
    assert _allowed(conn, "a/web", "10.1.2.3") == NONE
    assert _allowed(conn, "a/web", "10.2.3.200") == NONE
    assert _allowed(conn, "a/web", "11.0.0.1") == NONE
    # A range part inside, part in an exception, is not allowed as a whole.
    assert _allowed(conn, "a/web", "10.1.0.0/15") == NONE


def test_ip_block_matches_addresses_not_pods(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\n"
            "ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0, except: [203.0.113.0/24]}}]}]",
        )
    )
    assert _allowed(conn, "198.51.100.1", "a/web") == ALL
    assert _allowed(conn, OUTSIDE, "a/web") == NONE
    assert _allowed(conn, "a/client", "a/web") == NONE


# -- ports ---------------------------------------------------------------------------------------
def test_protocol_defaults_to_tcp(world: World) -> None:
    conn = world.build(
        _np("web", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 8080}]}]")
    )
    assert _allowed(conn, "a/client", "a/web") == tcp(8080)
    decision = conn.reach("a/client", "a/web", udp(8080))
    assert decision.verdict is Verdict.DENY


def test_port_without_number_is_every_port_of_its_protocol(world: World) -> None:
    conn = world.build(
        _np("web", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{protocol: UDP}]}]")
    )
    assert _allowed(conn, "a/client", "a/web") == udp(1, 65535)


def test_end_port_is_a_closed_range(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\n"
            "ingress: [{ports: [{port: 32000, endPort: 32768}, {port: 53, protocol: UDP}]}]",
        )
    )
    assert _allowed(conn, "a/client", "a/web") == tcp(32000, 32768) | udp(53)
    assert conn.reach("a/client", "a/web", tcp(32768)).verdict is Verdict.ALLOW
    assert conn.reach("a/client", "a/web", tcp(32769)).verdict is Verdict.DENY


def test_named_port_resolves_on_the_destination_for_its_protocol(world: World) -> None:
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\n"
            "ingress: [{ports: [{port: http}, {port: dns, protocol: UDP}]}]",
        )
    )
    assert _allowed(conn, "a/client", "a/web") == tcp(8080) | udp(53)


def test_named_port_of_another_protocol_allows_nothing(world: World) -> None:
    """`metrics` is a TCP container port; a UDP rule naming it resolves to nothing, and
    `dns` (UDP) named with the default protocol TCP neither."""
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\n"
            "ingress: [{ports: [{port: metrics, protocol: UDP}, {port: dns}]}]",
        )
    )
    assert _allowed(conn, "a/client", "a/web") == NONE
    assert conn.reach("a/client", "a/web", udp(9090)).verdict is Verdict.DENY
    assert conn.reach("a/client", "a/web", tcp(53)).verdict is Verdict.DENY


def test_unresolved_named_port_allows_nothing_but_still_isolates(world: World) -> None:
    conn = world.build(
        _np("web", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: nosuch}]}]")
    )
    assert _allowed(conn, "a/client", "a/web") == NONE
    assert _allowed(conn, OUTSIDE, "a/web") == NONE


def test_egress_named_port_resolves_on_the_destination_pod(world: World) -> None:
    """web declares `pg` as 6543, db as 5432: web's egress rule naming `pg` opens 5432 to
    db (the destination's port), and opens nothing towards pods without `pg`."""
    conn = world.build(
        _np(
            "web",
            "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\n"
            "egress: [{to: [{podSelector: {}}], ports: [{port: pg}]}]",
        )
    )
    assert _allowed(conn, "a/web", "a/db") == tcp(5432)
    assert _allowed(conn, "a/web", "a/client") == NONE
