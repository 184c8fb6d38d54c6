"""Flow checks behind `verify`: allow/deny between two groups, and strict-domain coverage.

Pairs are decided over pod classes (and, for domains, over node signatures: class plus
membership in every group involved) with numpy on the refined tables of `space.Space`;
only the offending class pairs are expanded to endpoint names, and the first offending flow
is explained with the engine's Decision, whose traces name the tiers and rules responsible.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.analyses.groups import Members
from microseg.analyses.space import Space
from microseg.engine import Decision, Endpoint, Verdict, WorkloadGraph
from microseg.engine.query import Tier
from microseg.errors import Origin
from microseg.model.intent import IntentPort
from microseg.model.sets import ConnSet, IntervalSet, IPSet

__all__ = ["MAX_ROWS", "FlowChecker", "FlowRow", "Outcome", "ip_name"]

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


class _Rows:
    def __init__(self) -> None:
        self.rows: list[FlowRow] = []
        self.total = 0

    def add(self, row: FlowRow) -> None:
        self.total += 1
        if len(self.rows) < MAX_ROWS * 5:
            self.rows.append(row)


class FlowChecker:
    def __init__(self, space: Space, graph: WorkloadGraph) -> None:
        self.space = space
        self.graph = graph
        self.nc: Ints = graph.node_class
        self.origins = {p.ref: p.origin for p in space.conn.cluster.policies}

    # -- allow / deny ------------------------------------------------------------------
    def flows(
        self, src: Members, dst: Members, ports: tuple[IntentPort, ...], must_allow: bool
    ) -> Outcome:
        sp, nc, names = self.space, self.nc, self.graph.nodes
        out = _Rows()
        sn, dn = np.flatnonzero(src.nodes), np.flatnonzero(dst.nodes)
        sip, dip = sp.ip_mask(src.addresses), sp.ip_mask(dst.addresses)
        sc, tc = np.unique(nc[sn]), np.unique(nc[dn])
        named = ", ".join(str(p) for p in ports if p.name)
        if len(sn) and len(dn):
            pm = sp.port_mask(ports, tc)
            sub = sp.p2p[np.ix_(sc, tc)]
            off = pm.mask[None] & (~sub if must_allow else sub)
            bad = off.any(axis=2)
            if must_allow:
                bad |= pm.unresolved[None, :]
            for a, b in np.argwhere(bad).tolist():
                conns = sp.ports.to_connset(off[a, b])
                note = f"no container port {named}" if must_allow and pm.unresolved[b] else ""
                requested = sp.ports.to_connset(pm.mask[b] if must_allow else off[a, b])
                for s in sn[nc[sn] == sc[a]].tolist():
                    for d in dn[nc[dn] == tc[b]].tolist():
                        if s != d:
                            out.add(
                                FlowRow(
                                    names[s],
                                    names[d],
                                    conns,
                                    note,
                                    int(sc[a]),
                                    int(tc[b]),
                                    requested,
                                )
                            )
        if len(sn) and dip.any():
            em = sp.external_mask(ports)
            te = np.flatnonzero(dip)
            sub = sp.to_ext[np.ix_(sc, te)]
            off = em.mask[0][None, None, :] & (~sub if must_allow else sub)
            note = (
                f"an external address has no named port {named}"
                if must_allow and em.unresolved[0]
                else ""
            )
            for a, c in enumerate(sc.tolist()):
                runs = self._runs(te, off[a], force=bool(note))
                for s in sn[nc[sn] == c].tolist():
                    for ips, mask in runs:
                        conns = sp.ports.to_connset(mask)
                        req = sp.ports.to_connset(em.mask[0]) if must_allow else conns
                        out.add(FlowRow(names[s], ips, conns, note, c, -1, req))
        if sip.any() and len(dn):
            pm = sp.port_mask(ports, tc)
            se = np.flatnonzero(sip)
            sub = sp.from_ext[np.ix_(tc, se)]
            off = pm.mask[:, None, :] & (~sub if must_allow else sub)
            for b, c in enumerate(tc.tolist()):
                note = f"no container port {named}" if must_allow and pm.unresolved[b] else ""
                runs = self._runs(se, off[b], force=bool(note))
                for d in dn[nc[dn] == c].tolist():
                    for ips, mask in runs:
                        conns = sp.ports.to_connset(mask)
                        req = sp.ports.to_connset(pm.mask[b]) if must_allow else conns
                        out.add(FlowRow(ips, names[d], conns, note, -1, c, req))
        return self._outcome(out, must_allow)

    # -- strict domains ----------------------------------------------------------------
    def domain(
        self, inside: list[Members], cover: list[tuple[Members, Members, tuple[IntentPort, ...]]]
    ) -> Outcome:
        sp, nc, names = self.space, self.nc, self.graph.nodes
        n = len(names)
        member = np.zeros(n, np.bool_)
        dip = np.zeros(len(sp.ips), np.bool_)
        for g in inside:
            member |= g.nodes
            dip |= sp.ip_mask(g.addresses)
        cols = [nc, member] + [f.nodes for f, _, _ in cover] + [t.nodes for _, t, _ in cover]
        matrix = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1).reshape(n, -1)
        m = len(cover)
        sig, node_sig, counts = np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
        node_sig = node_sig.reshape(-1)
        k = len(sig)
        scls = sig[:, 0] if k else np.zeros(0, np.int64)
        in_d = sig[:, 1].astype(np.bool_) if k else np.zeros(0, np.bool_)
        fm = sig[:, 2 : 2 + m].astype(np.bool_) if k else np.zeros((0, m), np.bool_)
        tm = sig[:, 2 + m :].astype(np.bool_) if k else np.zeros((0, m), np.bool_)
        a = len(sp.ports)
        allowed = sp.p2p[np.ix_(scls, scls)]
        covered = np.zeros_like(allowed)
        cov_out = np.zeros((k, len(sp.ips), a), np.bool_)
        cov_in = np.zeros((k, len(sp.ips), a), np.bool_)
        for j, (f, t, ports) in enumerate(cover):
            pm = sp.port_mask(ports, scls).mask
            covered |= (fm[:, j][:, None] & tm[:, j][None, :])[:, :, None] & pm[None, :, :]
            em = sp.external_mask(ports).mask[0]
            cov_out |= fm[:, j][:, None, None] & sp.ip_mask(t.addresses)[None, :, None] & em
            cov_in |= (
                tm[:, j][:, None, None] & sp.ip_mask(f.addresses)[None, :, None] & pm[:, None, :]
            )
        relevant = in_d[:, None] | in_d[None, :]
        relevant[np.diag_indices(k)] &= counts.reshape(-1) > 1
        unc = allowed & ~covered & relevant[:, :, None]
        out = _Rows()
        nodes_of = [np.flatnonzero(node_sig == s) for s in range(k)]
        for x, y in np.argwhere(unc.any(axis=2)).tolist():
            conns = sp.ports.to_connset(unc[x, y])
            for s in nodes_of[x].tolist():
                for d in nodes_of[y].tolist():
                    if s != d:
                        out.add(
                            FlowRow(
                                names[s], names[d], conns, "", int(scls[x]), int(scls[y]), conns
                            )
                        )
        scope = sp.scope
        rel_ext = (in_d[:, None] | dip[None, :]) & scope[None, :]
        unc_out = sp.to_ext[scls] & ~cov_out & rel_ext[:, :, None]
        unc_in = sp.from_ext[scls] & ~cov_in & rel_ext[:, :, None]
        pieces = np.arange(len(sp.ips))
        for x in range(k):
            for unc_x, outbound in ((unc_out[x], True), (unc_in[x], False)):
                if not unc_x.any():
                    continue
                for ips, mask in self._runs(pieces, unc_x):
                    conns = sp.ports.to_connset(mask)
                    for s in nodes_of[x].tolist():
                        c = int(scls[x])
                        row = (
                            FlowRow(names[s], ips, conns, "", c, -1, conns)
                            if outbound
                            else FlowRow(ips, names[s], conns, "", -1, c, conns)
                        )
                        out.add(row)
        return self._outcome(out, must_allow=False)

    # -- helpers -----------------------------------------------------------------------
    def _runs(self, pieces: Ints, masks: Bool, force: bool = False) -> list[tuple[IPSet, Bool]]:
        """Adjacent address pieces with one non-empty mask, merged (per family)."""
        ips = self.space.ips
        n4 = len(ips.v4)
        out: list[tuple[list[int], Bool]] = []
        prev = -2
        for i, p in enumerate(pieces.tolist()):
            mask = masks[i]
            if not mask.any() and not force:
                prev = -2
                continue
            if (
                out
                and p == prev + 1
                and (p < n4) == (prev < n4)
                and np.array_equal(out[-1][1], mask)
            ):
                out[-1][0].append(p)
            else:
                out.append(([p], mask))
            prev = p
        result = []
        for group, mask in out:
            lo, hi = ips.atom_set(group[0]), ips.atom_set(group[-1])
            if group[0] < n4:
                span = IPSet(v4=IntervalSet.span(lo.v4.intervals[0][0], hi.v4.intervals[0][1]))
            else:
                span = IPSet(v6=IntervalSet.span(lo.v6.intervals[0][0], hi.v6.intervals[0][1]))
            result.append((span, mask))
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
        that allow it."""
        if d is None:
            return ()
        want = d.requested if d.requested is not None else d.allowed
        out: list[Origin] = []
        for trace in (d.egress, d.ingress):
            for step in trace.steps:
                if not step.conns & want:
                    continue
                if must_allow and step.effect is Verdict.DENY:
                    if step.policy is None and step.tier is Tier.NETPOL:
                        out += [self.origins[p] for p in trace.policies if p in self.origins]
                    elif step.origin is not None:
                        out.append(step.origin)
                elif not must_allow and step.effect is Verdict.ALLOW and step.origin is not None:
                    out.append(step.origin)
        seen: dict[tuple[str, int | None, str], Origin] = {}
        for o in out:
            seen.setdefault((o.file, o.line, o.name), o)
        return tuple(seen.values())
