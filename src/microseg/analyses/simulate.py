"""Replaying observed flow keys against policies: which would be denied, what a proposal
changes, which rules the traffic uses, and where the records disagree with the policies.

Pure: takes the Connectivity (or two: the current policies and the proposal) and flow keys
already resolved to pods and addresses (model/flows.py), and returns a report.

Vectorised: every key becomes endpoint rows (one per Service backend, each with the port
mapped to its targetPort), rows become (source column, destination column, port atom) with
the engine's class and atom indices, and the verdicts are read from the packed combined
tables with numpy: `pair_block` for pod pairs, `to_external_block`/`from_external_block`
for addresses, exactly what `Connectivity.reach` combines in `_masks` (egress, ingress,
the mesh, primary networks). `reach` itself is called only to explain: for the denied
keys (at most MAX_EXPLAINED distinct cells) and for the rule hit counts, over at most
MAX_HIT_SAMPLE distinct (source, destination, port atom) cells, the heaviest first; when
there are more cells, the hit counts say that they come from a sample.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from microseg.engine import (
    Connectivity,
    Decision,
    Endpoint,
    PolicyKind,
    from_external_block,
    pair_block,
    to_external_block,
)
from microseg.model.flows import EndpointKind, EndpointResolver, FlowKeys, Resolved
from microseg.model.netpol import Direction
from microseg.model.sets import BASE_PROTOCOLS, ConnSet, IPSet

__all__ = [
    "MAX_EXPLAINED",
    "MAX_HIT_SAMPLE",
    "FlowRows",
    "Recorded",
    "RuleHit",
    "SimFlow",
    "SimulationReport",
    "Skip",
    "expand",
    "lookup",
    "simulate",
]

MAX_EXPLAINED = 200
MAX_HIT_SAMPLE = 2000
BLOCK_BYTES = 256 * 2**20
Ints = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
PROTOCOLS = {p.value: p for p in BASE_PROTOCOLS}
PROTO_LIST = list(BASE_PROTOCOLS)


class Skip(StrEnum):
    """Why a key could not be replayed (kept and counted, never silently dropped)."""

    UNRESOLVED = "an endpoint did not resolve against the cluster"
    PROTOCOL = "not TCP, UDP or SCTP (NetworkPolicy does not cover it)"
    EXTERNAL = "both endpoints outside the cluster"
    SERVICE_PORT = "a Service port that maps to no backend port"
    NO_BACKEND = "a Service without backend pods"


SKIPS = list(Skip)


class Recorded(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    OTHER = "other"


_DENIED = frozenset({"dropped", "deny", "denied"})
_ALLOWED = frozenset({"forwarded", "allow", "allowed", "redirected", "observed", "audit"})


def recorded_class(verdict: str) -> Recorded:
    """Hubble FORWARDED/REDIRECTED/AUDIT (audit mode forwards), Calico allow, Envoy and CSV
    allowed/observed count as allowed; DROPPED/deny/denied as denied; ERROR and the rest
    neither."""
    if verdict in _DENIED:
        return Recorded.DENIED
    return Recorded.ALLOWED if verdict in _ALLOWED else Recorded.OTHER


@dataclass(frozen=True, slots=True)
class FlowRows:
    """Keys expanded to endpoint rows: `src_pod`/`dst_pod` index cluster.pods (-1: an
    address, `*_ip` indexing `ips`); `proto` indexes Protocol (-1: other); `skip` indexes
    SKIPS (-1: replayable)."""

    key: Ints
    src_pod: Ints
    src_ip: Ints
    dst_pod: Ints
    dst_ip: Ints
    proto: Ints
    port: Ints
    skip: Ints
    ips: tuple[str, ...]
    resolved: tuple[Resolved, ...]


def expand(keys: FlowKeys, resolver: EndpointResolver) -> FlowRows:
    resolved = tuple(resolver.resolve(e.ns, e.pod, e.workload, e.ip) for e in keys.endpoints)
    ips = sorted({r.ip for r in resolved if r.ip and r.kind is not EndpointKind.SERVICE})
    ip_at = {ip: i for i, ip in enumerate(ips)}
    n_ep = len(resolved)
    ep_pod = np.full(n_ep, -1, np.int64)
    ep_ip = np.full(n_ep, -1, np.int64)
    ep_kind = np.zeros(n_ep, np.int64)  # 0 addressable, 1 unresolved, 2 service
    for i, r in enumerate(resolved):
        if r.kind is EndpointKind.UNRESOLVED:
            ep_kind[i] = 1
        elif r.kind is EndpointKind.SERVICE:
            ep_kind[i] = 2
            ep_pod[i] = r.pods[0] if r.pods else -1
        elif r.pods:
            ep_pod[i] = r.pods[0]  # a workload is its first pod, as `reach` resolves it
        else:
            ep_ip[i] = ip_at[r.ip]
    proto_of = np.array(
        [PROTO_LIST.index(PROTOCOLS[p]) if p in PROTOCOLS else -1 for p in keys.protocols] or [-1],
        np.int64,
    )
    n = len(keys)
    key = np.arange(n, dtype=np.int64)
    proto = proto_of[keys.protocol] if n else np.zeros(0, np.int64)
    port = keys.port.astype(np.int64)
    skip = np.full(n, -1, np.int64)
    src_kind, dst_kind = ep_kind[keys.src], ep_kind[keys.dst]
    skip[proto < 0] = SKIPS.index(Skip.PROTOCOL)
    skip[(src_kind == 1) | (dst_kind == 1)] = SKIPS.index(Skip.UNRESOLVED)
    # A Service as a source (rare: a ClusterIP does not send) is its first backend.
    skip[(src_kind == 2) & (ep_pod[keys.src] < 0) & (skip < 0)] = SKIPS.index(Skip.NO_BACKEND)
    src_pod, src_ip = ep_pod[keys.src], ep_ip[keys.src]
    dst_pod, dst_ip = ep_pod[keys.dst].copy(), ep_ip[keys.dst]
    external = (src_pod < 0) & (dst_pod < 0) & (src_kind == 0) & (dst_kind == 0)
    skip[external & (skip < 0)] = SKIPS.index(Skip.EXTERNAL)
    rows: list[list[Ints]] = [[key, src_pod, src_ip, dst_pod, dst_ip, proto, port, skip]]
    # Service destinations: one row per backend, the port mapped to its targetPort.
    svc = np.flatnonzero((dst_kind == 2) & (skip < 0))
    if len(svc):
        keep = np.ones(n, np.bool_)
        keep[svc] = False
        rows = [[a[keep] for a in rows[0]]]
        combos = np.unique(np.stack([keys.dst[svc], proto[svc], port[svc]], 1), axis=0)
        extra: list[tuple[int, int, int, int]] = []  # (combo, pod, port, skip)
        for c, (ep, pr, pt) in enumerate(combos.tolist()):
            r = resolved[ep]
            if not r.pods:
                extra.append((c, -1, pt, SKIPS.index(Skip.NO_BACKEND)))
                continue
            for pod in r.pods:
                mapped = r.target_port(resolver.named_ports, pod, PROTO_LIST[pr], pt)
                extra.append(
                    (c, pod, mapped or pt, -1 if mapped else SKIPS.index(Skip.SERVICE_PORT))
                )
        which = {tuple(k): i for i, k in enumerate(combos.tolist())}
        combo_of = np.array(
            [
                which[(int(a), int(b), int(c))]
                for a, b, c in zip(keys.dst[svc], proto[svc], port[svc], strict=True)
            ],
            np.int64,
        )
        ex = np.array(extra, np.int64).reshape(-1, 4)
        order = np.argsort(ex[:, 0], kind="stable")
        ex = ex[order]
        starts = np.searchsorted(ex[:, 0], np.arange(len(combos) + 1))
        per = (starts[1:] - starts[:-1])[combo_of]
        k_rep = np.repeat(svc, per)
        pick = np.concatenate([np.arange(starts[c], starts[c + 1]) for c in combo_of.tolist()])
        rows.append(
            [
                k_rep,
                src_pod[k_rep],
                src_ip[k_rep],
                ex[pick, 1],
                np.full(len(k_rep), -1, np.int64),
                proto[k_rep],
                ex[pick, 2],
                ex[pick, 3],
            ]
        )
    parts = [np.concatenate([r[i] for r in rows]) for i in range(8)]
    order = np.argsort(parts[0], kind="stable")
    k, sp, si, dp, di, pr, pt, sk = (p[order] for p in parts)
    return FlowRows(k, sp, si, dp, di, pr, pt, sk, tuple(ips), resolved)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Per row: the engine's source and destination columns (class, or n_classes + IP
    atom), port atom, and whether the policies allow it (False where skipped)."""

    src_col: Ints
    dst_col: Ints
    atom: Ints
    allowed: Bool


def _bit(words: npt.NDArray[np.uint64], atom: Ints) -> Bool:
    return ((words >> (atom & 63).astype(np.uint64)) & np.uint64(1)).astype(np.bool_)


def lookup(conn: Connectivity, rows: FlowRows) -> Lookup:
    c = conn.n_classes
    ok = rows.skip < 0
    ip_atoms = np.array(
        [
            conn.ips.atom_of_address(IPSet.from_cidr(str(ipaddress.ip_network(ip)))) or 0
            for ip in rows.ips
        ]
        or [0],
        np.int64,
    )
    pod_class = np.asarray(conn.classes.pod_class, np.int64)
    src_col = np.where(
        rows.src_pod >= 0,
        pod_class[np.maximum(rows.src_pod, 0)],
        c + ip_atoms[np.maximum(rows.src_ip, 0)],
    )
    dst_col = np.where(
        rows.dst_pod >= 0,
        pod_class[np.maximum(rows.dst_pod, 0)],
        c + ip_atoms[np.maximum(rows.dst_ip, 0)],
    )
    atom = np.zeros(len(rows.key), np.int64)
    pairs = (
        np.unique(np.stack([rows.proto[ok], rows.port[ok]], 1), axis=0)
        if ok.any()
        else np.zeros((0, 2), np.int64)
    )
    for pr, pt in pairs.tolist():
        hit = ok & (rows.proto == pr) & (rows.port == pt)
        atom[hit] = conn.ports.atom_of(PROTO_LIST[pr], int(pt))
    allowed = np.zeros(len(rows.key), np.bool_)
    word = atom >> 6
    pp = ok & (src_col < c) & (dst_col < c)
    if pp.any():
        s_set, s_at = np.unique(src_col[pp], return_inverse=True)
        d_set, d_at = np.unique(dst_col[pp], return_inverse=True)
        per_row = max(1, len(d_set) * max(1, (len(conn.ports) + 63) // 64) * 8)
        step = max(1, BLOCK_BYTES // per_row)
        idx = np.flatnonzero(pp)
        s_at, d_at = s_at.reshape(-1), d_at.reshape(-1)
        for lo in range(0, len(s_set), step):
            block = pair_block(conn, s_set[lo : lo + step], d_set)
            mine = (s_at >= lo) & (s_at < lo + step)
            r = idx[mine]
            allowed[r] = _bit(block[s_at[mine] - lo, d_at[mine], word[r]], atom[r])
    pe = ok & (src_col < c) & (dst_col >= c)
    if pe.any():
        s_set, s_at = np.unique(src_col[pe], return_inverse=True)
        r = np.flatnonzero(pe)
        block = to_external_block(conn, s_set)
        allowed[r] = _bit(block[s_at.reshape(-1), dst_col[r] - c, word[r]], atom[r])
    ep = ok & (src_col >= c) & (dst_col < c)
    if ep.any():
        d_set, d_at = np.unique(dst_col[ep], return_inverse=True)
        r = np.flatnonzero(ep)
        block = from_external_block(conn, d_set)
        allowed[r] = _bit(block[d_at.reshape(-1), src_col[r] - c, word[r]], atom[r])
    return Lookup(src_col, dst_col, atom, allowed)


# -- the report ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimFlow:
    """One flow key in a finding; `decision` is the engine's explanation, when explained."""

    src: str
    dst: str
    protocol: str
    port: int
    recorded: str
    count: int
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    kind: str
    policy: str
    direction: str
    rule: int
    name: str = ""
    hits: int = 0


@dataclass(frozen=True, slots=True)
class SimulationReport:
    keys: int
    records: int
    replayed: int
    skipped: tuple[tuple[str, int], ...]
    denied: tuple[SimFlow, ...]
    denied_total: int
    breaking_total: int
    """Denied keys whose recorded verdict was not a denial: traffic that would break."""
    newly_denied: tuple[SimFlow, ...] = ()
    newly_denied_total: int = 0
    newly_allowed: tuple[SimFlow, ...] = ()
    newly_allowed_total: int = 0
    disagreements: tuple[SimFlow, ...] = ()
    disagreements_total: int = 0
    hits: tuple[RuleHit, ...] = ()
    never_hit: tuple[RuleHit, ...] = ()
    hits_sampled: bool = False
    hit_cells: int = 0
    unobserved: tuple[str, ...] = ()
    proposal: bool = False
    unresolved: tuple[str, ...] = field(default=())

    @property
    def breaks(self) -> bool:
        return self.breaking_total > 0


def _endpoint(conn: Connectivity, rows: FlowRows, col: int, pod: int, ip: int) -> Endpoint:
    c = conn.n_classes
    if col < c:
        p = conn.cluster.pods[pod]
        return Endpoint(str(p.workload), klass=int(col))
    address = rows.ips[ip]
    return Endpoint(address, addresses=IPSet.from_cidr(str(ipaddress.ip_network(address))))


def _decide(conn: Connectivity, rows: FlowRows, lk: Lookup, r: int) -> Decision:
    src = _endpoint(conn, rows, int(lk.src_col[r]), int(rows.src_pod[r]), int(rows.src_ip[r]))
    dst = _endpoint(conn, rows, int(lk.dst_col[r]), int(rows.dst_pod[r]), int(rows.dst_ip[r]))
    proto = PROTO_LIST[int(rows.proto[r])]
    return conn.reach(src, dst, ConnSet.single(proto, int(rows.port[r])))


def key_allowed(rows: FlowRows, lk: Lookup, n_keys: int) -> tuple[Bool, Bool]:
    """Per key: replayable (every row is), and allowed (every backend row is)."""
    bad = np.bincount(rows.key, weights=(rows.skip >= 0), minlength=n_keys) > 0
    denied = np.bincount(rows.key, weights=(rows.skip < 0) & ~lk.allowed, minlength=n_keys) > 0
    return ~bad, ~denied & ~bad


def _first_row(rows: FlowRows, want: Bool) -> Ints:
    """For each key, its first row where `want` holds (-1: none)."""
    out = np.full(int(rows.key.max()) + 1 if len(rows.key) else 0, -1, np.int64)
    idx = np.flatnonzero(want)[::-1]
    out[rows.key[idx]] = idx  # the last write wins: the first row
    return out


def _names(keys: FlowKeys, rows: FlowRows) -> tuple[list[str], list[str]]:
    res = rows.resolved

    def shown(i: int) -> str:
        r, e = res[i], keys.endpoints[i]
        if r.kind is not EndpointKind.UNRESOLVED:
            return r.name
        return "/".join(x for x in (e.ns, e.pod or e.workload) if x) or e.ip or "?"

    names = [shown(i) for i in range(len(res))]
    return names, [keys.protocols[int(p)] for p in keys.protocol.tolist()]


def _flows(
    keys: FlowKeys,
    names: list[str],
    protos: list[str],
    which: Ints,
    explain: dict[int, Decision] | None = None,
    limit: int = MAX_EXPLAINED,
) -> tuple[SimFlow, ...]:
    order = which[np.argsort(-keys.count[which], kind="stable")][:limit]
    return tuple(
        SimFlow(
            names[int(keys.src[k])],
            names[int(keys.dst[k])],
            protos[int(k)],
            int(keys.port[k]),
            keys.verdicts[int(keys.verdict[k])],
            int(keys.count[k]),
            (explain or {}).get(int(k)),
        )
        for k in order.tolist()
    )


def _all_rules(conn: Connectivity) -> list[RuleHit]:
    out = []
    for p in conn.cluster.policies:
        for d, rules in ((Direction.INGRESS, p.ingress), (Direction.EGRESS, p.egress)):
            out += [RuleHit(PolicyKind.NP.value, p.ref, d.value, r.index) for r in rules]
    for a in conn.cluster.admin_policies:
        for d, arules in ((Direction.INGRESS, a.ingress), (Direction.EGRESS, a.egress)):
            out += [RuleHit(a.short_kind, a.name, d.value, r.index, r.name) for r in arules]
    return out


def _hits(
    conn: Connectivity, rows: FlowRows, lk: Lookup, weight: Ints
) -> tuple[Counter[tuple[str, str, str, int]], bool, int]:
    ok = np.flatnonzero(rows.skip < 0)
    if not len(ok):
        return Counter(), False, 0
    cells = np.stack([lk.src_col[ok], lk.dst_col[ok], lk.atom[ok]], 1)
    uniq, first, inverse = np.unique(cells, axis=0, return_index=True, return_inverse=True)
    w = np.bincount(inverse.reshape(-1), weights=weight[rows.key[ok]], minlength=len(uniq))
    chosen = np.argsort(-w, kind="stable")[:MAX_HIT_SAMPLE]
    counts: Counter[tuple[str, str, str, int]] = Counter()
    for u in chosen.tolist():
        r = int(ok[first[u]])
        d = _decide(conn, rows, lk, r)
        proto, port = PROTO_LIST[int(rows.proto[r])], int(rows.port[r])
        for trace in (d.egress, d.ingress):
            for s in trace.steps:
                if s.policy is None or s.rule is None or s.policy_kind is None:
                    continue
                if s.conns.contains(proto, port):
                    key = (s.policy_kind.value, s.policy, trace.direction.value, s.rule)
                    counts[key] += int(w[u])
    return counts, len(uniq) > MAX_HIT_SAMPLE, len(chosen)


def _unobserved(conn: Connectivity, rows: FlowRows) -> tuple[str, ...]:
    seen: set[str] = set()
    for r in rows.resolved:
        for i in r.pods[:1] if r.kind is EndpointKind.POD else r.pods:
            seen.add(str(conn.cluster.pods[i].workload))
    for i in np.unique(np.concatenate([rows.src_pod, rows.dst_pod])).tolist():
        if i >= 0:
            seen.add(str(conn.cluster.pods[i].workload))
    return tuple(sorted(str(w.key) for w in conn.cluster.workloads if str(w.key) not in seen))


def simulate(
    current: Connectivity,
    keys: FlowKeys,
    proposal: Connectivity | None = None,
    resolver: EndpointResolver | None = None,
) -> SimulationReport:
    """Replay `keys` on `current` (and `proposal`, whose cluster has the same pods)."""
    resolver = resolver or EndpointResolver(current.cluster)
    rows = expand(keys, resolver)
    n = len(keys)
    names, protos = _names(keys, rows)
    now = lookup(current, rows)
    replayable, allowed_now = key_allowed(rows, now, n)
    recorded = np.array(
        [recorded_class(v) for v in keys.verdicts] or [Recorded.OTHER], dtype=object
    )
    rec = recorded[keys.verdict] if n else np.zeros(0, dtype=object)
    rec_denied, rec_allowed = rec == Recorded.DENIED, rec == Recorded.ALLOWED
    target = proposal or current
    after, allowed_after = (
        (now, allowed_now) if proposal is None else (lookup(proposal, rows), None)
    )
    if proposal is not None:
        _, allowed_after = key_allowed(rows, after, n)
    assert allowed_after is not None
    denied = np.flatnonzero(replayable & ~allowed_after)
    breaking = np.flatnonzero(replayable & ~allowed_after & ~rec_denied)
    first_denied = _first_row(rows, (rows.skip < 0) & ~after.allowed)
    explained = {
        int(k): _decide(target, rows, after, int(first_denied[k]))
        for k in denied[np.argsort(-keys.count[denied], kind="stable")][:MAX_EXPLAINED].tolist()
    }
    disagree = np.flatnonzero(
        replayable & ((rec_denied & allowed_now) | (rec_allowed & ~allowed_now))
    )
    skipped = Counter(SKIPS[int(s)].value for s in rows.skip[rows.skip >= 0].tolist())
    counts, sampled, cells = _hits(target, rows, after, keys.count)
    every = _all_rules(target)
    names_of = {(h.kind, h.policy, h.direction, h.rule): h.name for h in every}
    hits = tuple(
        RuleHit(k[0], k[1], k[2], k[3], names_of.get(k, ""), v)
        for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    never = tuple(h for h in every if (h.kind, h.policy, h.direction, h.rule) not in counts)
    report = SimulationReport(
        keys=n,
        records=int(keys.count.sum()),
        replayed=int(replayable.sum()),
        skipped=tuple(sorted(skipped.items())),
        denied=_flows(keys, names, protos, denied, explained),
        denied_total=len(denied),
        breaking_total=len(breaking),
        disagreements=_flows(keys, names, protos, disagree),
        disagreements_total=len(disagree),
        hits=hits,
        never_hit=never,
        hits_sampled=sampled,
        hit_cells=cells,
        unobserved=_unobserved(target, rows),
        proposal=proposal is not None,
        unresolved=_unresolved(keys, rows),
    )
    if proposal is None:
        return report
    newly_denied = np.flatnonzero(replayable & allowed_now & ~allowed_after)
    newly_allowed = np.flatnonzero(replayable & ~allowed_now & allowed_after)
    return replace(
        report,
        newly_denied=_flows(keys, names, protos, newly_denied, explained),
        newly_denied_total=len(newly_denied),
        newly_allowed=_flows(keys, names, protos, newly_allowed),
        newly_allowed_total=len(newly_allowed),
    )


def _unresolved(keys: FlowKeys, rows: FlowRows) -> tuple[str, ...]:
    out: Iterable[str] = (
        "/".join(x for x in (e.ns, e.pod or e.workload) if x) or e.ip or "?"
        for e, r in zip(keys.endpoints, rows.resolved, strict=True)
        if r.kind is EndpointKind.UNRESOLVED
    )
    return tuple(sorted(set(out)))
