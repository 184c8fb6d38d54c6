"""Calico policies as YAML (`--format calico`): the shapes of Calico's reference, and the
text read back by microseg's own Calico reader to the very same policy."""

from __future__ import annotations

from pathlib import Path

import microseg
from microseg.analyses.synth.types import Generated
from microseg.model.calico import (
    CalicoAction,
    CalicoPolicy,
    CalicoPort,
    CalicoRule,
    EntityRule,
    ProtocolMatch,
)
from microseg.model.calico_selector import parse_selector
from microseg.model.netpol import Direction
from microseg.model.sets import IPSet, Protocol
from microseg.render.calico_yaml import selector_text
from microseg.render.policy_yaml import file_text, manifest

_BOTH = frozenset({Direction.INGRESS, Direction.EGRESS})


def _policy() -> CalicoPolicy:
    ingress = (
        CalicoRule(
            CalicoAction.ALLOW,
            Direction.INGRESS,
            0,
            protocol=ProtocolMatch(Protocol.TCP),
            source=EntityRule(
                selector=parse_selector("app == 'web' && tier in {'a', 'b'}"),
                namespace_selector=parse_selector("kubernetes.io/metadata.name == 'front'"),
            ),
            destination=EntityRule(
                ports=(CalicoPort(80, 80), CalicoPort(8000, 8080), CalicoPort(name="http"))
            ),
        ),
        CalicoRule(CalicoAction.ALLOW, Direction.INGRESS, 1),
    )
    egress = (
        CalicoRule(
            CalicoAction.ALLOW,
            Direction.EGRESS,
            0,
            protocol=ProtocolMatch(Protocol.UDP),
            destination=EntityRule(
                nets=IPSet.from_cidr("10.0.0.0/8") | IPSet.from_cidr("2001:db8::/32"),
                not_nets=IPSet.from_cidr("10.1.0.0/16"),
                ports=(CalicoPort(53, 53),),
            ),
        ),
    )
    return CalicoPolicy(
        "NetworkPolicy",
        "microseg-api",
        "shop",
        "default",
        100.0,
        parse_selector("app == 'api' && !has(canary)"),
        _BOTH,
        ingress,
        egress,
    )


def _generated(p: CalicoPolicy) -> Generated:
    return Generated(
        "NetworkPolicy",
        p.namespace,
        p.name,
        p,
        p.namespace,
        comments=((("ingress", 0, -1), "front/web[Deployment]"),),
    )


def test_manifest_has_calico_shapes() -> None:
    doc = manifest(_generated(_policy()))
    assert doc["apiVersion"] == "projectcalico.org/v3"
    assert doc["kind"] == "NetworkPolicy"
    assert doc["metadata"]["namespace"] == "shop"
    assert doc["spec"] == {
        "tier": "default",
        "order": 100,
        "selector": "app == 'api' && !has(canary)",
        "types": ["Ingress", "Egress"],
        "ingress": [
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {
                    "selector": "app == 'web' && tier in {'a', 'b'}",
                    "namespaceSelector": "kubernetes.io/metadata.name == 'front'",
                },
                "destination": {"ports": [80, "8000:8080", "http"]},
            },
            {"action": "Allow"},
        ],
        "egress": [
            {
                "action": "Allow",
                "protocol": "UDP",
                "destination": {
                    "nets": ["10.0.0.0/8", "2001:db8::/32"],
                    "notNets": ["10.1.0.0/16"],
                    "ports": [53],
                },
            }
        ],
    }


def test_written_yaml_reads_back_to_the_same_policy(tmp_path: Path) -> None:
    mine = _policy()
    text = file_text([_generated(mine)], "header")
    assert "# front/web[Deployment]\n    - action: Allow" in text
    (tmp_path / "shop.yaml").write_text(text)
    cluster = microseg.load([str(tmp_path)])
    assert not cluster.diagnostics
    (got,) = cluster.calico.policies
    assert (got.kind, got.namespace, got.name, got.tier, got.order) == (
        "NetworkPolicy",
        "shop",
        "microseg-api",
        "default",
        100.0,
    )
    assert (got.selector, got.types, got.ingress, got.egress) == (
        mine.selector,
        mine.types,
        mine.ingress,
        mine.egress,
    )


def test_selector_text_nests_parentheses_only_where_needed() -> None:
    for text in (
        "all()",
        "a == 'x'",
        "has(a) && b != 'y'",
        "(a == 'x' || b == 'y') && !has(c)",
        "!(a == 'x' && b in {'p', 'q'})",
        "a not in {'x'} || c starts with 'pre'",
    ):
        node = parse_selector(text)
        assert parse_selector(selector_text(node)) == node, text
    assert selector_text(parse_selector("(a == 'x' || b == 'y') && !has(c)")) == (
        "(a == 'x' || b == 'y') && !has(c)"
    )
