"""Namespace label changes: the classes in the namespace get new rows and columns."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from microseg.engine.incremental.common import EMPTY, Index, IndexT
from microseg.engine.incremental.edit import TableEdit
from microseg.engine.incremental.pods import matches
from microseg.model.admin import AdminTier
from microseg.model.cluster import Cluster
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import PodPeer

__all__ = ["namespace", "regroup_members"]


# -- namespaces ----------------------------------------------------------------------------


def namespace(conn: IndexT, cluster: Cluster, name: str) -> IndexT:
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
        else EMPTY
    )
    admin, baseline = cluster.tier(AdminTier.ADMIN), cluster.tier(AdminTier.BASELINE)
    tables = []
    for table in (conn.ingress, conn.egress):
        base = replace(table, rc=rc, _cache={})
        base.adopt(table.selector_counts(), table.group_index(), table.cached_bounds())
        edit = TableEdit(base)
        if len(members):
            regroup_members(edit, members, cluster)
            edit.dirty_rows.append(members)
            edit.dirty_cols.append(members)
        bits = table.bits.copy() if table.materialised else None
        tables.append(edit.finish(base.compile_tier(admin), base.compile_tier(baseline), bits=bits))
    return replace(
        conn, cluster=cluster, classes=new_classes, rules=rc, ingress=tables[0], egress=tables[1]
    )


def regroup_members(edit: TableEdit, members: Index, cluster: Cluster) -> None:
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
            c for c in members.tolist() if any(matches(p, reps[c], ns_labels) for p in g.peer_list)
        ]
        rest = np.setdiff1d(g.peers, members, assume_unique=True)
        peers = np.union1d(rest, np.array(hit, dtype=np.intp)).astype(np.intp)
        if not np.array_equal(peers, g.peers):
            edit.groups[k] = replace(g, peers=peers)
            edit.touched.add(k)
