"""`review`: which rules judge which requests, exemptions, updates, subresources, notes
without a snapshot, and policy changes against intents (the engine through `apply`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import microseg
from microseg.analyses.guardrails import IntentMemo, ReviewContext, review
from microseg.engine import Connectivity
from microseg.errors import Origin
from microseg.ingest.admission import read_object
from microseg.ingest.guardrails import load_guardrails
from microseg.model.admission import Operation, ReviewRequest
from microseg.model.guardrails import GuardrailSet, Mode, PodSecurityRule, Rule, Scope
from microseg.model.selectors import LabelSelector
from microseg.model.sets import Protocol

from ._objects import restricted_spec, workload

REPO = Path(__file__).resolve().parents[4]
EXAMPLE = REPO / "examples" / "guardrails"
PRIVILEGED = {
    "containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": True}}]
}


def request(
    obj: object, op: Operation = Operation.CREATE, ns: str = "shop", **kw: object
) -> ReviewRequest:
    return ReviewRequest("u", op, getattr(obj, "kind", "Deployment"), ns, "app", obj, **kw)  # type: ignore[arg-type]


def baseline(mode: Mode = Mode.ENFORCE, exempt: Scope | None = None) -> GuardrailSet:
    return GuardrailSet(
        (Rule("pss", PodSecurityRule("baseline", (1, 36)), mode, exempt or Scope()),)
    )


def test_denied_and_modes() -> None:
    obj = workload("Deployment", PRIVILEGED)
    assert not review(request(obj), ReviewContext(baseline())).allowed
    warned = review(request(obj), ReviewContext(baseline(Mode.WARN)))
    assert warned.allowed
    assert [f.control for f in warned.by_mode(Mode.WARN)] == ["privileged"]


@pytest.mark.parametrize(
    ("scope", "ns", "exempted"),
    [
        (Scope(("kube-*",)), "kube-system", True),
        (Scope(("kube-*",)), "shop", False),
        (Scope((), LabelSelector.from_labels({"app": "app"})), "shop", True),
        (Scope((), LabelSelector.from_labels({"app": "other"})), "shop", False),
    ],
)
def test_exemptions(scope: Scope, ns: str, exempted: bool) -> None:
    obj = workload("Deployment", PRIVILEGED)
    assert review(request(obj, ns=ns), ReviewContext(baseline(exempt=scope))).allowed is exempted
    whole_file = replace(baseline(), exempt=scope)
    assert review(request(obj, ns=ns), ReviewContext(whole_file)).allowed is exempted


def test_update_leaving_the_template_is_not_judged_again() -> None:
    obj = workload("Deployment", PRIVILEGED)
    scaled = replace(obj, labels=obj.labels)
    assert review(
        request(obj, Operation.UPDATE, old_object=scaled), ReviewContext(baseline())
    ).allowed
    fixed = workload("Deployment", restricted_spec())
    assert not review(
        request(obj, Operation.UPDATE, old_object=fixed), ReviewContext(baseline())
    ).allowed


def test_subresources_and_connect() -> None:
    obj = workload("Pod", PRIVILEGED)
    status = review(request(obj, Operation.UPDATE, subresource="status"), ReviewContext(baseline()))
    assert status.allowed
    assert "subresource status: not reviewed" in status.notes[0]
    ephemeral = review(
        request(obj, Operation.UPDATE, subresource="ephemeralcontainers"), ReviewContext(baseline())
    )
    assert not ephemeral.allowed
    assert review(request(obj, Operation.CONNECT), ReviewContext(baseline())).allowed


def test_every_rule_says_when_it_lacks_a_snapshot() -> None:
    g, _ = load_guardrails([str(EXAMPLE / "guardrails.yaml")])
    ok = workload("Deployment", restricted_spec())
    result = review(request(ok), ReviewContext(g))
    assert any("ingress isolation not evaluated" in n for n in result.notes)
    assert any("label keys the policies select on are not known" in n for n in result.notes)
    policy = read_object(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {"podSelector": {}},
        },
        Origin(),
        "shop",
    )
    result = review(
        ReviewRequest("u", Operation.CREATE, "NetworkPolicy", "shop", "p", policy), ReviewContext(g)
    )
    assert result.allowed
    assert any("not checked against the intents" in n for n in result.notes)


@pytest.fixture(scope="module")
def example() -> tuple[GuardrailSet, Connectivity]:
    g, _ = load_guardrails([str(EXAMPLE / "guardrails.yaml")])
    return g, Connectivity.build(microseg.load([str(EXAMPLE / "cluster")]))


def _policy(spec: dict[str, object], name: str = "p", ns: str = "shop") -> object:
    raw = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }
    return read_object(raw, Origin(), ns)


def test_policy_opening_a_denied_flow(example: tuple[GuardrailSet, Connectivity]) -> None:
    g, conn = example
    policy = _policy(
        {
            "podSelector": {"matchLabels": {"app": "postgres"}},
            "ingress": [{"from": [{"namespaceSelector": {}}]}],
        }
    )
    result = review(
        ReviewRequest("u", Operation.CREATE, "NetworkPolicy", "shop", "p", policy),
        ReviewContext(g, conn, IntentMemo()),
    )  # type: ignore[arg-type]
    assert not result.allowed
    [f] = result.findings
    assert f.control == "denyBroken"
    assert f.origin is not None
    assert f.origin.line == 14
    assert str(f.rows[0].src) == "frontend/webapp[Deployment]"
    assert {o.name for o in f.related} == {"webapp-egress", "p"}
    assert result.after is not None
    assert any(p.name == "p" for p in result.after.cluster.policies)


def test_widening_an_allow(example: tuple[GuardrailSet, Connectivity]) -> None:
    g, conn = example
    policy = _policy(
        {
            "podSelector": {"matchLabels": {"app": "api-gateway"}},
            "ingress": [{"ports": [{"port": 9000}]}],
        }
    )
    result = review(
        ReviewRequest("u", Operation.CREATE, "NetworkPolicy", "shop", "p", policy),
        ReviewContext(g, conn),
    )  # type: ignore[arg-type]
    assert [f.control for f in result.findings] == ["allowWidened"]
    assert "shop-guardrails/allow[0]" in result.findings[0].message
    row = result.findings[0].rows[0]
    assert str(row.src) == "frontend/webapp[Deployment]"
    assert row.conns.contains(Protocol.TCP, 9000)
    assert not row.conns.contains(Protocol.TCP, 8080)


def test_deleting_a_policy_missing_from_the_snapshot(
    example: tuple[GuardrailSet, Connectivity],
) -> None:
    g, conn = example
    req = ReviewRequest("u", Operation.DELETE, "NetworkPolicy", "shop", "ghost")
    result = review(req, ReviewContext(g, conn))
    assert result.allowed
    assert "the snapshot does not match the cluster" in result.notes[0]


def test_new_workload_isolation(example: tuple[GuardrailSet, Connectivity]) -> None:
    g, conn = example
    only = replace(g, rules=tuple(r for r in g.rules if r.name == "isolated-for-ingress"))
    inside = workload("Deployment", restricted_spec())
    assert review(request(inside, ns="shop"), ReviewContext(only, conn)).allowed
    outside = replace(inside, namespace="reports")
    result = review(request(outside, ns="reports"), ReviewContext(only, conn))
    assert [f.control for f in result.findings] == ["notIsolated"]
    host = workload("Deployment", {**restricted_spec(), "hostNetwork": True})
    assert [f.control for f in review(request(host), ReviewContext(only, conn)).findings] == [
        "hostNetwork"
    ]


def test_segmentation_label_keys(example: tuple[GuardrailSet, Connectivity]) -> None:
    g, conn = example
    only = replace(g, rules=tuple(r for r in g.rules if r.name == "team-labels"))
    obj = workload("Deployment", restricted_spec(), {"labels": {"team": "a"}})
    result = review(request(obj), ReviewContext(only, conn))
    assert [f.control for f in result.findings] == [
        "required"
    ]  # shop's policies select on app only
