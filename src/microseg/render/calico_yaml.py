"""Calico `projectcalico.org/v3` policies as manifests (`recommend`/`generate --format
calico`), in the shapes of docs.tigera.io/calico/latest/reference/resources/networkpolicy
and .../globalnetworkpolicy: `tier`, `order`, `selector`, `types`, then the rules with
`action`, `protocol`, `source` and `destination` (`selector`, `namespaceSelector`, `nets`,
`notNets`, `ports`). Selectors are written as Calico's docs write them (`app == 'web' &&
tier == 'db'`), not with the parentheses the parser's tree prints, so that a reviewer
reads them as written by hand; ingest/calico.py reads them back to the same tree.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from microseg.model.calico import CalicoPolicy, CalicoPort, CalicoRule, EntityRule
from microseg.model.calico_selector import All, And, Global, Has, LabelOp, Not, Or, Selector
from microseg.model.netpol import Direction
from microseg.model.sets import IPSet

__all__ = ["calico_spec", "selector_text"]


def _q(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


def selector_text(node: Selector, top: bool = True) -> str:
    """Calico's selector syntax; parentheses only around a nested `&&`/`||`."""
    if isinstance(node, All):
        return "all()"
    if isinstance(node, Global):
        return "global()"
    if isinstance(node, Has):
        return f"has({node.key})"
    if isinstance(node, LabelOp):
        if node.values or node.op in ("in", "not in"):
            return f"{node.key} {node.op} {{{', '.join(_q(v) for v in sorted(node.values))}}}"
        return f"{node.key} {node.op} {_q(node.value)}"
    if isinstance(node, Not):
        return "!" + selector_text(node.operand, False)
    joiner = " && " if isinstance(node, And) else " || "
    assert isinstance(node, And | Or)
    text = joiner.join(selector_text(o, False) for o in node.operands)
    return text if top else f"({text})"


def _nets(addresses: IPSet) -> list[str]:
    out: list[str] = []
    for family, cls in (
        (addresses.v4, ipaddress.IPv4Address),
        (addresses.v6, ipaddress.IPv6Address),
    ):
        for lo, hi in family:
            out += [str(n) for n in ipaddress.summarize_address_range(cls(lo), cls(hi))]
    return out


def _port(p: CalicoPort) -> int | str:
    if p.name:
        return p.name
    return p.start if p.start == p.end else f"{p.start}:{p.end}"


def _entity(e: EntityRule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if e.selector is not None:
        out["selector"] = selector_text(e.selector)
    if e.not_selector is not None:
        out["notSelector"] = selector_text(e.not_selector)
    if e.namespace_selector is not None:
        out["namespaceSelector"] = selector_text(e.namespace_selector)
    if e.nets is not None:
        out["nets"] = _nets(e.nets)
    if e.not_nets is not None:
        out["notNets"] = _nets(e.not_nets)
    if e.ports is not None:
        out["ports"] = [_port(p) for p in e.ports]
    if e.not_ports:
        out["notPorts"] = [_port(p) for p in e.not_ports]
    return out


def _rule(r: CalicoRule) -> dict[str, Any]:
    out: dict[str, Any] = {"action": r.action.value}
    if r.protocol is not None:
        out["protocol"] = r.protocol.protocol.value if not r.protocol.number else r.protocol.number
    for name, side in (("source", r.source), ("destination", r.destination)):
        got = _entity(side)
        if got:
            out[name] = got
    return out


def _order(value: float) -> int | float:
    return int(value) if value == int(value) else value


def calico_spec(p: CalicoPolicy) -> dict[str, Any]:
    spec: dict[str, Any] = {"tier": p.tier}
    if p.order is not None:
        spec["order"] = _order(p.order)
    spec["selector"] = selector_text(p.selector)
    if p.namespace_selector is not None:
        spec["namespaceSelector"] = selector_text(p.namespace_selector)
    spec["types"] = [d.value for d in (Direction.INGRESS, Direction.EGRESS) if d in p.types]
    for direction in (Direction.INGRESS, Direction.EGRESS):
        rules = [_rule(r) for r in p.rules(direction)]
        if rules:
            spec[direction.value.lower()] = rules
    return spec
