"""Pod changes: a pod joins the class its new key names; a new class gets a row and a
column, a class left empty is removed and every index renumbered."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from microseg.engine.assembly import EndpointNames, used_port_names
from microseg.engine.incremental.atoms import is_atom, refine
from microseg.engine.incremental.common import Index, IndexT, Range, Rebuild
from microseg.engine.incremental.edit import TableEdit
from microseg.engine.index.classes import EndpointClasses, class_key
from microseg.engine.index.grouping import carry_grouping
from microseg.engine.index.rules import RuleCompiler
from microseg.engine.index.tables import (
    DirectionTable,
    _Group,
    make_group,
)
from microseg.engine.options import HostNetwork
from microseg.model.admin import AdminPolicy
from microseg.model.changes import (
    DeletePod,
    PutPod,
    RelabelPod,
    pod_index,
)
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import Direction, Peer, PodPeer
from microseg.model.objects import Pod
from microseg.model.sets import Protocol

__all__ = [
    "classes_of",
    "insert",
    "join",
    "join_tier",
    "matches",
    "named_port_cuts",
    "pod",
    "renumber",
    "renumber_tier",
    "used_names",
]


# -- pods and classes ----------------------------------------------------------------------


def pod(conn: IndexT, cluster: Cluster, change: PutPod | RelabelPod | DeletePod) -> IndexT:
    if isinstance(change, PutPod):
        namespace, name = change.pod.namespace, change.pod.name
    else:
        namespace, name = change.namespace, change.name
    old_at = pod_index(conn.cluster, namespace, name)
    new_at = pod_index(cluster, namespace, name)
    old_pod = conn.cluster.pods[old_at] if old_at is not None else None
    new_pod = cluster.pods[new_at] if new_at is not None else None
    if any(p is not None and p.host_network for p in (old_pod, new_pod)):
        raise Rebuild("host-network pod")
    if len(cluster.namespaces) != len(conn.classes.namespaces):
        raise Rebuild("namespace added with the pod")
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
            conn = refine(conn, named_port_cuts(conn, new_pod))
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
    for c in {int(pod_class[i]) for i in (new_at,) if i is not None} | classes_of(
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
        renumber(t, rc, keep, n_old, n_new, new_class >= 0, cluster)
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


def classes_of(classes: EndpointClasses, at: int | None, m: Index) -> set[int]:
    """The renumbered class the pod at `at` left, if it survives."""
    if at is None:
        return set()
    c = int(m[int(classes.pod_class[at])])
    return {c} if c >= 0 else set()


_USED_NAMES: list[tuple[object, object, set[tuple[Protocol, str]]]] = []


def used_names(cluster: Cluster) -> set[tuple[Protocol, str]]:
    """`used_port_names`, remembered for the last policy tuples (a pod change keeps them)."""
    last = _USED_NAMES[0] if _USED_NAMES else None
    if last is not None and last[0] is cluster.policies and last[1] is cluster.admin_policies:
        return last[2]
    used = used_port_names(cluster)
    _USED_NAMES[:] = [(cluster.policies, cluster.admin_policies, used)]
    return used


def named_port_cuts(conn: IndexT, pod: Pod) -> list[Range]:
    """A new class's named ports that rules use must be atoms of their own."""
    out: list[Range] = []
    # Names no rule uses any more stay resolved in the compiler, and a rule may name them
    # again later: their numbers need atoms of their own too.
    for proto, name in used_names(conn.cluster) | set(conn.rules.named_cache()):
        number = pod.named_port(name, proto)
        if number is not None and not is_atom(conn, proto, number, number):
            out.append((proto, number, number))
    return out


def renumber(
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
    admin = tuple(renumber_tier(p, classes_only, columns) for p in table.admin)
    baseline = tuple(renumber_tier(p, classes_only, columns) for p in table.baseline)
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
    edit = TableEdit(base)
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
        join(edit, n_new - 1, cluster)
    return edit.finish(bits=bits)


def renumber_tier(policy: Any, classes_only: Any, columns: Any) -> Any:
    rules = tuple((columns(q), ports, code) for q, ports, code in policy.rules)
    return replace(policy, subjects=classes_only(policy.subjects), rules=rules)


def join(edit: TableEdit, c: int, cluster: Cluster) -> None:
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
                hit = memo[peer] = matches(peer, rep, ns_labels)
            if hit:
                return True
        return False

    for k, g in enumerate(edit.groups):
        if is_peer(g.peer_list):
            edit.groups[k] = _Group(g.targets, insert(g.peers, c), g.ports, g.peer_list, g.sources)
            edit.touched.add(k)
    edit.dirty_rows.append(one)
    edit.dirty_cols.append(one)
    edit.admin = tuple(
        join_tier(p, c, rep, ns_labels, is_peer, direction) for p in edit.table.admin
    )
    edit.baseline = tuple(
        join_tier(p, c, rep, ns_labels, is_peer, direction) for p in edit.table.baseline
    )


def join_tier(
    policy: Any, c: int, rep: Pod, ns_labels: FrozenLabels, is_peer: Any, direction: Direction
) -> Any:
    admin: AdminPolicy = policy.policy
    subjects = policy.subjects
    if admin.subject.namespace_selector.matches(ns_labels) and admin.subject.pod_selector.matches(
        rep.labels
    ):
        subjects = np.append(subjects, c)
    rules = tuple(
        (insert(q, c) if is_peer(rule.peers) else q, ports, code)
        for (q, ports, code), rule in zip(policy.rules, admin.rules(direction), strict=True)
    )
    return replace(policy, subjects=subjects, rules=rules)


def insert(a: Index, c: int) -> Index:
    at = int(np.searchsorted(a, c))
    return np.concatenate([a[:at], np.array([c], dtype=np.intp), a[at:]])


def matches(peer: Peer, pod: Pod, ns_labels: FrozenLabels) -> bool:
    if not isinstance(peer, PodPeer):
        return False  # address peers match host-network pods only, which never get here
    if peer.namespace is not None:
        ns_ok = peer.namespace == pod.namespace
    else:
        assert peer.namespace_selector is not None
        ns_ok = peer.namespace_selector.matches(ns_labels)
    return ns_ok and peer.pod_selector.matches(pod.labels)
