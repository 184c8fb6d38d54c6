"""Flow checks behind `verify`: allow/deny between two groups, and strict-domain coverage.

Pairs are decided over pod classes (and, for domains, over node signatures: class plus
membership in every group involved) with numpy on the refined tables of `space.Space`;
only the offending class pairs are expanded to endpoint names, and the first offending flow
is explained with the engine's Decision, whose traces name the tiers and rules responsible.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.analyses.groups import Members
from microseg.analyses.space import Space, chunks
from microseg.engine import Decision, Endpoint, Step, Tier, Verdict, WorkloadGraph
from microseg.errors import Origin
from microseg.model.intent import IntentPort
from microseg.model.sets import ConnSet, IntervalSet, IPSet

__all__ = ["MAX_ROWS", "FlowChecker", "FlowRow", "Outcome", "ip_name", "node_multi"]

MAX_ROWS = 200
Bool = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


def ip_name(addresses: IPSet) -> str:
    """`first-last` per maximal range, comma-separated, as `connectivity` prints them."""
    out = [f"{ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(hi)}" for lo, hi in addresses.v4]
    out += [f"{ipaddress.IPv6Address(lo)}-{ipaddress.IPv6Address(hi)}" for lo, hi in addresses.v6]
    return ",".join(out)


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One offending flow: `conns` is what is missing (allow) or open (deny, domain)."""

    src: str | IPSet
    dst: str | IPSet
    conns: ConnSet
    note: str = ""
    src_class: int = -1
    dst_class: int = -1
    requested: ConnSet = field(default_factory=ConnSet)

    def key(self) -> tuple[tuple[int, str, int], tuple[int, str, int]]:
        """Workloads by name first, then address ranges in numeric order."""
        return (_order(self.src), _order(self.dst))


def _order(x: str | IPSet) -> tuple[int, str, int]:
    if isinstance(x, str):
        return (0, x, 0)
    first = x.v4.intervals[0][0] if x.v4 else (1 << 32) + (x.v6.intervals[0][0] if x.v6 else 0)
    return (1, "", first)


@dataclass(frozen=True, slots=True)
class Outcome:
    rows: tuple[FlowRow, ...] = ()
    total: int = 0
    decision: Decision | None = None
    related: tuple[Origin, ...] = ()


def _grouped(keys: Ints, n: int) -> tuple[Ints, Ints]:
    """Indices sorted by key, and where each key's run starts (`starts[k]:starts[k + 1]`)."""
    order = np.argsort(keys, kind="stable")
    starts = np.searchsorted(keys[order], np.arange(n + 1))
    return order.astype(np.int64), starts.astype(np.int64)


class _Rows:
    """The offending flows: `total` counts them all; `rows` keeps the first LIMIT."""

    LIMIT = MAX_ROWS * 5

    def __init__(self) -> None:
        self.rows: list[FlowRow] = []
        self.total = 0

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.LIMIT

    def add(self, row: FlowRow) -> None:
        if not self.full:
            self.rows.append(row)


def node_multi(space: Space, graph: WorkloadGraph, node_of_pod: Ints | None = None) -> Bool:
    """`multi[i]`: graph node i stands for two or more pods, so it pairs with itself.

    NetworkPolicy applies between any two distinct pods, including two pods of one workload;
    only a pod's traffic to itself is exempt (kubernetes.io/docs/concepts/services-networking/
    network-policies, "What you can't do": pods cannot block localhost access). A node
    holding one explicit pod has no such pair. A pod built from a controller's template
    stands for all of its replicas (model/objects.py Pod), whose number the model does not
    fix (scaling, rolling updates), so it counts as several: the rule `lint` follows too
    (analyses/lint_tables.pods_that_count). `node_of_pod` is GroupResolver's map.
    """
    pods = space.conn.cluster.pods
    if node_of_pod is None:
        index = {name: i for i, name in enumerate(graph.nodes)}
        split = set(graph.split)
        node_of_pod = np.array(
            [
                index[
                    f"{p.namespace}/{p.name}[Pod]" if str(p.workload) in split else str(p.workload)
                ]
                for p in pods
            ],
            dtype=np.int64,
        ).reshape(-1)
    template = np.array([p.from_template for p in pods], dtype=np.int64).reshape(-1)
    n = len(graph.nodes)
    weight = np.bincount(node_of_pod, minlength=n) + np.bincount(
        node_of_pod, weights=template, minlength=n
    )
    return np.asarray(weight >= 2, dtype=np.bool_)


class FlowChecker:
    def __init__(self, space: Space, graph: WorkloadGraph, multi: Bool | None = None) -> None:
        self.space = space
        self.graph = graph
        self.nc: Ints = graph.node_class
        self.multi: Bool = multi if multi is not None else node_multi(space, graph)
        self.origins = {p.ref: p.origin for p in space.conn.cluster.policies}
        self._sets: dict[bytes, ConnSet] = {}

    def _cs(self, mask: Bool) -> ConnSet:
        """A piece mask as a ConnSet, memoised: offending flows repeat a few sets."""
        key = np.packbits(mask).tobytes()
        out = self._sets.get(key)
        if out is None:
            out = self._sets[key] = self.space.ports.to_connset(mask)
        return out

    # -- allow / deny ------------------------------------------------------------------
    def flows(
        self, src: Members, dst: Members, ports: tuple[IntentPort, ...], must_allow: bool
    ) -> Outcome:
        out = _Rows()
        sn, dn = np.flatnonzero(src.nodes), np.flatnonzero(dst.nodes)
        sip, dip = self.space.ip_mask(src.addresses), self.space.ip_mask(dst.addresses)
        if len(sn) and len(dn):
            self._pods(out, sn, dn, ports, must_allow)
        if len(sn) and dip.any():
            self._outbound(out, sn, np.flatnonzero(dip), ports, must_allow)
        if sip.any() and len(dn):
            self._inbound(out, np.flatnonzero(sip), dn, ports, must_allow)
        return self._outcome(out, must_allow)

    def _pods(
        self, out: _Rows, sn: Ints, dn: Ints, ports: tuple[IntentPort, ...], must_allow: bool
    ) -> None:
        sp, nc, names = self.space, self.nc, self.graph.nodes
        sc, tc = np.unique(nc[sn]), np.unique(nc[dn])
        pos_s, pos_t = np.searchsorted(sc, nc[sn]), np.searchsorted(tc, nc[dn])
        by_s, start_s = _grouped(pos_s, len(sc))
        cnt_t = np.bincount(pos_t, minlength=len(tc))
        # a node in both groups pairs with itself only when it stands for several pods
        both = np.intersect1d(sn, dn)
        both = both[~self.multi[both]]
        both_a, both_b = np.searchsorted(sc, nc[both]), np.searchsorted(tc, nc[both])
        named = ", ".join(str(p) for p in ports if p.name)
        pm = sp.port_mask(ports, tc)
        for ch in chunks(len(sc), len(tc) * len(sp.ports)):
            sub = sp.p2p(sc[ch], tc)
            off = pm.mask[None] & (~sub if must_allow else sub)
            bad: Bool = np.asarray(off.any(axis=2), dtype=np.bool_)
            if must_allow:
                bad |= pm.unresolved[None, :]
            cnt_s = start_s[ch.start + 1 : ch.stop + 1] - start_s[ch.start : ch.stop]
            out.total += int((bad * cnt_s[:, None] * cnt_t[None, :]).sum())
            mine = (both_a >= ch.start) & (both_a < ch.stop)
            out.total -= int(bad[both_a[mine] - ch.start, both_b[mine]].sum())
            if out.full or not bad.any():
                continue
            for a in np.flatnonzero(bad.any(axis=1)).tolist():
                if out.full:
                    break
                ka = ch.start + a
                for s in sn[by_s[start_s[ka] : start_s[ka + 1]]].tolist():
                    pair = (dn != s) | self.multi[s]
                    for j in np.flatnonzero(bad[a, pos_t] & pair).tolist():
                        b, d = int(pos_t[j]), int(dn[j])
                        unresolved = must_allow and bool(pm.unresolved[b])
                        note = f"no container port {named}" if unresolved else ""
                        req = self._cs(pm.mask[b] if must_allow else off[a, b])
                        conns = self._cs(off[a, b])
                        out.add(
                            FlowRow(names[s], names[d], conns, note, int(sc[ka]), int(tc[b]), req)
                        )

    def _outbound(
        self, out: _Rows, sn: Ints, te: Ints, ports: tuple[IntentPort, ...], must_allow: bool
    ) -> None:
        sp, nc, names = self.space, self.nc, self.graph.nodes
        sc = np.unique(nc[sn])
        by_s, start_s = _grouped(np.searchsorted(sc, nc[sn]), len(sc))
        em = sp.external_mask(ports)
        unresolved = bool(must_allow and em.unresolved[0])
        note = f"an external address has no named port {', '.join(str(p) for p in ports if p.name)}"
        req = self._cs(em.mask[0])
        for ch in chunks(len(sc), len(te) * len(sp.ports)):
            sub = sp.to_ext(sc[ch], te)
            off = em.mask[0][None, None, :] & (~sub if must_allow else sub)
            for a in range(ch.stop - ch.start):
                ka = ch.start + a
                runs = self._runs(te, off[a], force=unresolved)
                members = sn[by_s[start_s[ka] : start_s[ka + 1]]].tolist()
                out.total += len(runs) * len(members)
                for s in members if not out.full else ():
                    for ips, mask in runs:
                        conns = self._cs(mask)
                        row = FlowRow(
                            names[s],
                            ips,
                            conns,
                            note if unresolved else "",
                            int(sc[ka]),
                            -1,
                            req if must_allow else conns,
                        )
                        out.add(row)

    def _inbound(
        self, out: _Rows, se: Ints, dn: Ints, ports: tuple[IntentPort, ...], must_allow: bool
    ) -> None:
        sp, nc, names = self.space, self.nc, self.graph.nodes
        tc = np.unique(nc[dn])
        by_t, start_t = _grouped(np.searchsorted(tc, nc[dn]), len(tc))
        named = ", ".join(str(p) for p in ports if p.name)
        pm = sp.port_mask(ports, tc)
        for ch in chunks(len(tc), len(se) * len(sp.ports)):
            sub = sp.from_ext(tc[ch], se)
            off = pm.mask[ch][:, None, :] & (~sub if must_allow else sub)
            for b in range(ch.stop - ch.start):
                kb = ch.start + b
                unresolved = bool(must_allow and pm.unresolved[kb])
                runs = self._runs(se, off[b], force=unresolved)
                members = dn[by_t[start_t[kb] : start_t[kb + 1]]].tolist()
                out.total += len(runs) * len(members)
                note = f"no container port {named}" if unresolved else ""
                for d in members if not out.full else ():
                    for ips, mask in runs:
                        conns = self._cs(mask)
                        req = self._cs(pm.mask[kb]) if must_allow else conns
                        out.add(FlowRow(ips, names[d], conns, note, -1, int(tc[kb]), req))

    # -- strict domains ----------------------------------------------------------------
    def domain(
        self, inside: list[Members], cover: list[tuple[Members, Members, tuple[IntentPort, ...]]]
    ) -> Outcome:
        """Over node signatures (class, membership of the domain and of every allow intent's
        groups): only the blocks that touch the domain, members x all and others x members,
        in row chunks."""
        sp, nc, names = self.space, self.nc, self.graph.nodes
        n = len(names)
        member = np.zeros(n, np.bool_)
        dip = np.zeros(len(sp.ips), np.bool_)
        for g in inside:
            member |= g.nodes
            dip |= sp.ip_mask(g.addresses)
        cols = (
            [nc, member, self.multi]
            + [f.nodes for f, _, _ in cover]
            + [t.nodes for _, t, _ in cover]
        )
        matrix = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1).reshape(n, -1)
        m = len(cover)
        sig, node_sig, counts = np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
        node_sig, counts = node_sig.reshape(-1), counts.reshape(-1)
        k = len(sig)
        sig = sig.reshape(k, 3 + 2 * m)
        scls = sig[:, 0]
        in_d = sig[:, 1].astype(np.bool_)
        multi = sig[:, 2].astype(np.bool_)
        fm = sig[:, 3 : 3 + m].astype(np.bool_)
        tm = sig[:, 3 + m :].astype(np.bool_)
        # a node's pairs with itself count only when it stands for several pods
        self_pairs = np.where(multi, 0, counts)
        pms = [sp.port_mask(ports, scls).mask for _, _, ports in cover]
        ems = [sp.external_mask(ports).mask[0] for _, _, ports in cover]
        order, starts = _grouped(node_sig, k)
        out = _Rows()
        inner, outer = np.flatnonzero(in_d), np.flatnonzero(~in_d)
        for rows_all, cols_ in ((inner, np.arange(k)), (outer, inner)):
            if not len(rows_all) or not len(cols_):
                continue
            for ch in chunks(len(rows_all), len(cols_) * len(sp.ports)):
                rows = rows_all[ch]
                unc = sp.p2p(scls[rows], scls[cols_])
                for j in range(m):
                    both = fm[rows, j][:, None] & tm[cols_, j][None, :]
                    unc &= ~(both[:, :, None] & pms[j][cols_][None, :, :])
                bad: Bool = np.asarray(unc.any(axis=2), dtype=np.bool_)
                same = rows[:, None] == cols_[None, :]
                bad &= ~(same & (self_pairs[rows] == 1)[:, None])
                pairs = (
                    counts[rows][:, None] * counts[cols_][None, :]
                    - same * self_pairs[rows][:, None]
                )
                out.total += int((bad * pairs).sum())
                for x, y in np.argwhere(bad).tolist() if not out.full else ():
                    conns = self._cs(unc[x, y])
                    sx, sy = int(rows[x]), int(cols_[y])
                    for s in order[starts[sx] : starts[sx + 1]].tolist():
                        for d in order[starts[sy] : starts[sy + 1]].tolist():
                            if s != d or multi[sx]:
                                row = FlowRow(
                                    names[s],
                                    names[d],
                                    conns,
                                    "",
                                    int(scls[sx]),
                                    int(scls[sy]),
                                    conns,
                                )
                                out.add(row)
        pieces = np.flatnonzero(sp.scope)
        d_ip = dip[pieces]
        t_ips = [sp.ip_mask(t.addresses)[pieces] for _, t, _ in cover]
        f_ips = [sp.ip_mask(f.addresses)[pieces] for f, _, _ in cover]
        for ch in chunks(k, len(pieces) * len(sp.ports)):
            x_idx = np.arange(ch.start, ch.stop)
            rel = (in_d[x_idx][:, None] | d_ip[None, :])[:, :, None]
            unc_out = sp.to_ext(scls[x_idx], pieces) & rel
            unc_in = sp.from_ext(scls[x_idx], pieces) & rel
            for j in range(m):
                unc_out &= ~(fm[x_idx, j][:, None, None] & t_ips[j][None, :, None] & ems[j])
                unc_in &= ~(
                    tm[x_idx, j][:, None, None]
                    & f_ips[j][None, :, None]
                    & pms[j][x_idx][:, None, :]
                )
            for i, x in enumerate(x_idx.tolist()):
                nodes = order[starts[x] : starts[x + 1]].tolist()
                for unc_x, outbound in ((unc_out[i], True), (unc_in[i], False)):
                    runs = self._runs(pieces, unc_x) if unc_x.any() else []
                    out.total += len(runs) * len(nodes)
                    for ips, mask in runs if not out.full else ():
                        conns = self._cs(mask)
                        c = int(scls[x])
                        for s in nodes:
                            row = (
                                FlowRow(names[s], ips, conns, "", c, -1, conns)
                                if outbound
                                else FlowRow(ips, names[s], conns, "", -1, c, conns)
                            )
                            out.add(row)
        return self._outcome(out, must_allow=False)

    # -- helpers -----------------------------------------------------------------------
    def _runs(self, pieces: Ints, masks: Bool, force: bool = False) -> list[tuple[IPSet, Bool]]:
        """Maximal runs of adjacent address pieces (one family) sharing one mask, non-empty
        unless `force`. Boundaries come from one vectorised comparison of neighbours."""
        ips = self.space.ips
        n4 = len(ips.v4)
        if not len(pieces):
            return []
        keep: Bool = (
            np.ones(len(pieces), np.bool_) if force else np.asarray(masks.any(axis=1), np.bool_)
        )
        starts = keep.copy()
        if len(pieces) > 1:
            joined = (
                (pieces[1:] == pieces[:-1] + 1)
                & ((pieces[1:] < n4) == (pieces[:-1] < n4))
                & (masks[1:] == masks[:-1]).all(axis=1)
                & keep[:-1]
            )
            starts[1:] &= ~joined
        first = np.flatnonzero(starts)
        result = []
        for i, f in enumerate(first.tolist()):
            stop = int(first[i + 1]) if i + 1 < len(first) else len(pieces)
            last = f + int(np.argmin(keep[f:stop])) - 1 if not keep[f:stop].all() else stop - 1
            lo, hi = int(pieces[f]), int(pieces[last])
            if lo < n4:
                span = IPSet(v4=IntervalSet.span(ips.v4[lo][0], ips.v4[hi][1]))
            else:
                span = IPSet(v6=IntervalSet.span(ips.v6[lo - n4][0], ips.v6[hi - n4][1]))
            result.append((span, masks[f]))
        return result

    def _endpoint(self, x: str | IPSet, klass: int) -> Endpoint:
        if isinstance(x, str):
            return Endpoint(x, klass=klass)
        return Endpoint(ip_name(x), addresses=x)

    def _outcome(self, rows: _Rows, must_allow: bool) -> Outcome:
        if not rows.total:
            return Outcome()
        ordered = sorted(rows.rows, key=FlowRow.key)[:MAX_ROWS]
        first = ordered[0]
        src = self._endpoint(first.src, first.src_class)
        dst = self._endpoint(first.dst, first.dst_class)
        decision = None
        if src.klass is not None or dst.klass is not None:
            decision = self.space.conn.reach(src, dst, first.requested or None)
        return Outcome(tuple(ordered), rows.total, decision, self._related(decision, must_allow))

    def _related(self, d: Decision | None, must_allow: bool) -> tuple[Origin, ...]:
        """The policies responsible: for a blocked flow, the guardrail rules that deny it
        and the NetworkPolicies that isolate without allowing; for an open flow, the rules
        that allow it. The mesh's steps (Istio, when that layer counts) are read alike."""
        if d is None:
            return ()
        want = d.requested if d.requested is not None else d.allowed
        out: list[Origin] = []
        sources = [(d.egress.steps, d.egress.policies), (d.ingress.steps, d.ingress.policies)]
        for steps, isolating in [*sources, (d.mesh, ())]:
            for step in steps:
                if not step.conns & want:
                    continue
                if must_allow and step.effect is Verdict.DENY:
                    if step.policy is None and step.tier is Tier.NETPOL:
                        out += [self.origins[p] for p in isolating if p in self.origins]
                    elif step.origin is not None:
                        out.append(_labelled(step))
                elif not must_allow and step.effect is Verdict.ALLOW and step.origin is not None:
                    out.append(_labelled(step))
        seen: dict[tuple[str, int | None, str], Origin] = {}
        for o in out:
            seen.setdefault((o.file, o.line, o.name), o)
        return tuple(seen.values())


def _labelled(step: Step) -> Origin:
    """A Calico step's origin with the kind its label prints (`GNP`, `CalicoNP`, `SNP`...):
    a projectcalico.org NetworkPolicy is no Kubernetes NetworkPolicy, though both origins
    say `NetworkPolicy`."""
    assert step.origin is not None
    if step.tier is Tier.CALICO and step.policy_kind is not None:
        return dataclasses.replace(step.origin, kind=step.policy_kind.value)
    return step.origin
