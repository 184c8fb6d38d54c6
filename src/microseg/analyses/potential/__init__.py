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
from microseg.model.netpol import Direction, Peer

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
    # Potential peers that some admin policy takes as its subject: their own side of a
    # connection is not simply open, so they are asked whatever the workload's rules say.
    guarded = {
        d: {i for i, p in enumerate(peers) if any(ev.selecting(p, d)[::2])} for d in Direction
    }
    entries: list[ExposureEntry] = []
    unprotected: list[tuple[str, Direction]] = []
    per_class: dict[int, _Found] = {}
    for name, klass in zip(names, classes, strict=True):
        if focus is not None and name not in focus:
            continue
        if klass not in per_class:
            real = Real(conn.classes.reps[klass], bool(conn.classes.host_network[klass]))
            per_class[klass] = _exposure(ev, real, peers, guarded)
        found, open_ = per_class[klass]
        entries += [ExposureEntry(name, d, p, ports) for d, p, ports in found]
        unprotected += [(name, d) for d in open_]
    return PotentialExposure(tuple(entries), tuple(unprotected), tuple(peers))


_Found = tuple[list[tuple[Direction, Potential | None, PortSet]], list[Direction]]


def _named(ev: TierEvaluator, real: Real, direction: Direction, peers: list[Potential]) -> set[int]:
    """The potential peers some rule of a policy selecting `real` names specifically: for
    every other one, the rules match exactly as they match the whole cluster."""
    admin, nps, baseline = ev.selecting(real, direction)
    rule_peers: list[tuple[Peer, str | None]] = [
        (p, None) for ap in admin + baseline for r in ap.rules(direction) for p in r.peers
    ]
    rule_peers += [
        (p, np_.namespace) for np_ in nps or () for r in np_.rules(direction) for p in r.peers or ()
    ]
    out: set[int] = set()
    for peer, ns in rule_peers:
        out |= ev.names(peer, ns, peers)
    return out


def _exposure(
    ev: TierEvaluator, real: Real, peers: list[Potential], guarded: dict[Direction, set[int]]
) -> _Found:
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
        # Any other peer gets exactly the whole cluster's connection: not listed.
        asked = _named(ev, real, direction, peers) | guarded[other]
        for i in sorted(asked):
            peer = peers[i]
            ports = ev.direction(real, peer, direction)[0] & ev.direction(peer, real, other)[0]
            # Listed when it differs from the whole cluster's: more (a peer the rules name),
            # or less (one an earlier admin Deny carves out, even down to nothing).
            if (wide and ports != wide) or (not wide and ports):
                found.append((direction, peer, ports))
    return found, open_
