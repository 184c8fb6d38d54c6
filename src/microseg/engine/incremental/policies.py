"""NetworkPolicy and guardrail-policy changes: the rows of the classes a policy selected
or now selects are recomputed; a guardrail tier is recompiled whole."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from microseg.engine.incremental.atoms import check_removal, prepare_policy
from microseg.engine.incremental.common import IndexT
from microseg.engine.incremental.edit import TableEdit
from microseg.model.admin import AdminTier
from microseg.model.changes import position_of
from microseg.model.cluster import Cluster

__all__ = ["admin", "netpol"]


# -- NetworkPolicy -------------------------------------------------------------------------


def netpol(conn: IndexT, cluster: Cluster, namespace: str, name: str) -> IndexT:
    old_policies = conn.cluster.policies
    old_at = position_of(old_policies, namespace, name)
    new_at = position_of(cluster.policies, namespace, name)
    old = old_policies[old_at] if old_at is not None else None
    new = cluster.policies[new_at] if new_at is not None else None
    check_removal(conn, old)
    if new is not None:
        conn = prepare_policy(conn, new)
    deleted = old_at if new_at is None else None
    tables = []
    for table in (conn.ingress, conn.egress):
        d = table.direction
        was = old is not None and old.affects(d)
        now = new is not None and new.affects(d)
        edit = TableEdit(table)
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


# -- guardrail tiers -----------------------------------------------------------------------


def admin(conn: IndexT, cluster: Cluster) -> IndexT:
    for policy in cluster.admin_policies:
        if policy not in conn.cluster.admin_policies:
            conn = prepare_policy(conn, policy)
    for policy in conn.cluster.admin_policies:
        if policy not in cluster.admin_policies:
            check_removal(conn, policy)
    rc = conn.rules
    old_subjects = [rc.subject_targets(p.subject) for p in conn.cluster.admin_policies]
    new_subjects = [rc.subject_targets(p.subject) for p in cluster.admin_policies]
    rows = np.flatnonzero(np.logical_or.reduce([*old_subjects, *new_subjects]))
    admin, baseline = cluster.tier(AdminTier.ADMIN), cluster.tier(AdminTier.BASELINE)
    tables = []
    for table in (conn.ingress, conn.egress):
        edit = TableEdit(table)
        edit.dirty_rows.append(rows)
        tables.append(
            edit.finish(
                table.compile_tier(admin),
                table.compile_tier(baseline),
            )
        )
    return replace(conn, cluster=cluster, ingress=tables[0], egress=tables[1])
