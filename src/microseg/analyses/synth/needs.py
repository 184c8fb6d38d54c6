"""Learnt edges to Needs: what each workload's policy must allow, with the documented
additions (DNS to the resolver actually observed, probes with --allow-probes) and external
addresses aggregated into CIDRs.

DNS: the resolvers are the destinations of the learnt UDP/53 and TCP/53 edges (CoreDNS or
kube-dns pods, reached directly or through the kube-dns Service; or an address such as the
NodeLocal DNSCache's 169.254.20.10). Every workload with learnt egress gets egress to each
resolver on UDP and TCP 53 (a resolver answers over TCP when a reply is truncated, RFC
7766), and each resolver workload ingress from them: a workload that talks resolves names,
even when its lookups were cached through the window.

Probes: the kubelet connects from the node to httpGet, tcpSocket and grpc probe ports
(kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/).
Many CNIs let node traffic in whatever the policies say, others do not (the NetworkPolicy
reference leaves it open); with --allow-probes the node addresses get an ipBlock rule on
the probe ports, else a note names them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from microseg.analyses.simulate import PROTO_LIST
from microseg.analyses.synth.cidrs import address_classes, aggregate, is_public, public_block
from microseg.analyses.synth.observe import Learnt
from microseg.analyses.synth.types import Needs, PeerKind, PeerRef, PortItem, Why
from microseg.model.cluster import Cluster
from microseg.model.netpol import Direction

__all__ = ["AddressOptions", "build_needs", "probe_needs", "resolvers"]

_DNS = ("UDP", "TCP")


@dataclass(frozen=True, slots=True)
class AddressOptions:
    max_v4: int = 24
    max_v6: int = 64
    internet_egress: bool = False
    internet_ingress: bool = False


def resolvers(learnt: Learnt) -> list[int]:
    """Endpoints (workload index or address id) that answered DNS on port 53."""
    udp = PROTO_LIST.index(next(p for p in PROTO_LIST if p.value == "UDP"))
    tcp = PROTO_LIST.index(next(p for p in PROTO_LIST if p.value == "TCP"))
    hit = ((learnt.proto == udp) | (learnt.proto == tcp)) & (learnt.port == 53)
    dns_udp = set(learnt.dst[hit & (learnt.proto == udp)].tolist())
    return sorted(dns_udp)


def build_needs(
    cluster: Cluster,
    learnt: Learnt,
    target_of: dict[int, int],
    peer_of: dict[int, PeerRef],
    named: dict[int, dict[tuple[str, int], str]],
    names_seen: dict[str, tuple[str, ...]],
    options: AddressOptions,
    dns: bool = True,
) -> tuple[Needs, list[int]]:
    """`target_of`: workload index -> policy target (itself, or a namespace's target for
    --granularity namespace), for the workloads the set covers; `peer_of`: how a workload
    is named as a peer. Returns the needs and the resolvers found."""
    needs = Needs()
    w = learnt.n_workloads
    addr: dict[tuple[int, Direction], dict[str, set[PortItem]]] = defaultdict(
        lambda: defaultdict(set)
    )
    addr_why: dict[tuple[int, Direction, str], set[str]] = defaultdict(set)

    items: dict[tuple[int, str, int], PortItem] = {}

    def item(dst: int, proto: str, port: int) -> PortItem:
        key = (dst, proto, port)
        got = items.get(key)
        if got is None:
            name = named.get(dst, {}).get((proto, port), "") if dst < w else ""
            got = items[key] = PortItem(proto, name=name) if name else PortItem(proto, port, port)
        return got

    # Accumulated by integers first: hashing PeerRefs per edge costs more than the rest.
    acc: dict[tuple[int, Direction, int], tuple[set[PortItem], set[str]]] = {}

    def put(t: int, direction: Direction, peer: int, it: PortItem, why: str) -> None:
        key = (t, direction, peer)
        got = acc.get(key)
        if got is None:
            acc[key] = ({it}, {why})
        else:
            got[0].add(it)
            got[1].add(why)

    def add(src: int, dst: int, it: PortItem, why: str) -> None:
        if src < w and src in target_of:
            t = target_of[src]
            if dst < w:
                put(t, Direction.EGRESS, dst, it, why)
            else:
                ip = learnt.addresses[dst - w]
                addr[(t, Direction.EGRESS)][ip].add(it)
                addr_why[(t, Direction.EGRESS, ip)].add(why)
        if dst < w and dst in target_of:
            t = target_of[dst]
            if src < w:
                put(t, Direction.INGRESS, src, it, why)
            else:
                ip = learnt.addresses[src - w]
                addr[(t, Direction.INGRESS)][ip].add(it)
                addr_why[(t, Direction.INGRESS, ip)].add(why)

    protos = [p.value for p in PROTO_LIST]
    talkers: set[int] = set()
    for s, d, pr, pt in zip(
        learnt.src.tolist(),
        learnt.dst.tolist(),
        learnt.proto.tolist(),
        learnt.port.tolist(),
        strict=True,
    ):
        if (s < w and s not in peer_of) or (d < w and d not in peer_of):
            continue
        add(s, d, item(d, protos[pr], pt), Why.OBSERVED)
        if s < w:
            talkers.add(s)
    found = resolvers(learnt) if dns else []
    for r in found:
        if r < w and r not in peer_of:
            continue
        for s in sorted(talkers):
            for proto in _DNS:
                add(s, r, item(r, proto, 53), Why.DNS)
    for (t, direction, peer), (its, whys) in sorted(
        acc.items(), key=lambda kv: (kv[0][0], kv[0][1].value, kv[0][2])
    ):
        needs.put(t, direction, peer_of[peer], frozenset(its), whys)
    _addresses(needs, learnt, addr, addr_why, names_seen, options)
    return needs, found


def _label(
    cidr: str, members: list[str], learnt: Learnt, names_seen: dict[str, tuple[str, ...]]
) -> str:
    w = {a: n for a, n in zip(learnt.addresses, learnt.address_node, strict=True) if n}
    nodes = sorted({w[m] for m in members if m in w})
    if nodes:
        return "node " + ", ".join(nodes)
    out = address_classes(cidr)
    seen = sorted({n for m in members for n in names_seen.get(m, ())})
    if seen:
        out += "; seen as " + ", ".join(seen[:5]) + (" ..." if len(seen) > 5 else "")
    return out


def _addresses(
    needs: Needs,
    learnt: Learnt,
    addr: dict[tuple[int, Direction], dict[str, set[PortItem]]],
    addr_why: dict[tuple[int, Direction, str], set[str]],
    names_seen: dict[str, tuple[str, ...]],
    options: AddressOptions,
) -> None:
    nodes = {a for a, n in zip(learnt.addresses, learnt.address_node, strict=True) if n}
    for (t, direction), per in sorted(addr.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        internet = (
            options.internet_egress if direction is Direction.EGRESS else options.internet_ingress
        )
        public: dict[int, set[PortItem]] = defaultdict(set)
        public_why: dict[int, set[str]] = defaultdict(set)
        groups: dict[frozenset[PortItem], list[str]] = defaultdict(list)
        items: frozenset[PortItem] | set[PortItem]
        for ip, items in per.items():
            if internet and ip not in nodes and is_public(ip):
                v = 6 if ":" in ip else 4
                public[v] |= items
                public_why[v] |= addr_why[(t, direction, ip)]
                continue
            groups[frozenset(items)].append(ip)
        for v in sorted(public):
            cidr, excepts = public_block(v)
            peer = PeerRef(PeerKind.CIDR, cidr=cidr, excepts=excepts, label="the public internet")
            for why in sorted(public_why[v]):
                needs.add(t, direction, peer, frozenset(public[v]), why)
        for items, ips in groups.items():
            plain = [ip for ip in ips if ip not in nodes]
            blocks = aggregate(plain, options.max_v4, options.max_v6)
            blocks += [
                (f"{ip}/{128 if ':' in ip else 32}", [ip]) for ip in sorted(set(ips) & nodes)
            ]
            for cidr, members in blocks:
                peer = PeerRef(
                    PeerKind.CIDR, cidr=cidr, label=_label(cidr, members, learnt, names_seen)
                )
                whys = set().union(*(addr_why[(t, direction, m)] for m in members))
                for why in sorted(whys):
                    needs.add(t, direction, peer, frozenset(items), why)


def probe_needs(
    cluster: Cluster,
    needs: Needs,
    target_of: dict[int, int],
    node_cidrs: list[tuple[str, str]],
) -> None:
    """Ingress from the node addresses (cidr, label) on every network probe's port."""
    for i, t in sorted(target_of.items()):
        probes = cluster.workloads[i].probes
        if not probes:
            continue
        items = frozenset(
            PortItem("TCP", name=p.port)
            if isinstance(p.port, str)
            else PortItem("TCP", p.port, p.port)
            for p in probes
        )
        for cidr, label in node_cidrs:
            needs.add(
                t,
                Direction.INGRESS,
                PeerRef(PeerKind.CIDR, cidr=cidr, label=label),
                items,
                Why.PROBE,
            )
