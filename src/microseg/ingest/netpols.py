"""NetworkPolicy documents to model objects, applying the API's defaults."""

from __future__ import annotations

from pydantic import ValidationError

from microseg.errors import Diagnostic, Origin
from microseg.ingest.documents import Document
from microseg.ingest.k8s_schema import RawLabelSelector, RawNetworkPolicy, RawPeer, RawPort
from microseg.ingest.validation import diagnostics_from
from microseg.model.netpol import (
    Direction,
    IPBlockPeer,
    NetworkPolicy,
    Peer,
    PodPeer,
    PortSpec,
    Rule,
)
from microseg.model.selectors import LabelSelector, Operator, Requirement
from microseg.model.sets import IPSet, Protocol

__all__ = ["parse_network_policy", "selector_from_raw"]


def selector_from_raw(raw: RawLabelSelector) -> LabelSelector:
    reqs = [
        Requirement(k, Operator.IN, frozenset([v]))
        for k, v in sorted((raw.matchLabels or {}).items())
    ]
    for e in raw.matchExpressions or []:
        reqs.append(Requirement(e.key, Operator(e.operator), frozenset(e.values or ())))
    return LabelSelector(tuple(reqs))


def _peer(raw: RawPeer, namespace: str) -> Peer:
    if raw.ipBlock is not None:
        addresses = IPSet.from_cidr(raw.ipBlock.cidr)
        for e in raw.ipBlock.except_ or []:
            addresses = addresses - IPSet.from_cidr(e)
        return IPBlockPeer(raw.ipBlock.cidr, tuple(raw.ipBlock.except_ or ()), addresses)
    pods = selector_from_raw(raw.podSelector) if raw.podSelector is not None else LabelSelector()
    if raw.namespaceSelector is None:
        # podSelector alone selects pods in the policy's own namespace (API reference).
        return PodPeer(pods, namespace=namespace)
    return PodPeer(pods, namespace_selector=selector_from_raw(raw.namespaceSelector))


def _port(raw: RawPort) -> PortSpec:
    protocol = Protocol(raw.protocol)
    if raw.port is None:
        return PortSpec(protocol)
    if isinstance(raw.port, str):
        return PortSpec(protocol, name=raw.port)
    return PortSpec(protocol, raw.port, raw.endPort if raw.endPort is not None else raw.port)


def _rules(
    raw_rules: list[tuple[list[RawPeer] | None, list[RawPort] | None]],
    namespace: str,
    doc: Document,
    origin: Origin,
    field: str,
) -> tuple[Rule, ...]:
    rules = []
    for i, (peers, ports) in enumerate(raw_rules):
        # An absent or empty from/to, or ports list, matches everything (API reference).
        rules.append(
            Rule(
                peers=tuple(_peer(p, namespace) for p in peers) if peers else None,
                ports=tuple(_port(p) for p in ports) if ports else None,
                index=i,
                origin=origin.with_rule(i, doc.line_of(("spec", field, i))),
            )
        )
    return tuple(rules)


def parse_network_policy(doc: Document) -> NetworkPolicy | list[Diagnostic]:
    try:
        raw = RawNetworkPolicy.model_validate(doc.data)
    except ValidationError as exc:
        return diagnostics_from(exc, doc, "MS102")
    namespace = raw.metadata.namespace or "default"
    spec = raw.spec
    origin = doc.origin()
    origin = Origin(
        origin.file, origin.document, origin.line, "NetworkPolicy", namespace, raw.metadata.name
    )
    if spec.policyTypes:
        types = frozenset(Direction(t) for t in spec.policyTypes)
    else:
        # Default: Ingress always; Egress when the policy has egress rules (API reference).
        types = frozenset([Direction.INGRESS] + ([Direction.EGRESS] if spec.egress else []))
    ingress = _rules(
        [(r.from_, r.ports) for r in spec.ingress or []], namespace, doc, origin, "ingress"
    )
    egress = _rules([(r.to, r.ports) for r in spec.egress or []], namespace, doc, origin, "egress")
    return NetworkPolicy(
        namespace=namespace,
        name=raw.metadata.name,
        pod_selector=selector_from_raw(spec.podSelector or RawLabelSelector()),
        policy_types=types,
        ingress=ingress if Direction.INGRESS in types else (),
        egress=egress if Direction.EGRESS in types else (),
        origin=origin,
    )
