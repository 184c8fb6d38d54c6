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

import numpy as np

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

    protos = [p.value for p in PROTO_LIST]
    known = np.zeros(max(w, 1), np.bool_)
    known[list(peer_of)] = True
    src, dst, proto, port = learnt.src, learnt.dst, learnt.proto, learnt.port
    ok = ((src >= w) | known[np.minimum(src, max(w - 1, 0))]) & (
        (dst >= w) | known[np.minimum(dst, max(w - 1, 0))]
    )
    src, dst, proto, port = src[ok], dst[ok], proto[ok], port[ok]
    why = np.zeros(len(src), np.int64)
    talkers = np.unique(src[src < w])
    found = resolvers(learnt) if dns else []
    extra = []
    for r in found:
        if r < w and not known[r]:
            continue
        for name in _DNS:
            pr = protos.index(name)
            n = len(talkers)
            extra.append(
                (talkers, np.full(n, r), np.full(n, pr), np.full(n, 53), np.ones(n, np.int64))
            )
    if extra:
        src = np.concatenate([src, *[e[0] for e in extra]])
        dst = np.concatenate([dst, *[e[1] for e in extra]])
        proto = np.concatenate([proto, *[e[2] for e in extra]])
        port = np.concatenate([port, *[e[3] for e in extra]])
        why = np.concatenate([why, *[e[4] for e in extra]])
    whys = (Why.OBSERVED.value, Why.DNS.value)
    # Port items once per (destination, protocol, port): a name where the destination
    # workload declares one for every pod.
    code = (dst * len(protos) + proto) * 65536 + port
    uniq, item_of = np.unique(code, return_inverse=True)
    item_of = item_of.reshape(-1)
    items: list[PortItem] = []
    for c in uniq.tolist():
        d, rest = divmod(c, len(protos) * 65536)
        pr, pt = divmod(rest, 65536)
        name = named.get(d, {}).get((protos[pr], pt), "") if d < w else ""
        items.append(PortItem(protos[pr], name=name) if name else PortItem(protos[pr], pt, pt))
    tgt = np.full(max(w, 1), np.iinfo(np.int64).min, np.int64)
    for i, t in target_of.items():
        tgt[i] = t
    covered = tgt != np.iinfo(np.int64).min
    src_cov = (src < w) & covered[np.minimum(src, max(w - 1, 0))]
    dst_cov = (dst < w) & covered[np.minimum(dst, max(w - 1, 0))]
    # Workload peers, grouped with numpy: (target, direction, peer) -> items and reasons.
    parts = []
    for mine, peer, d_code, sel in (
        (src, dst, 0, src_cov & (dst < w)),
        (dst, src, 1, dst_cov & (src < w)),
    ):
        idx = np.flatnonzero(sel)
        parts.append((tgt[mine[idx]], np.full(len(idx), d_code), peer[idx], item_of[idx], why[idx]))
    t_all = np.concatenate([p[0] for p in parts])
    d_all = np.concatenate([p[1] for p in parts])
    p_all = np.concatenate([p[2] for p in parts])
    i_all = np.concatenate([p[3] for p in parts])
    y_all = np.concatenate([p[4] for p in parts])
    order = np.lexsort((p_all, d_all, t_all))
    t_all, d_all, p_all, i_all, y_all = (a[order] for a in (t_all, d_all, p_all, i_all, y_all))
    if len(order):
        change = np.flatnonzero(
            (np.diff(t_all) != 0) | (np.diff(d_all) != 0) | (np.diff(p_all) != 0)
        )
        starts = np.concatenate([[0], change + 1, [len(order)]])
        directions = (Direction.EGRESS, Direction.INGRESS)
        it_list, y_list = i_all.tolist(), y_all.tolist()
        for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
            needs.put(
                int(t_all[a]),
                directions[int(d_all[a])],
                peer_of[int(p_all[a])],
                frozenset(items[k] for k in it_list[a:b]),
                {whys[k] for k in y_list[a:b]},
            )
    # Addresses: aggregated per target, direction and port set (few, Python is fine).
    for mine, other, direction, sel in (
        (src, dst, Direction.EGRESS, src_cov & (dst >= w)),
        (dst, src, Direction.INGRESS, dst_cov & (src >= w)),
    ):
        for k in np.flatnonzero(sel).tolist():
            t = int(tgt[mine[k]])
            ip = learnt.addresses[int(other[k]) - w]
            addr[(t, direction)][ip].add(items[int(item_of[k])])
            addr_why[(t, direction, ip)].add(whys[int(why[k])])
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
