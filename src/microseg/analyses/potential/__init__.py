"""Exposure to workloads that do not exist yet: what the policies would open to a pod that
matches a rule's selectors but is not in the input (`microseg connectivity --exposure`).

The connectivity list answers for the workloads of the input. A policy is also a promise
about workloads still to come: `from: [{namespaceSelector: {team: payments}}]` lets in any
pod a `team: payments` namespace will ever hold. This analysis lists, per workload and
direction, in netpol-analyzer's exposure grammar (np-guard/netpol-analyzer,
docs/exposure_analysis.md), which netpol-analyzer's expected outputs hold it to:

- `entire-cluster`: what the workload exchanges with any pod of any namespace (rules whose
  peer selects every namespace), after the tiers;
- each potential peer (peers.py) whose connection differs from that: `backend/[all pods]`,
  `[namespace with {env=prod}]/[pod with {app=web}]`, `[all namespaces]/[pod with {role=x}]`
  (a peer that the whole-cluster connection covers exactly is not repeated; one it excludes,
  through an earlier admin Deny, is listed, possibly with `No Connections`);
- workloads no policy of any tier selects in a direction: not protected there (exposed to
  everything, `entire-cluster : All Connections`).

Named ports towards a workload that does not exist cannot be resolved and are kept as names
(`TCP http`; an admin `namedPort` names no protocol). Primary user-defined networks are not
applied to potential peers (a potential pod has no namespace yet).
"""

from __future__ import annotations

from dataclasses import dataclass

from microseg.analyses.potential.peers import Potential, potential_peers
from microseg.analyses.potential.ports import Named, PortSet
from microseg.analyses.potential.tiers import CLUSTER, Real, TierEvaluator
from microseg.engine import Connectivity, workload_nodes
from microseg.model.netpol import Direction

__all__ = [
    "ExposureEntry",
    "Named",
    "PortSet",
    "Potential",
    "PotentialExposure",
    "potential_exposure",
]


@dataclass(frozen=True, slots=True)
class ExposureEntry:
    """`workload` exchanges `ports` with `peer` (None: the entire cluster) in `direction`."""

    workload: str
    direction: Direction
    peer: Potential | None
    ports: PortSet


@dataclass(frozen=True, slots=True)
class PotentialExposure:
    entries: tuple[ExposureEntry, ...]
    unprotected: tuple[tuple[str, Direction], ...]
    """(workload, direction) that no policy selects: open to everything there."""
    peers: tuple[Potential, ...]


def potential_exposure(conn: Connectivity, focus: set[str] | None = None) -> PotentialExposure:
    """The exposure of every workload (node of the connectivity list; `focus`: only these
    names) to the entire cluster and to the potential peers of the policies."""
    cluster = conn.cluster
    ev = TierEvaluator(cluster)
    peers = potential_peers(cluster)
    names, _owners, classes, _split, _pods = workload_nodes(conn)
    entries: list[ExposureEntry] = []
    unprotected: list[tuple[str, Direction]] = []
    per_class: dict[
        int, tuple[list[tuple[Direction, Potential | None, PortSet]], list[Direction]]
    ] = {}
    for name, klass in zip(names, classes, strict=True):
        if focus is not None and name not in focus:
            continue
        if klass not in per_class:
            real = Real(conn.classes.reps[klass], bool(conn.classes.host_network[klass]))
            per_class[klass] = _exposure(ev, real, peers)
        found, open_ = per_class[klass]
        entries += [ExposureEntry(name, d, p, ports) for d, p, ports in found]
        unprotected += [(name, d) for d in open_]
    return PotentialExposure(tuple(entries), tuple(unprotected), tuple(peers))


def _exposure(
    ev: TierEvaluator, real: Real, peers: list[Potential]
) -> tuple[list[tuple[Direction, Potential | None, PortSet]], list[Direction]]:
    found: list[tuple[Direction, Potential | None, PortSet]] = []
    open_: list[Direction] = []
    for direction in (Direction.EGRESS, Direction.INGRESS):
        wide, protected = ev.direction(real, CLUSTER, direction)
        if not protected:
            open_.append(direction)
            found.append((direction, None, ev.every))
            continue
        if wide:
            found.append((direction, None, wide))
        other = Direction.INGRESS if direction is Direction.EGRESS else Direction.EGRESS
        for peer in peers:
            ports = ev.direction(real, peer, direction)[0] & ev.direction(peer, real, other)[0]
            # Listed when it differs from the whole cluster's: more (a peer the rules name),
            # or less (one an earlier admin Deny carves out, even down to nothing).
            if (wide and ports != wide) or (not wide and ports):
                found.append((direction, peer, ports))
    return found, open_
