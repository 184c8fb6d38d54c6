"""Incremental updates of the connectivity index: one change in, the new index out, in
the time a controller takes to apply the change rather than the time of a rebuild.

What a change can touch, and what is recomputed:
- a NetworkPolicy: the rows (in the directions it affects) of the classes it selected or
  now selects; the rule groups it contributed to lose its targets, those of its new rules
  gain them;
- a guardrail policy (ANP, BANP, CNP): its tier is recompiled (a handful of policies) and
  the rows of its old and new subjects are recomputed;
- a pod: it joins the class its new key names; a new class gets a row and a column (every
  rule group is asked, with one selector match per distinct peer, whether the class is a
  peer), a class left without pods is removed, and every index is renumbered;
- a namespace's labels: the classes in it get new rows and columns (namespace selectors).
Rows and columns are computed from the compiled groups (`DirectionTable.block`), so the
updated index is what `Connectivity.build` would give on the new cluster, up to the order
of classes and atoms (tests/property/test_incremental.py holds the two equal).

Where a change needs what the index cannot extend in place, the update is a rebuild:
port or address boundaries the atoms do not have yet (a new port number, a new CIDR),
the Istio mesh, Ingress/Route (the ingress controller's class), user-defined networks,
host-network pods, node peers, and deleting a namespace.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from microseg.engine.atoms import PortAtoms
from microseg.engine.classes import EndpointClasses, class_key
from microseg.engine.connectivity import Connectivity, EndpointNames, used_port_names
from microseg.engine.options import HostNetwork
from microseg.engine.packed import Bits, n_words
from microseg.engine.rules import RuleCompiler
from microseg.engine.tiers import (
    DirectionTable,
    GroupKey,
    _Group,
    make_group,
)
from microseg.engine.workload_view import carry_grouping
from microseg.model.admin import AdminPolicy, AdminTier
from microseg.model.changes import (
    Change,
    DeletePod,
    DeletePolicy,
    PutNamespace,
    PutPod,
    PutPolicy,
    RelabelPod,
    apply_change,
    pod_index,
)
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import Direction, IPBlockPeer, NetworkPolicy, Peer, PodPeer, PortSpec
from microseg.model.objects import Pod
from microseg.model.sets import Protocol

__all__ = ["apply_incrementally"]

Index = npt.NDArray[np.intp]
_Range = tuple[Protocol, int, int]
_EMPTY = np.zeros(0, dtype=np.intp)


class _Rebuild(Exception):
    """The change needs a rebuild (the reason is the message)."""


def apply_incrementally(conn: Connectivity, change: Change) -> Connectivity:
    cluster = apply_change(conn.cluster, change)
    try:
        return _update(conn, cluster, change)
    except _Rebuild:
        return Connectivity.build(cluster, conn.options)


def _update(conn: Connectivity, cluster: Cluster, change: Change) -> Connectivity:
    if conn.mesh is not None or cluster.has_mesh:
        raise _Rebuild("mesh")
    if conn.classes.controller is not None or cluster.ingresses or cluster.routes:
        raise _Rebuild("ingress controller")
    if conn.isolation is not None or cluster.networks:
        raise _Rebuild("user-defined networks")
    if cluster.nodes != conn.cluster.nodes:
        raise _Rebuild("nodes")
    if isinstance(change, PutPolicy | DeletePolicy):
        if isinstance(change, PutPolicy) and isinstance(change.policy, NetworkPolicy):
            return _netpol(conn, cluster, change.policy.namespace, change.policy.name)
        if isinstance(change, DeletePolicy) and change.kind == "NetworkPolicy":
            return _netpol(conn, cluster, change.namespace, change.name)
        return _admin(conn, cluster)
    if isinstance(change, PutPod | RelabelPod | DeletePod):
        return _pod(conn, cluster, change)
    if isinstance(change, PutNamespace):
        return _namespace(conn, cluster, change.name)
    raise _Rebuild("namespace deleted")


# -- atoms ---------------------------------------------------------------------------------


def _port_cuts(conn: Connectivity, ports: tuple[PortSpec, ...] | None) -> list[_Range]:
    """The port ranges a rule needs as unions of atoms, among those the atoms lack."""
    atoms = conn.ports
    out: list[_Range] = []
    for spec in ports or ():
        if spec.name:
            if (spec.protocol, spec.name) not in conn.rules.named_cache():
                for pod in conn.classes.reps:
                    number = pod.named_port(spec.name, spec.protocol)
                    if number is not None and not _is_atom(conn, spec.protocol, number, number):
                        out.append((spec.protocol, number, number))
            continue
        _, lo, _ = atoms.atoms[atoms.atom_of(spec.protocol, spec.start)]
        _, _, hi = atoms.atoms[atoms.atom_of(spec.protocol, spec.end)]
        if lo != spec.start or hi != spec.end:
            out.append((spec.protocol, spec.start, spec.end))
    return out


def _is_atom(conn: Connectivity, protocol: Protocol, lo: int, hi: int) -> bool:
    _, a, b = conn.ports.atoms[conn.ports.atom_of(protocol, lo)]
    return (a, b) == (lo, hi)


def _refine(conn: Connectivity, cuts: list[_Range]) -> Connectivity:
    """`conn` over port atoms split at `cuts`: a new port number in a rule splits the atom
    that held it, and every packed cell copies the old atom's bit into each of its pieces.
    Atoms only get finer, so every answer stays the same; past one 64-bit word of atoms
    the update is a rebuild."""
    if not cuts:
        return conn
    old = conn.ports
    new = PortAtoms.build([*old.atoms, *cuts])
    if n_words(len(new)) != 1 or n_words(len(old)) != 1:
        raise _Rebuild("port atoms outgrow one word")
    # Old atom j becomes new atoms first[j] .. first[j] + pieces[j] - 1.
    owner = np.array([old.atom_of(p, lo) for p, lo, _ in new.atoms], dtype=np.intp)
    pieces = np.bincount(owner, minlength=len(old))
    first = np.concatenate([[0], np.cumsum(pieces)[:-1]]).astype(np.intp)
    rc = conn.rules.with_ports(new, first)
    tables = []
    for table in (conn.ingress, conn.egress):
        fresh = replace(table, n_atoms=len(new), rc=rc, _cache={})
        fresh.adopt(table.selector_counts(), table.group_index(), table.cached_bounds())
        if table.materialised:
            fresh.adopt_bits(_split_bits(table.bits, pieces))
        tables.append(fresh)
    return replace(conn, ports=new, rules=rc, ingress=tables[0], egress=tables[1])


def _split_bits(bits: Bits, pieces: npt.NDArray[np.int64]) -> Bits:
    """Bit j of every word copied into `pieces[j]` adjacent bits, higher bits moved up.
    Split by split from the top, each copy is four in-place passes: the bits from j up,
    shifted by one, joined to the bits up to j (so bit j lands on both j and j + 1)."""
    out = bits.copy()
    high = np.empty_like(out)
    one = np.uint64(1)
    for j in np.flatnonzero(pieces > 1)[::-1].tolist():
        up_to_j = np.uint64((1 << (j + 1)) - 1)
        from_j = ~np.uint64((1 << j) - 1)
        for _ in range(int(pieces[j]) - 1):
            np.bitwise_and(out, from_j, out=high)
            np.left_shift(high, one, out=high)
            np.bitwise_and(out, up_to_j, out=out)
            np.bitwise_or(out, high, out=out)
    return out


def _check_peers(conn: Connectivity, peers: tuple[Peer, ...] | None) -> None:
    ips = conn.ips
    for peer in peers or ():
        if isinstance(peer, PodPeer):
            continue
        if not isinstance(peer, IPBlockPeer):
            raise _Rebuild("node peer")
        if peer.addresses.v6 and not ips.show_v6:
            raise _Rebuild("first IPv6 range")
        for family, starts, spans in (
            (peer.addresses.v4, ips.v4_starts, ips.v4),
            (peer.addresses.v6, ips.v6_starts, ips.v6),
        ):
            for lo, hi in family:
                if spans[ips._index(starts, lo)][0] != lo or spans[ips._index(starts, hi)][1] != hi:
                    raise _Rebuild("address boundary")


def _prepare_policy(conn: Connectivity, policy: NetworkPolicy | AdminPolicy) -> Connectivity:
    """`conn` with the atoms the policy needs: port atoms are refined in place, address
    boundaries it lacks mean a rebuild."""
    cuts: list[_Range] = []
    for rule in (*policy.ingress, *policy.egress):
        cuts += _port_cuts(conn, rule.ports)
        _check_peers(conn, rule.peers)
    return _refine(conn, cuts)


def _check_removal(conn: Connectivity, policy: NetworkPolicy | AdminPolicy | None) -> None:
    """Lists print IPv6 ranges only while some rule mentions one (engine/atoms.py): taking
    such a rule away may turn that off, which only a rebuild can tell."""
    if policy is None or not conn.ips.show_v6:
        return
    for rule in (*policy.ingress, *policy.egress):
        for peer in rule.peers or ():
            if not isinstance(peer, PodPeer | IPBlockPeer) or (
                isinstance(peer, IPBlockPeer) and peer.addresses.v6
            ):
                raise _Rebuild("last IPv6 range may go")


# -- NetworkPolicy -------------------------------------------------------------------------


def _netpol(conn: Connectivity, cluster: Cluster, namespace: str, name: str) -> Connectivity:
    old_policies = conn.cluster.policies
    old_at = next(
        (i for i, p in enumerate(old_policies) if (p.namespace, p.name) == (namespace, name)),
        None,
    )
    new_at = next(
        (i for i, p in enumerate(cluster.policies) if (p.namespace, p.name) == (namespace, name)),
        None,
    )
    old = old_policies[old_at] if old_at is not None else None
    new = cluster.policies[new_at] if new_at is not None else None
    _check_removal(conn, old)
    if new is not None:
        conn = _prepare_policy(conn, new)
    deleted = old_at if new_at is None else None
    tables = []
    for table in (conn.ingress, conn.egress):
        d = table.direction
        was = old is not None and old.affects(d)
        now = new is not None and new.affects(d)
        edit = _TableEdit(table)
        if was:
            assert old is not None
            assert old_at is not None
            edit.remove_policy(old_at, old)
        if deleted is not None:
            edit.drop_policy_index(deleted)
        if now:
            assert new is not None
            assert new_at is not None
            edit.add_policy(new_at, new, conn.rules.policy_target_index(new))
        tables.append(edit.finish())
    return replace(conn, cluster=cluster, ingress=tables[0], egress=tables[1])


class _TableEdit:
    """A DirectionTable being changed: groups, selecting policies, isolation and the rows
    whose cells must be recomputed."""

    def __init__(self, table: DirectionTable) -> None:
        self.table = table
        self.rc = table.rc
        self.groups = list(table.groups)
        self.selecting = dict(table.selecting)
        self.counts = table.selector_counts().copy()
        self.index = dict(table.group_index())
        self.admin = table.admin
        self.baseline = table.baseline
        self.selecting_changed = False
        self.out_of_order = False
        self.touched: set[int] = set()
        self.dirty_rows: list[Index] = []
        self.dirty_cols: list[Index] = []

    def drop_policy_index(self, at: int) -> None:
        """Policies after `at` move up one place in cluster.policies."""
        self.selecting = {(i - 1 if i > at else i): t for i, t in self.selecting.items()}
        self.selecting_changed = True
        for k, g in enumerate(self.groups):
            if any(i >= at for i, _ in g.sources):
                self.groups[k] = replace(
                    g, sources=tuple((i - 1 if i > at else i, t) for i, t in g.sources)
                )

    def remove_policy(self, at: int, policy: NetworkPolicy) -> None:
        targets = self.selecting.pop(at, None)
        if targets is None:
            return
        self.selecting_changed = True
        self.counts[targets] -= 1
        self.dirty_rows.append(targets)
        for rule in policy.rules(self.table.direction):
            k = self.index[(rule.peers, rule.ports)]
            g = self.groups[k]
            sources = tuple((i, t) for i, t in g.sources if i != at)
            self.groups[k] = make_group(g.peer_list, g.ports, g.peers, sources)
            self.touched.add(k)

    def add_policy(self, at: int, policy: NetworkPolicy, targets: Index) -> None:
        if not len(targets):
            return
        self.select(at, targets)
        self.counts[targets] += 1
        self.dirty_rows.append(targets)
        for rule in policy.rules(self.table.direction):
            self.add_source((rule.peers, rule.ports), at, targets)

    def add_source(self, key: GroupKey, at: int, targets: Index) -> None:
        k = self.index.get(key)
        if k is None:
            peers, ports = key
            g = make_group(peers, ports, self.rc.peer_index(peers), ((at, targets),))
            self.index[key] = len(self.groups)
            self.touched.add(len(self.groups))
            self.groups.append(g)
            return
        g = self.groups[k]
        self.groups[k] = make_group(g.peer_list, g.ports, g.peers, (*g.sources, (at, targets)))
        self.touched.add(k)

    def finish(
        self,
        admin: tuple[Any, ...] | None = None,
        baseline: tuple[Any, ...] | None = None,
        bits: Bits | None = None,
    ) -> DirectionTable:
        """The new table, with its materialised cells recomputed where they may differ.
        `bits`: the old cells already renumbered (when classes changed)."""
        old = self.table
        isolated = self.counts > 0
        isolated.setflags(write=False)
        new = DirectionTable(
            old.direction,
            isolated,
            old.n_atoms,
            self.rc,
            tuple(self.groups),
            self._selecting(),
            self.admin if admin is None else admin,
            self.baseline if baseline is None else baseline,
        )
        new.adopt(self.counts, self.index, self._bounds())
        if bits is None and old.materialised:
            bits = old.bits.copy()
        if bits is not None:
            rows = _union(self.dirty_rows)
            if len(rows):
                bits[rows] = new.block(rows, None)
            cols = _union(self.dirty_cols)
            if len(cols):
                bits[:, cols] = new.block(None, cols)
            new.adopt_bits(bits)
        return new

    def _selecting(self) -> tuple[tuple[int, Index], ...]:
        """In policy order: the dict keeps insertion order, which is that order unless a
        policy was added out of it."""
        if not self.selecting_changed:
            return self.table.selecting
        items = tuple(self.selecting.items())
        if self.out_of_order:
            return tuple(sorted(items, key=lambda item: item[0]))
        return items

    def select(self, at: int, targets: Index) -> None:
        if at not in self.selecting and self.selecting and at < next(reversed(self.selecting)):
            self.out_of_order = True
        self.selecting[at] = targets
        self.selecting_changed = True

    def _bounds(self) -> npt.NDArray[np.intp] | None:
        """The old group spans with the touched groups' redone, when the old ones exist."""
        old = self.table.cached_bounds()
        if old is None or len(self.groups) > len(old) + 64:
            return None
        out = np.empty((len(self.groups), 4), dtype=np.intp)
        out[: len(old)] = old
        for k in self.touched | set(range(len(old), len(self.groups))):
            g = self.groups[k]
            out[k] = (
                (g.targets[0], g.targets[-1], g.peers[0], g.peers[-1])
                if len(g.targets) and len(g.peers)
                else (1, 0, 1, 0)
            )
        return out


def _union(parts: list[Index]) -> Index:
    if not parts:
        return _EMPTY
    return np.unique(np.concatenate(parts)).astype(np.intp)


# -- guardrail tiers -----------------------------------------------------------------------


def _admin(conn: Connectivity, cluster: Cluster) -> Connectivity:
    for policy in cluster.admin_policies:
        if policy not in conn.cluster.admin_policies:
            conn = _prepare_policy(conn, policy)
    for policy in conn.cluster.admin_policies:
        if policy not in cluster.admin_policies:
            _check_removal(conn, policy)
    rc = conn.rules
    old_subjects = [rc.subject_targets(p.subject) for p in conn.cluster.admin_policies]
    new_subjects = [rc.subject_targets(p.subject) for p in cluster.admin_policies]
    rows = np.flatnonzero(np.logical_or.reduce([*old_subjects, *new_subjects]))
    admin, baseline = cluster.tier(AdminTier.ADMIN), cluster.tier(AdminTier.BASELINE)
    tables = []
    for table in (conn.ingress, conn.egress):
        edit = _TableEdit(table)
        edit.dirty_rows.append(rows)
        tables.append(
            edit.finish(
                table.compile_tier(admin),
                table.compile_tier(baseline),
            )
        )
    return replace(conn, cluster=cluster, ingress=tables[0], egress=tables[1])


# -- pods and classes ----------------------------------------------------------------------


def _pod(
    conn: Connectivity, cluster: Cluster, change: PutPod | RelabelPod | DeletePod
) -> Connectivity:
    if isinstance(change, PutPod):
        namespace, name = change.pod.namespace, change.pod.name
    else:
        namespace, name = change.namespace, change.name
    old_at = pod_index(conn.cluster, namespace, name)
    new_at = pod_index(cluster, namespace, name)
    old_pod = conn.cluster.pods[old_at] if old_at is not None else None
    new_pod = cluster.pods[new_at] if new_at is not None else None
    if any(p is not None and p.host_network for p in (old_pod, new_pod)):
        raise _Rebuild("host-network pod")
    if len(cluster.namespaces) != len(conn.classes.namespaces):
        raise _Rebuild("namespace added with the pod")
    classes = conn.classes
    assert classes.keys is not None
    pod_class = classes.pod_class
    if old_at is not None and new_at is None:
        pod_class = np.delete(pod_class, old_at)
    elif old_at is None:
        pod_class = np.append(pod_class, -1)
    else:
        pod_class = pod_class.copy()
    keys = dict(classes.keys)
    n_old = len(classes)
    new_class = -1
    if new_pod is not None:
        assert new_at is not None
        key = class_key(
            new_pod, conn.options.host_network is HostNetwork.NODE and new_pod.host_network
        )
        found = keys.get(key)
        if found is None:
            conn = _refine(conn, _named_port_cuts(conn, new_pod))
            new_class = n_old
            keys[key] = new_class
            pod_class[new_at] = new_class
        else:
            pod_class[new_at] = found
    sizes = np.bincount(pod_class, minlength=n_old + 1)
    dead = [c for c in range(n_old) if sizes[c] == 0]
    keep = np.array([c for c in range(n_old) if sizes[c]], dtype=np.intp)
    # Old class c becomes position m[c]; a new class comes last.
    m = np.full(n_old + 1, -1, dtype=np.intp)
    m[keep] = np.arange(len(keep))
    n_new = len(keep) + (new_class >= 0)
    if new_class >= 0:
        m[new_class] = n_new - 1
    pod_class = m[pod_class].astype(np.int64)
    reps = [classes.reps[c] for c in keep.tolist()]
    if new_class >= 0:
        assert new_pod is not None
        reps.append(new_pod)
    ns_index = {ns.name: i for i, ns in enumerate(classes.namespaces)}
    class_ns = np.array([ns_index[p.namespace] for p in reps], dtype=np.int64)
    for c in {int(pod_class[i]) for i in (new_at,) if i is not None} | _classes_of(
        classes, old_at, m
    ):
        first = int(np.flatnonzero(pod_class == c)[0])
        reps[c] = cluster.pods[first]
    if dead:
        keys = {k: int(m[v]) for k, v in keys.items() if v not in dead}
    new_classes = EndpointClasses(
        tuple(reps),
        pod_class,
        classes.namespaces,
        class_ns,
        np.append(classes.host_network[keep], np.zeros(n_new - len(keep), dtype=np.bool_)),
        None,
        keys,
    )
    rc = conn.rules.renumbered(new_classes, keep, n_new)
    tables = [
        _renumber(t, rc, keep, n_old, n_new, new_class >= 0, cluster)
        for t in (conn.ingress, conn.egress)
    ]
    same_names = (
        old_at == new_at
        and old_pod is not None
        and new_pod is not None
        and old_pod.workload == new_pod.workload
        and old_pod.from_template == new_pod.from_template  # template pods have no name
    )
    names = conn.names if same_names else EndpointNames.build(cluster)
    if same_names:
        carry_grouping(conn.cluster.pods, cluster.pods)
    return replace(
        conn,
        cluster=cluster,
        classes=new_classes,
        rules=rc,
        ingress=tables[0],
        egress=tables[1],
        names=names,
    )


def _classes_of(classes: EndpointClasses, at: int | None, m: Index) -> set[int]:
    """The renumbered class the pod at `at` left, if it survives."""
    if at is None:
        return set()
    c = int(m[int(classes.pod_class[at])])
    return {c} if c >= 0 else set()


_USED_NAMES: list[tuple[object, object, set[tuple[Protocol, str]]]] = []


def _used_names(cluster: Cluster) -> set[tuple[Protocol, str]]:
    """`used_port_names`, remembered for the last policy tuples (a pod change keeps them)."""
    last = _USED_NAMES[0] if _USED_NAMES else None
    if last is not None and last[0] is cluster.policies and last[1] is cluster.admin_policies:
        return last[2]
    used = used_port_names(cluster)
    _USED_NAMES[:] = [(cluster.policies, cluster.admin_policies, used)]
    return used


def _named_port_cuts(conn: Connectivity, pod: Pod) -> list[_Range]:
    """A new class's named ports that rules use must be atoms of their own."""
    out: list[_Range] = []
    # Names no rule uses any more stay resolved in the compiler, and a rule may name them
    # again later: their numbers need atoms of their own too.
    for proto, name in _used_names(conn.cluster) | set(conn.rules.named_cache()):
        number = pod.named_port(name, proto)
        if number is not None and not _is_atom(conn, proto, number, number):
            out.append((proto, number, number))
    return out


def _renumber(
    table: DirectionTable,
    rc: RuleCompiler,
    keep: Index,
    n_old: int,
    n_new: int,
    added: bool,
    cluster: Cluster,
) -> DirectionTable:
    """The table over the new class numbering: surviving classes keep their cells, a new
    class (the last) gets its memberships, then its row and column."""
    n_ext = len(rc.ips)
    m = np.full(n_old + n_ext, -1, dtype=np.intp)
    m[keep] = np.arange(len(keep))
    m[n_old:] = n_new + np.arange(n_ext)
    cls_m = m[:n_old]

    def classes_only(a: Index) -> Index:
        b = cls_m[a]
        return b[b >= 0]

    def columns(a: Index) -> Index:
        b = m[a]
        return b[b >= 0]

    shrunk = len(keep) < n_old
    groups = []
    shift = n_new - n_old
    # The groups whose peers reach past the classes (address columns, which move up). Read
    # from the groups themselves: a group without targets keeps its peers but has no span.
    needs = {k for k, g in enumerate(table.groups) if len(g.peers) and g.peers[-1] >= n_old}
    bounds = table.cached_bounds()
    for k, g in enumerate(table.groups):
        if not shrunk and k not in needs:
            groups.append(g)
            continue
        if not shrunk:
            # Classes only appended: targets stay; peer columns past the classes move.
            if shift and len(g.peers) and g.peers[-1] >= n_old:
                at = int(np.searchsorted(g.peers, n_old))
                peers = g.peers.copy()
                peers[at:] += shift
                g = _Group(g.targets, peers, g.ports, g.peer_list, g.sources)
            groups.append(g)
            continue
        targets = classes_only(g.targets)
        sources = tuple((i, classes_only(t)) for i, t in g.sources)
        groups.append(_Group(targets, columns(g.peers), g.ports, g.peer_list, sources))
    selecting = (
        tuple((i, classes_only(t)) for i, t in table.selecting) if shrunk else table.selecting
    )
    admin = tuple(_renumber_tier(p, classes_only, columns) for p in table.admin)
    baseline = tuple(_renumber_tier(p, classes_only, columns) for p in table.baseline)
    counts = np.zeros(n_new, dtype=np.int64)
    counts[: len(keep)] = table.selector_counts()[keep]
    base = replace(
        table,
        isolated=counts > 0,
        rc=rc,
        groups=tuple(groups),
        selecting=selecting,
        admin=admin,
        baseline=baseline,
        _cache={},
    )
    carried = None
    if not shrunk and bounds is not None and len(bounds) == len(table.groups):
        carried = bounds.copy()
        for j in (2, 3):
            carried[:, j] += np.where(carried[:, j] >= n_old, shift, 0)
    base.adopt(counts, table.group_index(), carried)
    edit = _TableEdit(base)
    bits = None
    if table.materialised:
        old_bits = table.bits
        # Every cell is written below: kept cells copied, the new class's row and column
        # recomputed when the edit finishes.
        make = np.zeros if shrunk else np.empty
        bits = make((n_new, n_new + n_ext, old_bits.shape[2]), dtype=np.uint64)
        cols = np.concatenate([keep, np.arange(n_old, n_old + n_ext)])
        new_cols = np.concatenate([np.arange(len(keep)), n_new + np.arange(n_ext)])
        if shrunk:
            bits[: len(keep)][:, new_cols] = old_bits[keep][:, cols]
        else:
            bits[:n_old, :n_old] = old_bits[:, :n_old]
            bits[:n_old, n_new:] = old_bits[:, n_old:]
    if added:
        _join(edit, n_new - 1, cluster)
    return edit.finish(bits=bits)


def _renumber_tier(policy: Any, classes_only: Any, columns: Any) -> Any:
    rules = tuple((columns(q), ports, code) for q, ports, code in policy.rules)
    return replace(policy, subjects=classes_only(policy.subjects), rules=rules)


def _join(edit: _TableEdit, c: int, cluster: Cluster) -> None:
    """Class c is new: the policies that select it, the groups it is a peer of, the
    guardrail policies it is a subject or a peer of; then its row and column are dirty."""
    rc = edit.rc
    rep = rc.classes.reps[c]
    ns = cluster.namespace(rep.namespace)
    ns_labels = ns.labels if ns is not None else FrozenLabels({})
    direction = edit.table.direction
    one = np.array([c], dtype=np.intp)
    for at, policy in enumerate(cluster.policies):
        if policy.namespace != rep.namespace or not policy.affects(direction):
            continue
        if not policy.pod_selector.matches(rep.labels):
            continue
        targets = edit.selecting.get(at)
        if targets is None:
            edit.select(at, one)
            for rule in policy.rules(direction):
                edit.add_source((rule.peers, rule.ports), at, one)
        else:
            edit.select(at, np.append(targets, c))
            for rule in policy.rules(direction):
                k = edit.index[(rule.peers, rule.ports)]
                g = edit.groups[k]
                sources = tuple((i, np.append(t, c) if i == at else t) for i, t in g.sources)
                edit.groups[k] = make_group(g.peer_list, g.ports, g.peers, sources)
                edit.touched.add(k)
        edit.counts[c] += 1
    memo: dict[Peer, bool] = {}

    def is_peer(peers: tuple[Peer, ...] | None) -> bool:
        if peers is None:
            return True
        for peer in peers:
            hit = memo.get(peer)
            if hit is None:
                hit = memo[peer] = _matches(peer, rep, ns_labels)
            if hit:
                return True
        return False

    for k, g in enumerate(edit.groups):
        if is_peer(g.peer_list):
            edit.groups[k] = _Group(g.targets, _insert(g.peers, c), g.ports, g.peer_list, g.sources)
            edit.touched.add(k)
    edit.dirty_rows.append(one)
    edit.dirty_cols.append(one)
    edit.admin = tuple(
        _join_tier(p, c, rep, ns_labels, is_peer, direction) for p in edit.table.admin
    )
    edit.baseline = tuple(
        _join_tier(p, c, rep, ns_labels, is_peer, direction) for p in edit.table.baseline
    )


def _join_tier(
    policy: Any, c: int, rep: Pod, ns_labels: FrozenLabels, is_peer: Any, direction: Direction
) -> Any:
    admin: AdminPolicy = policy.policy
    subjects = policy.subjects
    if admin.subject.namespace_selector.matches(ns_labels) and admin.subject.pod_selector.matches(
        rep.labels
    ):
        subjects = np.append(subjects, c)
    rules = tuple(
        (_insert(q, c) if is_peer(rule.peers) else q, ports, code)
        for (q, ports, code), rule in zip(policy.rules, admin.rules(direction), strict=True)
    )
    return replace(policy, subjects=subjects, rules=rules)


def _insert(a: Index, c: int) -> Index:
    at = int(np.searchsorted(a, c))
    return np.concatenate([a[:at], np.array([c], dtype=np.intp), a[at:]])


def _matches(peer: Peer, pod: Pod, ns_labels: FrozenLabels) -> bool:
    if not isinstance(peer, PodPeer):
        return False  # address peers match host-network pods only, which never get here
    if peer.namespace is not None:
        ns_ok = peer.namespace == pod.namespace
    else:
        assert peer.namespace_selector is not None
        ns_ok = peer.namespace_selector.matches(ns_labels)
    return ns_ok and peer.pod_selector.matches(pod.labels)


# -- namespaces ----------------------------------------------------------------------------


def _namespace(conn: Connectivity, cluster: Cluster, name: str) -> Connectivity:
    ns = cluster.namespace(name)
    assert ns is not None
    classes = conn.classes
    spaces = list(classes.namespaces)
    at = next((i for i, n in enumerate(spaces) if n.name == name), None)
    if at is None:
        spaces.append(ns)
    else:
        spaces[at] = ns
    new_classes = replace(classes, namespaces=tuple(spaces))
    rc = conn.rules.renumbered(new_classes, np.arange(len(classes)), len(classes))
    # Host-network classes stay as they are: no selector matches them, and the address
    # blocks that do match them do not depend on namespace labels.
    members = (
        np.flatnonzero((classes.class_namespace == at) & ~classes.host_network).astype(np.intp)
        if at is not None
        else _EMPTY
    )
    admin, baseline = cluster.tier(AdminTier.ADMIN), cluster.tier(AdminTier.BASELINE)
    tables = []
    for table in (conn.ingress, conn.egress):
        base = replace(table, rc=rc, _cache={})
        base.adopt(table.selector_counts(), table.group_index(), table.cached_bounds())
        edit = _TableEdit(base)
        if len(members):
            _regroup_members(edit, members, cluster)
            edit.dirty_rows.append(members)
            edit.dirty_cols.append(members)
        bits = table.bits.copy() if table.materialised else None
        tables.append(edit.finish(base.compile_tier(admin), base.compile_tier(baseline), bits=bits))
    return replace(
        conn, cluster=cluster, classes=new_classes, rules=rc, ingress=tables[0], egress=tables[1]
    )


def _regroup_members(edit: _TableEdit, members: Index, cluster: Cluster) -> None:
    """Re-ask every group that selects namespaces by label about the classes `members`."""
    reps = edit.rc.classes.reps
    ns = cluster.namespace(reps[int(members[0])].namespace)
    ns_labels = ns.labels if ns is not None else FrozenLabels({})
    for k, g in enumerate(edit.groups):
        if g.peer_list is None or not any(
            isinstance(p, PodPeer) and p.namespace_selector is not None for p in g.peer_list
        ):
            continue
        hit = [
            c for c in members.tolist() if any(_matches(p, reps[c], ns_labels) for p in g.peer_list)
        ]
        rest = np.setdiff1d(g.peers, members, assume_unique=True)
        peers = np.union1d(rest, np.array(hit, dtype=np.intp)).astype(np.intp)
        if not np.array_equal(peers, g.peers):
            edit.groups[k] = replace(g, peers=peers)
            edit.touched.add(k)
