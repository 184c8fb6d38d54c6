"""`--format calico`: the NetworkPolicies the other formats write, as Calico
`projectcalico.org/v3` NetworkPolicies with Calico selectors.

The needs, the stable selectors, the named target ports (a Service port becomes the
destination pod's port), the DNS rule to the observed resolver and the CIDR aggregation
are those of the networkpolicy format (build.py): each generated NetworkPolicy is turned
into one Calico NetworkPolicy that admits exactly the same traffic, so the two formats can
be compared line for line. Shapes (docs.tigera.io/calico/latest/reference/resources/
networkpolicy):
- `selector` from the workload's stable label selector (`app == 'web'`, `k in {...}`,
  `has(k)`, `!has(k)`, joined by `&&`; `all()` for every endpoint of the namespace);
- one rule per (peer, protocol), since a Calico rule has one `source`/`destination` and one
  `protocol`: a peer pod by `selector` (scoped to the policy's namespace, as Calico scopes
  a namespaced policy's rule selectors), one elsewhere by `namespaceSelector` on
  `kubernetes.io/metadata.name` as well; addresses by `nets` (and `notNets` for the
  excepts); ports as numbers, `lo:hi` ranges or the container port's name, on the
  destination; a rule without ports names no protocol (every protocol, as the
  NetworkPolicy rule without ports);
- `types: [Ingress, Egress]` on every policy, so each isolates both ways even with no rule;
- the default deny as one namespaced NetworkPolicy per covered namespace with
  `selector: all()` and no rules: Calico ends a tier that selected an endpoint and allowed
  nothing with the tier's default action, Deny (.../network-policy/policy-tiers/
  tiered-policy). A GlobalNetworkPolicy with a `namespaceSelector` (.../resources/
  globalnetworkpolicy) would do the same for every namespace at once, but it is a
  cluster-scoped object: a namespace team could not own, review or roll back its own step
  (rollout writes one file per namespace), and it would outlive the namespaces it names.

All policies go in the `default` tier (where Kubernetes NetworkPolicies sit), the allows
at order 100 and the default deny at order 2000 (ordered after every policy of the tier
Calico orders by default: Kubernetes ones sit at 1000), so a reviewer reading the tier
sees the deny last; the verdict does not depend on it, since it has no rule.
"""

from __future__ import annotations

from collections import defaultdict

from microseg.analyses.synth.build import DEFAULT_DENY
from microseg.analyses.synth.types import Generated
from microseg.model.calico import (
    DEFAULT_TIER,
    CalicoAction,
    CalicoPolicy,
    CalicoPort,
    CalicoRule,
    EntityRule,
    ProtocolMatch,
)
from microseg.model.calico_selector import All, Selector, parse_selector
from microseg.model.netpol import Direction, IPBlockPeer, NetworkPolicy, PodPeer, PortSpec, Rule
from microseg.model.selectors import LabelSelector, Operator
from microseg.model.sets import IPSet, Protocol

__all__ = ["ALLOW_ORDER", "DENY_ORDER", "calico_policies", "selector_text", "to_calico"]

ALLOW_ORDER = 100.0
DENY_ORDER = 2000.0
_BOTH = frozenset({Direction.INGRESS, Direction.EGRESS})
_PROTOCOLS = {p.value: p for p in Protocol}


def selector_text(sel: LabelSelector) -> str:
    """A Kubernetes label selector in Calico's selector language, the same set of labels.
    Label values are RFC 1123-like (no quotes), so single quotes always delimit them."""
    parts: list[str] = []
    for r in sorted(sel.requirements, key=lambda r: (r.key, r.operator.value, sorted(r.values))):
        values = sorted(r.values)
        if r.operator is Operator.IN and len(values) == 1:
            parts.append(f"{r.key} == '{values[0]}'")
        elif r.operator is Operator.IN:
            parts.append(f"{r.key} in {{{', '.join(repr_(v) for v in values)}}}")
        elif r.operator is Operator.NOT_IN:
            parts.append(f"{r.key} not in {{{', '.join(repr_(v) for v in values)}}}")
        elif r.operator is Operator.EXISTS:
            parts.append(f"has({r.key})")
        else:
            parts.append(f"!has({r.key})")
    return " && ".join(parts) if parts else "all()"


def repr_(value: str) -> str:
    return f"'{value}'"


def _selector(sel: LabelSelector) -> Selector:
    return parse_selector(selector_text(sel))


def _peer(peer: object, ports: tuple[CalicoPort, ...] | None) -> EntityRule:
    """The peer's side of a rule; `ports` when the peer is the destination (egress)."""
    if peer is None:
        return EntityRule(ports=ports)
    if isinstance(peer, IPBlockPeer):
        not_nets = None
        if peer.excepts:
            not_nets = IPSet()
            for e in peer.excepts:
                not_nets = not_nets | IPSet.from_cidr(e)
        return EntityRule(nets=IPSet.from_cidr(peer.cidr), not_nets=not_nets, ports=ports)
    assert isinstance(peer, PodPeer), "generated peers are pods or address blocks"
    ns = None if peer.namespace_selector is None else _selector(peer.namespace_selector)
    return EntityRule(selector=_selector(peer.pod_selector), namespace_selector=ns, ports=ports)


def _by_protocol(ports: tuple[PortSpec, ...] | None) -> list[tuple[str, tuple[CalicoPort, ...]]]:
    """("", ()) for every protocol; else per protocol its ports (empty: the whole protocol)."""
    if ports is None:
        return [("", ())]
    per: dict[str, list[CalicoPort]] = defaultdict(list)
    whole: set[str] = set()
    for p in ports:
        proto = p.protocol.value
        if p.name:
            per[proto].append(CalicoPort(name=p.name))
        elif (p.start, p.end) == (1, 65535):
            whole.add(proto)
        else:
            per[proto].append(CalicoPort(p.start, p.end))
    out: list[tuple[str, tuple[CalicoPort, ...]]] = []
    for proto in sorted(set(per) | whole):
        out.append((proto, () if proto in whole else tuple(per[proto])))
    return out


def _rules(
    rules: tuple[Rule, ...], direction: Direction, comments: dict[tuple[str, int, int], str]
) -> tuple[tuple[CalicoRule, ...], list[tuple[tuple[str, int, int], str]]]:
    d = direction.value.lower()
    out: list[CalicoRule] = []
    notes: list[tuple[tuple[str, int, int], str]] = []
    for rule in rules:
        peers: tuple[object, ...] = rule.peers if rule.peers is not None else (None,)
        for j, peer in enumerate(peers):
            for proto, ports in _by_protocol(rule.ports):
                listed = ports or None
                # the ports are the destination's: ours on ingress, the peer's on egress
                if direction is Direction.INGRESS:
                    src, dst = _peer(peer, None), EntityRule(ports=listed)
                else:
                    src, dst = EntityRule(), _peer(peer, listed)
                note = comments.get((d, rule.index, j), "")
                if note:
                    notes.append(((d, len(out), -1), note))
                out.append(
                    CalicoRule(
                        CalicoAction.ALLOW,
                        direction,
                        len(out),
                        protocol=ProtocolMatch(_PROTOCOLS[proto]) if proto else None,
                        source=src,
                        destination=dst,
                    )
                )
    return tuple(out), notes


def to_calico(g: Generated) -> Generated:
    """One generated NetworkPolicy as a Calico NetworkPolicy admitting the same traffic."""
    p = g.policy
    assert isinstance(p, NetworkPolicy), "the calico format converts NetworkPolicies"
    comments = dict(g.comments)
    ingress, c_in = _rules(p.ingress, Direction.INGRESS, comments)
    egress, c_out = _rules(p.egress, Direction.EGRESS, comments)
    deny = p.name == DEFAULT_DENY and not p.ingress and not p.egress
    text = selector_text(p.pod_selector)
    policy = CalicoPolicy(
        kind="NetworkPolicy",
        name=p.name,
        namespace=p.namespace,
        tier=DEFAULT_TIER,
        order=DENY_ORDER if deny else ALLOW_ORDER,
        selector=parse_selector(text) if text != "all()" else All(),
        types=_BOTH if p.policy_types == _BOTH else p.policy_types,
        ingress=ingress,
        egress=egress,
        selector_text=text,
    )
    heads = tuple((k, v) for k, v in g.comments if k[0] == "spec")
    return Generated(
        "NetworkPolicy",
        g.namespace,
        g.name,
        policy,
        g.group,
        g.workload,
        g.annotations,
        heads + tuple(c_in + c_out),
        g.header,
    )


def calico_policies(generated: list[Generated]) -> list[Generated]:
    return [to_calico(g) for g in generated]
