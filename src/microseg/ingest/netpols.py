"""NetworkPolicy documents to model objects, applying the API's defaults."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

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


def parse_network_policy(
    doc: Document, memo: PolicyMemo | None = None
) -> NetworkPolicy | list[Diagnostic]:
    """The policy with the API's defaults applied, or its located diagnostics.

    Plain documents take a memoized path (`fast_network_policy`); anything it does not
    vouch for, including every invalid document, goes through the pydantic schema, so
    diagnostics are the schema's own."""
    try:
        fast = fast_network_policy(doc, _MEMO if memo is None else memo)
    except TypeError:  # an unhashable value (a YAML !!set, say): the schema decides
        fast = None
    if fast is not None:
        return fast
    return _schema_network_policy(doc)


def _schema_network_policy(doc: Document) -> NetworkPolicy | list[Diagnostic]:
    """The whole document through the pydantic schema: the reference the memoized path
    must match, and the source of every diagnostic."""
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


# --- The memoized path ---------------------------------------------------------------------
#
# Real policy sets repeat the same selectors, peers and port lists thousands of times. Each
# distinct sub-document is validated once, by the same pydantic model the whole-document
# schema applies to it, and turned into its model object once; equal sub-documents then share
# that object, which also makes the engine's grouping by peer and port sets cheap. The
# policy's skeleton (metadata, spec, rule lists) is checked here, conservatively: any shape
# not plainly valid returns None and the caller validates the whole document with pydantic.

_MEMO_CAP = 200_000


def _key(value: Any) -> str:
    """A key equal only for documents pydantic treats alike: `repr` of parsed YAML or JSON
    keeps mapping order and tells apart what Python's `==` does not (True, 1 and 1.0; a
    string and a number), and costs one C call."""
    return repr(value)


class PolicyMemo:
    """Validated sub-documents and their model objects, by frozen key. Bounded: cleared when
    it grows past a cap, since it only saves work."""

    __slots__ = ("peer_tuples", "peers", "port_tuples", "raw", "selectors")

    def __init__(self) -> None:
        self.raw: dict[tuple[type[BaseModel], Any], BaseModel | None] = {}
        self.selectors: dict[Any, LabelSelector] = {}
        self.peers: dict[tuple[str | None, Any], Peer] = {}
        self.peer_tuples: dict[tuple[Any, ...], tuple[Peer, ...]] = {}
        self.port_tuples: dict[Any, tuple[PortSpec, ...]] = {}

    def trim(self) -> None:
        if len(self.raw) + len(self.peers) + len(self.peer_tuples) > _MEMO_CAP:
            for table in (self.raw, self.selectors, self.peers, self.peer_tuples):
                table.clear()
            self.port_tuples.clear()

    def valid(self, model: type[BaseModel], key: Any, value: Any) -> Any:
        """`value` validated by `model` (memoized), or None when pydantic rejects it."""
        memo_key = (model, key)
        if memo_key in self.raw:
            return self.raw[memo_key]
        try:
            out: BaseModel | None = model.model_validate(value)
        except ValidationError:
            out = None
        self.raw[memo_key] = out
        return out


_MEMO = PolicyMemo()


def _fast_selector(value: Any, memo: PolicyMemo) -> LabelSelector | None:
    if value is None:
        value = {}  # null or absent selects every pod, as {} does
    if type(value) is not dict:
        return None
    key = _key(value)
    hit = memo.selectors.get(key)
    if hit is None:
        raw = memo.valid(RawLabelSelector, key, value)
        if raw is None:
            return None
        hit = memo.selectors[key] = selector_from_raw(raw)
    return hit


def _fast_peers(value: Any, namespace: str, memo: PolicyMemo) -> tuple[Peer, ...] | None:
    """The rule's peers (an empty tuple for an empty list), or None to fall back."""
    if type(value) is not list:
        return None
    tuple_key = (namespace, _key(value))
    hit = memo.peer_tuples.get(tuple_key)
    if hit is not None:
        return hit
    peers = []
    for p in value:
        if type(p) is not dict:
            return None
        ip_block = p.get("ipBlock")
        if type(ip_block) is dict and "except_" in ip_block:
            return None  # a field name, not the alias: leave the subtleties to pydantic
        key = _key(p)
        raw = memo.valid(RawPeer, key, p)
        if raw is None:
            return None
        # Only a podSelector-alone peer depends on the policy's namespace.
        peer_key = (namespace if raw.namespaceSelector is None else None, key)
        peer = memo.peers.get(peer_key)
        if peer is None:
            peer = memo.peers[peer_key] = _peer(raw, namespace)
        peers.append(peer)
    out = memo.peer_tuples[tuple_key] = tuple(peers)
    return out


def _fast_ports(value: Any, memo: PolicyMemo) -> tuple[PortSpec, ...] | None:
    if type(value) is not list:
        return None
    key = _key(value)
    hit = memo.port_tuples.get(key)
    if hit is None:
        ports = []
        for p in value:
            if type(p) is not dict:
                return None
            raw = memo.valid(RawPort, _key(p), p)
            if raw is None:
                return None
            ports.append(_port(raw))
        hit = memo.port_tuples[key] = tuple(ports)
    return hit


def _fast_rules(
    value: Any, field: str, namespace: str, doc: Document, origin: Origin, memo: PolicyMemo
) -> tuple[Rule, ...] | None:
    if value is None:
        return ()
    if type(value) is not list:
        return None
    peers_key = "from" if field == "ingress" else "to"
    rules = []
    for i, r in enumerate(value):
        if type(r) is not dict or "from_" in r:
            return None
        raw_peers, raw_ports = r.get(peers_key), r.get("ports")
        peers = None if raw_peers is None else _fast_peers(raw_peers, namespace, memo)
        ports = None if raw_ports is None else _fast_ports(raw_ports, memo)
        if (raw_peers is not None and peers is None) or (raw_ports is not None and ports is None):
            return None
        if (
            field == "egress"
            and any(p.name for p in ports or ())
            and any(isinstance(p, IPBlockPeer) for p in peers or ())
        ):
            return None  # named port with an ipBlock peer: the schema's error
        # An absent or empty from/to, or ports list, matches everything (API reference).
        rules.append(
            Rule(
                peers=peers or None,
                ports=ports or None,
                index=i,
                origin=origin.with_rule(i, doc.line_of(("spec", field, i))),
            )
        )
    return tuple(rules)


def fast_network_policy(doc: Document, memo: PolicyMemo) -> NetworkPolicy | None:
    """The policy as `parse_network_policy` builds it, or None when the document is not
    plainly valid (the caller then runs the full schema)."""
    memo.trim()
    data = doc.data
    meta = data.get("metadata")
    if type(meta) is not dict:
        return None
    name, namespace, labels = meta.get("name"), meta.get("namespace"), meta.get("labels")
    if type(name) is not str or (namespace is not None and type(namespace) is not str):
        return None
    if labels is not None and (
        type(labels) is not dict
        or any(type(k) is not str or type(v) is not str for k, v in labels.items())
    ):
        return None
    spec = data.get("spec", {})
    if type(spec) is not dict:
        return None
    pod_selector = _fast_selector(spec.get("podSelector"), memo)
    raw_types = spec.get("policyTypes")
    if pod_selector is None or not (
        raw_types is None
        or (type(raw_types) is list and all(t in ("Ingress", "Egress") for t in raw_types))
    ):
        return None
    if raw_types and any(type(t) is not str for t in raw_types):
        return None
    namespace = namespace or "default"
    o = doc.origin()
    origin = Origin(o.file, o.document, o.line, "NetworkPolicy", namespace, name)
    ingress = _fast_rules(spec.get("ingress"), "ingress", namespace, doc, origin, memo)
    egress = _fast_rules(spec.get("egress"), "egress", namespace, doc, origin, memo)
    if ingress is None or egress is None:
        return None
    if raw_types:
        types = frozenset(Direction(t) for t in raw_types)
    else:
        # Default: Ingress always; Egress when the policy has egress rules (API reference).
        types = frozenset([Direction.INGRESS] + ([Direction.EGRESS] if egress else []))
    return NetworkPolicy(
        namespace=namespace,
        name=name,
        pod_selector=pod_selector,
        policy_types=types,
        ingress=ingress if Direction.INGRESS in types else (),
        egress=egress if Direction.EGRESS in types else (),
        origin=origin,
    )
