"""reach says why two pods on different primary networks cannot connect (render/reach.py)."""

from __future__ import annotations

import json

from microseg.engine.query import (
    Decision,
    NetworkSide,
    NetworkSplit,
    Trace,
    Verdict,
)
from microseg.errors import Origin
from microseg.model.netpol import Direction
from microseg.model.sets import ConnSet
from microseg.render.reach import decision_json, decision_text, network_label


def _decision(split: NetworkSplit | None) -> Decision:
    def trace(direction: Direction, endpoint: str, peer: str) -> Trace:
        return Trace(direction, endpoint, peer, False, False, (), (), ConnSet.all())

    return Decision(
        "blue/web[Pod]",
        "green/db[Pod]",
        None,
        ConnSet.none(),
        Verdict.DENY,
        trace(Direction.EGRESS, "blue/web[Pod]", "green/db[Pod]"),
        trace(Direction.INGRESS, "green/db[Pod]", "blue/web[Pod]"),
        networks=split,
    )


UDN = NetworkSide("UDN", "blue/net-a", "Primary", "Layer2", Origin("udn.yaml", 0, 4))


def test_text_names_both_networks_and_where_they_are_declared() -> None:
    text = decision_text(_decision(NetworkSplit(UDN, NetworkSide())))
    lines = text.splitlines()
    assert lines[0].startswith("DENIED  blue/web[Pod] -> green/db[Pod]  no connections")
    assert lines[1] == (
        "  networks differ: blue/web[Pod] is on UDN blue/net-a (Primary, Layer2), "
        "green/db[Pod] on the default network"
    )
    assert lines[2] == "      UDN blue/net-a (Primary, Layer2) declared at udn.yaml:4"
    assert "networks differ" not in decision_text(_decision(None))


def test_json_carries_both_sides() -> None:
    cudn = NetworkSide("CUDN", "shared", "Primary", "Layer3")
    doc = json.loads(decision_json(_decision(NetworkSplit(UDN, cudn))))
    assert doc["networks"]["src"] == {
        "kind": "UDN",
        "name": "blue/net-a",
        "role": "Primary",
        "topology": "Layer2",
        "origin": {"file": "udn.yaml", "line": 4},
    }
    assert doc["networks"]["dst"]["kind"] == "CUDN"
    assert "networks" not in json.loads(decision_json(_decision(None)))
    assert network_label(NetworkSide()) == "the default network"
