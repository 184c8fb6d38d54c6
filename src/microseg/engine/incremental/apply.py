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
host-network pods, node peers, deleting a namespace, and any change to a cluster with
Calico objects (its tiers are compiled and stacked as a whole).
"""

from __future__ import annotations

from microseg.engine.incremental.common import IndexT, Rebuild
from microseg.engine.incremental.namespaces import namespace
from microseg.engine.incremental.pods import pod
from microseg.engine.incremental.policies import admin, netpol
from microseg.model.changes import (
    Change,
    DeletePod,
    DeletePolicy,
    PutNamespace,
    PutPod,
    PutPolicy,
    RelabelPod,
    apply_change,
)
from microseg.model.cluster import Cluster
from microseg.model.netpol import NetworkPolicy

__all__ = ["apply_incrementally"]


def apply_incrementally(conn: IndexT, change: Change) -> IndexT:
    cluster = apply_change(conn.cluster, change)
    try:
        return _update(conn, cluster, change)
    except Rebuild:
        return type(conn).build(cluster, conn.options)


def _update(conn: IndexT, cluster: Cluster, change: Change) -> IndexT:
    if conn.mesh is not None or cluster.has_mesh:
        raise Rebuild("mesh")
    if conn.classes.controller is not None or cluster.ingresses or cluster.routes:
        raise Rebuild("ingress controller")
    if conn.isolation is not None or cluster.networks:
        raise Rebuild("user-defined networks")
    if cluster.nodes != conn.cluster.nodes:
        raise Rebuild("nodes")
    if cluster.has_calico or conn.calico is not None:
        # Calico's tiers are stacked whole per block (engine/index/calico_compile.py); an
        # update recompiles and rematerialises them, which is what a rebuild does.
        raise Rebuild("Calico")
    if isinstance(change, PutPolicy | DeletePolicy):
        if isinstance(change, PutPolicy) and isinstance(change.policy, NetworkPolicy):
            return netpol(conn, cluster, change.policy.namespace, change.policy.name)
        if isinstance(change, DeletePolicy) and change.kind == "NetworkPolicy":
            return netpol(conn, cluster, change.namespace, change.name)
        return admin(conn, cluster)
    if isinstance(change, PutPod | RelabelPod | DeletePod):
        return pod(conn, cluster, change)
    if isinstance(change, PutNamespace):
        return namespace(conn, cluster, change.name)
    raise Rebuild("namespace deleted")
