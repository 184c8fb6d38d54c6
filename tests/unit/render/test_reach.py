"""Reach decisions as text (answer first, then why) and as JSON."""

from __future__ import annotations

import json

from microseg.engine.query import Decision, Step, Tier, Trace, Verdict
from microseg.errors import Origin
from microseg.model.netpol import Direction
from microseg.model.sets import ConnSet, Protocol
from microseg.render.reach import decision_json, decision_text, step_label
from microseg.render.shape import API_VERSION

WEB = "frontend/webapp[Deployment]"
DB = "shop/postgres[StatefulSet]"
PG = ConnSet.single(Protocol.TCP, 5432)
DNS = ConnSet.single(Protocol.UDP, 53)
DENY_REST = Step(Tier.DEFAULT, Verdict.DENY, ConnSet.all())


def allowed_decision() -> Decision:
    egress = Trace(
        direction=Direction.EGRESS,
        endpoint=WEB,
        peer=DB,
        external=False,
        isolated=True,
        policies=("frontend/webapp-egress",),
        steps=(
            Step(
                Tier.NETPOL,
                Verdict.ALLOW,
                PG | DNS,
                "frontend/webapp-egress",
                2,
                Origin("examples/demo/policies/frontend.yaml", line=72),
            ),
            DENY_REST,
        ),
        allowed=PG | DNS,
    )
    ingress = Trace(
        direction=Direction.INGRESS,
        endpoint=DB,
        peer=WEB,
        external=False,
        isolated=True,
        policies=("shop/default-deny-ingress", "shop/postgres-allow-shop-tenant"),
        steps=(
            Step(
                Tier.NETPOL,
                Verdict.ALLOW,
                PG,
                "shop/postgres-allow-shop-tenant",
                0,
                Origin("examples/demo/policies/shop.yaml", line=114),
            ),
            DENY_REST,
        ),
        allowed=PG,
    )
    return Decision(WEB, DB, PG, PG, Verdict.ALLOW, egress, ingress)


def denied_decision() -> Decision:
    src = "203.0.113.7"
    want = ConnSet.single(Protocol.TCP, 8443)
    egress = Trace(Direction.EGRESS, src, DB, True, False, (), (), ConnSet.all())
    ingress = Trace(
        Direction.INGRESS,
        DB,
        src,
        external=False,
        isolated=True,
        policies=("shop/default-deny-ingress",),
        steps=(DENY_REST,),
        allowed=ConnSet.none(),
    )
    return Decision(src, DB, want, ConnSet.none(), Verdict.DENY, egress, ingress)


def test_text_leads_with_the_answer() -> None:
    lines = decision_text(allowed_decision()).splitlines()
    assert lines[0] == f"ALLOWED {WEB} -> {DB}  TCP 5432"
    assert lines[1] == f"  egress  {WEB}: isolated by NP frontend/webapp-egress"
    # only the requested part of a rule's connections is shown
    assert lines[2] == (
        "      allows TCP 5432 by [NP frontend/webapp-egress#2 Allow]"
        " (examples/demo/policies/frontend.yaml:72)"
    )
    assert lines[3] == (
        f"  ingress {DB}: isolated by NP shop/default-deny-ingress, "
        "NP shop/postgres-allow-shop-tenant"
    )
    assert lines[4] == (
        "      allows TCP 5432 by [NP shop/postgres-allow-shop-tenant#0 Allow]"
        " (examples/demo/policies/shop.yaml:114)"
    )
    assert len(lines) == 5
    assert "UDP" not in decision_text(allowed_decision())


def test_text_denied_says_what_is_missing_and_who_is_external() -> None:
    text = decision_text(denied_decision())
    lines = text.splitlines()
    assert lines[0] == f"DENIED  203.0.113.7 -> {DB}  TCP 8443"
    assert lines[1] == "  egress  203.0.113.7: external address; no cluster policy applies"
    assert lines[2] == f"  ingress {DB}: isolated by NP shop/default-deny-ingress"
    assert lines[3] == "      no rule allows 203.0.113.7 on TCP 8443"


def test_text_denied_request_mentions_what_is_allowed_instead() -> None:
    d = allowed_decision()
    want = ConnSet.single(Protocol.TCP, 22)
    denied = Decision(d.src, d.dst, want, PG, Verdict.DENY, d.egress, d.ingress)
    lines = decision_text(denied).splitlines()
    assert lines[0] == f"DENIED  {WEB} -> {DB}  TCP 22"
    assert lines[1] == "  (allowed between them: TCP 5432)"


def test_text_not_isolated_and_partial() -> None:
    open_trace = Trace(Direction.INGRESS, DB, WEB, False, False, (), (), ConnSet.all())
    d = Decision(
        WEB,
        DB,
        None,
        ConnSet.all(),
        Verdict.ALLOW,
        Trace(Direction.EGRESS, WEB, DB, False, False, (), (), ConnSet.all()),
        open_trace,
        partial=True,
    )
    lines = decision_text(d).splitlines()
    assert lines[0] == f"ALLOWED {WEB} -> {DB}  All Connections"
    assert "some addresses in the range are allowed more" in lines[1]
    assert lines[2] == (f"  egress  {WEB}: not isolated for egress by any NetworkPolicy")
    assert lines[3].startswith(f"  ingress {DB}: not isolated for ingress")


def test_text_without_request_and_nothing_allowed() -> None:
    d = denied_decision()
    nothing = Decision(d.src, d.dst, None, ConnSet.none(), Verdict.DENY, d.egress, d.ingress)
    first = decision_text(nothing).splitlines()[0]
    assert first == f"DENIED  203.0.113.7 -> {DB}  no connections"


def test_json_document() -> None:
    doc = json.loads(decision_json(allowed_decision()))
    assert doc["apiVersion"] == API_VERSION == "microseg.dev/v1alpha1"
    assert doc["kind"] == "ReachDecision"
    assert doc["src"] == WEB
    assert doc["dst"] == DB
    assert doc["verdict"] == "Allow"
    assert doc["requested"] == "TCP 5432"
    assert doc["allowed"] == "TCP 5432"
    assert doc["partial"] is False
    eg = doc["egress"]
    assert eg["endpoint"] == WEB
    assert eg["external"] is False
    assert eg["isolated"] is True
    assert eg["policies"] == ["frontend/webapp-egress"]
    assert eg["allowed"] == "TCP 5432,UDP 53"
    assert eg["steps"][0] == {
        "tier": "NP",
        "effect": "Allow",
        "conn": "TCP 5432,UDP 53",
        "policy": "frontend/webapp-egress",
        "rule": 2,
        "label": "[NP frontend/webapp-egress#2 Allow]",
        "origin": {"file": "examples/demo/policies/frontend.yaml", "line": 72},
    }
    # the default step has no policy, rule or origin
    assert eg["steps"][1] == {
        "tier": "default",
        "effect": "Deny",
        "conn": "All Connections",
        "label": "[default Deny]",
    }
    assert doc["ingress"]["steps"][0]["origin"]["line"] == 114


def test_json_denied_and_unrequested() -> None:
    doc = json.loads(decision_json(denied_decision()))
    assert doc["verdict"] == "Deny"
    assert doc["allowed"] == "No Connections"
    assert doc["egress"]["external"] is True
    assert doc["egress"]["steps"] == []
    d = denied_decision()
    unrequested = Decision(d.src, d.dst, None, ConnSet.none(), Verdict.DENY, d.egress, d.ingress)
    assert json.loads(decision_json(unrequested))["requested"] is None


def test_step_label() -> None:
    step = allowed_decision().ingress.steps[0]
    assert step_label(step) == "[NP shop/postgres-allow-shop-tenant#0 Allow]"
    assert step_label(DENY_REST) == "[default Deny]"
