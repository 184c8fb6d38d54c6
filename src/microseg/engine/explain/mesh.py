"""Mesh explanations for one query: the mesh steps at the destination, per port subset.

Like explain.py for NetworkPolicy, explanations are computed from the policies (here by
the reference evaluator, one representative port per atom), not read back from the
table, so tests can hold the two against each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from microseg.engine.explain.mesh_reasons import MeshReason, evaluate
from microseg.engine.query import MeshCause, MeshDetail, PolicyKind, Step, Tier, Verdict
from microseg.model.objects import Pod
from microseg.model.sets import ConnSet, IntervalSet, Protocol

if TYPE_CHECKING:
    from microseg.engine.assembly import Endpoint, Index

__all__ = ["mesh_steps"]


def _peer(conn: Index, src: Endpoint) -> Pod | str:
    """The source as the reference evaluator takes it: a pod, or one address of the range
    (the range is one IP atom or more; callers pass single addresses for exact answers)."""
    if src.klass is not None:
        return conn.classes.reps[src.klass]
    first = next(iter(src.addresses.ranges()), None) if src.addresses is not None else None
    return first[0] if first is not None else "0.0.0.0"


def mesh_steps(conn: Index, src: Endpoint, dst: Endpoint, scope: ConnSet) -> tuple[Step, ...]:
    """The reasons the mesh gives for each TCP atom in `scope`, merged per reason."""
    assert dst.klass is not None
    dst_pod = conn.classes.reps[dst.klass]
    peer = _peer(conn, src)
    tcp = ConnSet.of({Protocol.TCP: IntervalSet.span(1, 65535)})
    mask = conn.ports.mask_of(scope & tcp)
    merged: dict[MeshReason, list[tuple[int, int]]] = {}
    for k in np.flatnonzero(mask).tolist():
        _, lo, hi = conn.ports.atoms[k]
        _, reasons = evaluate(conn.cluster, peer, dst_pod, Protocol.TCP, lo)
        for r in reasons:
            merged.setdefault(r, []).append((lo, hi))
    steps = [
        Step(
            Tier.MESH,
            r.effect,
            ConnSet.of({Protocol.TCP: IntervalSet.of(spans)}),
            r.policy,
            r.rule,
            r.origin,
            policy_kind=(r.kind or PolicyKind.AUTHZ) if r.policy is not None else None,
            mesh=r.detail,
        )
        for r, spans in merged.items()
    ]
    other = scope - tcp
    if other:
        # The sidecar intercepts TCP only: UDP and SCTP verdicts are the network's alone.
        steps.append(Step(Tier.MESH, Verdict.ALLOW, other, mesh=MeshDetail(MeshCause.TCP_ONLY)))
    return tuple(steps)
