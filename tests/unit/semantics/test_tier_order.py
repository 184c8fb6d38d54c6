"""The guardrail tiers' order, as connectivity answers.

Why: the engine-vs-reference property test cannot catch a wrong tier order that both take
from the model (`Cluster.tier`), nor a wrong stacking written once in engine/combine.py and
mirrored by the reference. These tests are written from the network-policy-api reference
(network-policy-api.sigs.k8s.io/reference/spec/: AdminNetworkPolicy priorities, actions
Allow/Deny/Pass, BaselineAdminNetworkPolicy) and README's "Guardrail tiers": admin tier by
ascending priority, first matching rule decides, Allow and Deny final, Pass hands the port to
NetworkPolicy; the baseline only for pods no NetworkPolicy isolates; default allow.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from microseg.engine import Connectivity
from microseg.engine.query import Verdict
from microseg.model import ConnSet
from tests.unit.semantics._support import ALL, NONE, World, tcp

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
spec: {containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: a, labels: {app: other}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
"""

FROM_B = "[{namespaces: {matchLabels: {team: b}}}]"
TO_B = FROM_B
WEB = (
    "{pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: web}}}}"
)


def _anp(name: str, priority: int, rules: str, direction: str = "ingress") -> str:
    body = textwrap.indent(textwrap.dedent(rules).strip(), "  ")
    return (
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
        f"metadata: {{name: {name}}}\nspec:\n  priority: {priority}\n  subject: {WEB}\n"
        f"  {direction}:\n{body}\n"
    )


def _banp(rules: str, direction: str = "ingress") -> str:
    body = textwrap.indent(textwrap.dedent(rules).strip(), "  ")
    return (
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n"
        f"metadata: {{name: default}}\nspec:\n  subject: {WEB}\n  {direction}:\n{body}\n"
    )


def _rule(action: str, peers: str = FROM_B, port: int | None = None, key: str = "from") -> str:
    ports = f", ports: [{{portNumber: {{protocol: TCP, port: {port}}}}}]" if port else ""
    return (
        f"- {{name: r-{action.lower()}-{port or 'all'}, action: {action}, {key}: {peers}{ports}}}"
    )


def _np(name: str, spec: str) -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip(), "  ")
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: {name}, namespace: a}}\nspec:\n{body}\n"
    )


NP_DENY_WEB = _np("deny-web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress]")
NP_ALLOW_B = _np(
    "allow-b",
    "podSelector: {matchLabels: {app: web}}\n"
    "ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}]}]",
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, BASE)


def _allowed(conn: Connectivity, src: str = "b/client", dst: str = "a/web") -> ConnSet:
    decision = conn.reach(src, dst)
    assert (decision.verdict is Verdict.ALLOW) == bool(decision.allowed)
    return decision.allowed


def test_default_allows(world: World) -> None:
    assert _allowed(world.build()) == ALL


def test_lower_priority_number_decides_first(world: World) -> None:
    """Priority 10 is evaluated before 20 whatever the names' order: here the Deny."""
    conn = world.build(
        _anp("z-deny", 10, _rule("Deny")),
        _anp("a-allow", 20, _rule("Allow")),
        NP_ALLOW_B,
    )
    assert _allowed(conn) == NONE


def test_lower_priority_number_decides_first_allow(world: World) -> None:
    conn = world.build(
        _anp("z-allow", 10, _rule("Allow")),
        _anp("a-deny", 20, _rule("Deny")),
        NP_DENY_WEB,
    )
    assert _allowed(conn) == ALL


def test_rules_of_one_policy_in_written_order(world: World) -> None:
    conn = world.build(_anp("g", 5, _rule("Deny", port=8080) + "\n" + _rule("Allow")))
    assert _allowed(conn) == ALL - tcp(8080)
    conn = world.build(_anp("g", 5, _rule("Allow", port=8080) + "\n" + _rule("Deny")), NP_ALLOW_B)
    assert _allowed(conn) == tcp(8080)


def test_admin_allow_is_final_over_an_isolating_network_policy(world: World) -> None:
    conn = world.build(_anp("g", 5, _rule("Allow", port=8080)), NP_DENY_WEB)
    assert _allowed(conn) == tcp(8080)
    assert _allowed(conn, "a/other") == NONE  # not matched: the NetworkPolicy decides


def test_admin_deny_is_final_over_a_network_policy_allow(world: World) -> None:
    conn = world.build(_anp("g", 5, _rule("Deny", port=8080)), NP_ALLOW_B)
    assert _allowed(conn) == ALL - tcp(8080)


def test_admin_deny_is_final_over_the_default(world: World) -> None:
    conn = world.build(_anp("g", 5, _rule("Deny")))
    assert _allowed(conn) == NONE
    assert _allowed(conn, "a/other") == ALL


def test_admin_deny_is_final_over_a_baseline_allow(world: World) -> None:
    conn = world.build(_anp("g", 5, _rule("Deny")), _banp(_rule("Allow")))
    assert _allowed(conn) == NONE


def test_admin_egress_deny(world: World) -> None:
    """The same tier order in the egress direction: web's egress to b denied."""
    conn = world.build(_anp("g", 5, _rule("Deny", TO_B, key="to"), direction="egress"))
    assert _allowed(conn, "a/web", "b/client") == NONE
    assert _allowed(conn, "a/web", "a/other") == ALL


def test_pass_hands_the_port_to_network_policy(world: World) -> None:
    """Pass is not Allow: an isolating NetworkPolicy without a matching rule denies."""
    conn = world.build(_anp("g", 5, _rule("Pass", port=8080)), NP_DENY_WEB)
    assert _allowed(conn) == NONE
    conn = world.build(_anp("g", 5, _rule("Pass", port=8080)), NP_ALLOW_B)
    assert _allowed(conn) == ALL


def test_pass_skips_the_remaining_admin_rules(world: World) -> None:
    """After a Pass no lower-priority admin rule is asked: the Deny at 20 does not apply."""
    conn = world.build(
        _anp("first", 10, _rule("Pass", port=8080)),
        _anp("second", 20, _rule("Deny")),
    )
    assert _allowed(conn) == tcp(8080)


def test_pass_over_baseline_deny(world: World) -> None:
    """Pass hands the port to the NetworkPolicy tier, and without an isolating one, to the
    baseline: its Deny stands."""
    conn = world.build(_anp("g", 5, _rule("Pass")), _banp(_rule("Deny")))
    assert _allowed(conn) == NONE


def test_baseline_applies_when_no_network_policy_isolates(world: World) -> None:
    conn = world.build(_banp(_rule("Deny", port=8080)))
    assert _allowed(conn) == ALL - tcp(8080)
    assert _allowed(conn, "a/other") == ALL


def test_baseline_deny_is_not_asked_when_a_network_policy_isolates(world: World) -> None:
    conn = world.build(_banp(_rule("Deny")), NP_ALLOW_B)
    assert _allowed(conn) == ALL
    assert _allowed(conn, "a/other") == NONE  # isolated, and no rule allows a/other


def test_baseline_allow_is_not_asked_when_a_network_policy_isolates(world: World) -> None:
    conn = world.build(_banp(_rule("Allow")), NP_DENY_WEB)
    assert _allowed(conn) == NONE


def test_baseline_first_match_in_written_order(world: World) -> None:
    conn = world.build(_banp(_rule("Allow", port=8080) + "\n" + _rule("Deny")))
    assert _allowed(conn) == tcp(8080)


def test_isolation_is_per_direction_for_the_baseline(world: World) -> None:
    """An ingress-only NetworkPolicy on web leaves web's egress to the baseline."""
    conn = world.build(_banp(_rule("Deny", TO_B, key="to"), direction="egress"), NP_ALLOW_B)
    assert _allowed(conn, "a/web", "b/client") == NONE
    assert _allowed(conn) == ALL
