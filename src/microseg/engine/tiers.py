"""Per-direction allow tables for the NetworkPolicy tier.

`allow[t, q, a]` says whether target class t admits peer column q on port atom a in the
table's direction: for ingress the peer is the source, for egress the destination. A
class no policy isolates in a direction allows everything there (API reference: "By
default, a pod is non-isolated"). Work is one numpy block per rule, never per pod pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.engine.rules import RuleCompiler
from microseg.model.netpol import Direction, NetworkPolicy, Rule

__all__ = ["DirectionTable", "build_table"]


@dataclass(frozen=True, slots=True)
class DirectionTable:
    direction: Direction
    isolated: npt.NDArray[np.bool_]
    allow: npt.NDArray[np.bool_]


def build_table(
    rc: RuleCompiler, policies: tuple[NetworkPolicy, ...], direction: Direction
) -> DirectionTable:
    n_c, n_q, n_a = rc.n_classes, rc.n_peers, len(rc.ports)
    allow = np.zeros((n_c, n_q, n_a), dtype=np.bool_)
    isolated = np.zeros(n_c, dtype=np.bool_)
    # Rules with identical peers and ports are merged first: real policy sets repeat them.
    grouped: dict[tuple[object, object], npt.NDArray[np.bool_]] = {}
    for policy in policies:
        if not policy.affects(direction):
            continue
        targets = rc.policy_targets(policy)
        if not targets.any():
            continue
        isolated |= targets
        for rule in policy.rules(direction):
            key = (rule.peers, rule.ports)
            prev = grouped.get(key)
            grouped[key] = targets if prev is None else (prev | targets)
    for (peers, ports), targets in grouped.items():
        rule = Rule(peers, ports, 0)  # type: ignore[arg-type]
        t_idx = np.flatnonzero(targets)
        q_idx = np.flatnonzero(rc.rule_peers(rule))
        if not len(q_idx):
            continue
        numeric = rc.numeric_ports(rule.ports)
        if numeric.any():
            allow[np.ix_(t_idx, q_idx)] |= numeric
        named = rc.named_matrix(rule.ports)
        if named is None:
            continue
        if direction is Direction.INGRESS:
            # Named ports resolve on the destination: here, the target itself.
            allow[np.ix_(t_idx, q_idx)] |= named[t_idx][:, None, :]
        else:
            # ... and here, the peer. External peers have no named ports.
            pod_q = q_idx[q_idx < n_c]
            if len(pod_q):
                allow[np.ix_(t_idx, pod_q)] |= named[pod_q][None, :, :]
    allow[~isolated] = True
    return DirectionTable(direction, isolated, allow)
