"""AdminNetworkPolicy and BaselineAdminNetworkPolicy documents to `AdminPolicy`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from pydantic import ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.admin_schema import (
    RawAdminEgressRule,
    RawAdminIngressRule,
    RawAdminNetworkPolicy,
    RawAdminPort,
    RawBaselineAdminNetworkPolicy,
    RawEgressPeer,
    RawIngressPeer,
    RawSubject,
)
from microseg.ingest.documents import Document
from microseg.ingest.netpols import selector_from_raw
from microseg.ingest.validation import diagnostics_from
from microseg.model.admin import Action, AdminPolicy, AdminRule, AdminTier, Subject
from microseg.model.netpol import Direction, IPBlockPeer, NodePeer, Peer, PodPeer, PortSpec
from microseg.model.selectors import LabelSelector
from microseg.model.sets import BASE_PROTOCOLS, IPSet, Protocol

if TYPE_CHECKING:  # ClusterNetworkPolicy's schema: built only for such input (_parse_cnp)
    from microseg.ingest.cnp_schema import RawCNPEgressRule, RawCNPIngressRule, RawProtocolPort

__all__ = ["parse_admin_policy"]


def _subject(raw: RawSubject) -> Subject:
    if raw.namespaces is not None:
        return Subject(selector_from_raw(raw.namespaces))
    assert raw.pods is not None
    return Subject(
        selector_from_raw(raw.pods.namespaceSelector), selector_from_raw(raw.pods.podSelector)
    )


def _peers(raw: RawIngressPeer | RawEgressPeer) -> tuple[list[Peer], list[str]]:
    if raw.namespaces is not None:
        return [PodPeer(LabelSelector(), namespace_selector=selector_from_raw(raw.namespaces))], []
    if raw.pods is not None:
        pods = selector_from_raw(raw.pods.podSelector)
        return [PodPeer(pods, namespace_selector=selector_from_raw(raw.pods.namespaceSelector))], []
    assert isinstance(raw, RawEgressPeer)
    if raw.networks is not None:
        return [IPBlockPeer(c, (), IPSet.from_cidr(c)) for c in raw.networks], []
    if raw.nodes is not None:
        return [NodePeer(selector_from_raw(raw.nodes))], []
    return [], list(raw.domainNames or [])


def _port(raw: RawAdminPort) -> PortSpec:
    if raw.portNumber is not None:
        n = raw.portNumber
        return PortSpec(Protocol(n.protocol), n.port, n.port)
    if raw.portRange is not None:
        r = raw.portRange
        return PortSpec(Protocol(r.protocol), r.start, r.end)
    assert raw.namedPort is not None
    # A named port carries no protocol: it matches the container port of that name, any protocol.
    return PortSpec(Protocol.TCP, name=raw.namedPort)


def _cnp_ports(raw: list[RawProtocolPort] | None) -> tuple[PortSpec, ...] | None:
    if raw is None:
        return None
    out: list[PortSpec] = []
    for item in raw:
        if item.destinationNamedPort is not None:
            out += [PortSpec(p, name=item.destinationNamedPort) for p in BASE_PROTOCOLS]
            continue
        for proto in BASE_PROTOCOLS:
            match = getattr(item, proto.value.lower())
            if match is None:
                continue
            port = match.destinationPort
            if port is None:
                out.append(PortSpec(proto))
            elif port.number is not None:
                out.append(PortSpec(proto, port.number, port.number))
            else:
                assert port.range is not None
                out.append(PortSpec(proto, port.range.start, port.range.end))
    return tuple(out)


def _rules(
    raw_rules: Sequence[
        RawAdminIngressRule | RawAdminEgressRule | RawCNPIngressRule | RawCNPEgressRule
    ],
    direction: Direction,
    doc: Document,
    origin: Origin,
) -> tuple[tuple[AdminRule, ...], list[Diagnostic]]:
    rules: list[AdminRule] = []
    notes: list[Diagnostic] = []
    field = "ingress" if direction is Direction.INGRESS else "egress"
    for i, raw in enumerate(raw_rules):
        # Each list holds one direction's rules, of either API.
        raw_peers = (
            cast("RawAdminIngressRule | RawCNPIngressRule", raw).from_
            if direction is Direction.INGRESS
            else cast("RawAdminEgressRule | RawCNPEgressRule", raw).to
        )
        peers: list[Peer] = []
        domains: list[str] = []
        for p in raw_peers:
            found, names = _peers(p)
            peers += found
            domains += names
        if not isinstance(raw, RawAdminIngressRule | RawAdminEgressRule):
            ports = _cnp_ports(raw.protocols)
        else:
            ports = (
                tuple(spec for p in raw.ports for spec in _named_any_protocol(_port(p), p))
                if raw.ports
                else None
            )
        rule_origin = origin.with_rule(i, doc.line_of(("spec", field, i)))
        if domains:
            notes.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS120",
                    f"rule {raw.name or i} allows domain names ({', '.join(domains)}); a static analysis "
                    "cannot resolve them, so they are reported and never counted as reachable",
                    rule_origin,
                    f"spec.{field}[{i}].to",
                )
            )
        rules.append(
            AdminRule(
                raw.name,
                Action.ALLOW if raw.action == "Accept" else Action(raw.action),
                direction,
                tuple(peers),
                ports,
                i,
                tuple(domains),
                rule_origin,
            )
        )
    return tuple(rules), notes


def _named_any_protocol(spec: PortSpec, raw: RawAdminPort) -> list[PortSpec]:
    if raw.namedPort is None:
        return [spec]
    return [PortSpec(p, name=raw.namedPort) for p in BASE_PROTOCOLS]


def _parse_cnp(doc: Document) -> tuple[AdminPolicy | None, list[Diagnostic]]:
    from microseg.ingest.cnp_schema import RawClusterNetworkPolicy

    try:
        raw = RawClusterNetworkPolicy.model_validate(doc.data)
    except ValidationError as exc:
        return None, diagnostics_from(exc, doc, "MS110")
    base = doc.origin()
    origin = Origin(
        base.file, base.document, base.line, "ClusterNetworkPolicy", "", raw.metadata.name
    )
    ingress, n1 = _rules(raw.spec.ingress or [], Direction.INGRESS, doc, origin)
    egress, n2 = _rules(raw.spec.egress or [], Direction.EGRESS, doc, origin)
    tier = AdminTier.ADMIN if raw.spec.tier == "Admin" else AdminTier.BASELINE
    policy = AdminPolicy(
        "ClusterNetworkPolicy",
        raw.metadata.name,
        tier,
        raw.spec.priority,
        _subject(raw.spec.subject),
        ingress,
        egress,
        origin,
    )
    return policy, n1 + n2


def parse_admin_policy(doc: Document) -> tuple[AdminPolicy | None, list[Diagnostic]]:
    kind = str(doc.data["kind"])
    if kind == "ClusterNetworkPolicy":
        return _parse_cnp(doc)
    baseline = kind == "BaselineAdminNetworkPolicy"
    try:
        raw = (RawBaselineAdminNetworkPolicy if baseline else RawAdminNetworkPolicy).model_validate(
            doc.data
        )
    except ValidationError as exc:
        return None, diagnostics_from(exc, doc, "MS110")
    base = doc.origin()
    origin = Origin(base.file, base.document, base.line, kind, "", raw.metadata.name)
    ingress, n1 = _rules(raw.spec.ingress or [], Direction.INGRESS, doc, origin)
    egress, n2 = _rules(raw.spec.egress or [], Direction.EGRESS, doc, origin)
    priority = 0 if isinstance(raw, RawBaselineAdminNetworkPolicy) else raw.spec.priority
    policy = AdminPolicy(
        kind=kind,
        name=raw.metadata.name,
        tier=AdminTier.BASELINE if baseline else AdminTier.ADMIN,
        priority=priority,
        subject=_subject(raw.spec.subject),
        ingress=ingress,
        egress=egress,
        origin=origin,
    )
    return policy, n1 + n2
