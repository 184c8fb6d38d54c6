"""Observed traffic on the segmentation graph: the flow keys of a store, replayed against
the policies exactly as `simulate` replays them (analyses/simulate.py `expand` and
`lookup`: Service backends, targetPorts, the packed tables), then drawn per node pair.

Two layers come out: `observed` (keys the policies allow: traffic that uses an allowed
edge) and `attempted` (keys the policies deny: traffic that was tried on a connection the
segmentation closes, whether the source recorded it as dropped or, disagreeing, as
forwarded). Each edge is one (key, source node, destination node): a key to a Service whose
backends are several pods of one workload is drawn once, weighted by the key's records.
Keys that cannot be replayed (ICMP, unresolved endpoints, ...) are counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from microseg.analyses.graphview.edges import ConnTable, EdgeSet
from microseg.analyses.graphview.space import NodeSpace
from microseg.analyses.simulate import SKIPS, expand, lookup
from microseg.engine import Connectivity
from microseg.model.addresses import class_of
from microseg.model.flows import EndpointResolver, FlowKeys
from microseg.model.sets import ConnSet, Protocol

__all__ = ["ObservedFlows", "observed_edges"]

_PROTOCOLS = list(Protocol)


@dataclass(frozen=True, slots=True)
class ObservedFlows:
    """`tag` of both layers indexes `verdicts` (the verdict as the flow source recorded it)."""

    observed: EdgeSet
    attempted: EdgeSet
    verdicts: tuple[str, ...]
    keys: int
    records: int
    replayed: int
    skipped: tuple[tuple[str, int], ...]


def observed_edges(
    conn: Connectivity,
    space: NodeSpace,
    keys: FlowKeys,
    resolver: EndpointResolver,
    table: ConnTable,
) -> ObservedFlows:
    rows = expand(keys, resolver)
    found = lookup(conn, rows)
    ok = rows.skip < 0
    ip_node = np.array([space.group_node(class_of(ip)) for ip in rows.ips] or [-1], dtype=np.int64)
    pod_node = space.pod_node
    src = np.where(rows.src_pod >= 0, pod_node[np.maximum(rows.src_pod, 0)], ip_node[rows.src_ip])
    dst = np.where(rows.dst_pod >= 0, pod_node[np.maximum(rows.dst_pod, 0)], ip_node[rows.dst_ip])
    ok &= (src >= 0) & (dst >= 0)
    # One conn id per distinct (protocol, port) of the replayable rows.
    pp = np.unique(np.stack([rows.proto[ok], rows.port[ok]], axis=1), axis=0)
    conn_of = {
        (int(p), int(q)): table.add(ConnSet.single(_PROTOCOLS[int(p)], int(q)))
        for p, q in pp.tolist()
    }
    layers = []
    for want in (True, False):
        sel = np.flatnonzero(ok & (found.allowed == want))
        triple = np.stack([rows.key[sel], src[sel], dst[sel], rows.proto[sel], rows.port[sel]], 1)
        uniq = np.unique(triple, axis=0).reshape(-1, 5)
        k = uniq[:, 0]
        layers.append(
            EdgeSet(
                uniq[:, 1].copy(),
                uniq[:, 2].copy(),
                np.array([conn_of[(p, q)] for p, q in uniq[:, 3:].tolist()], dtype=np.int64),
                keys.count[k].astype(np.int64),
                keys.verdict[k].astype(np.int64),
                np.full(len(k), -1, dtype=np.int64),
            )
        )
    replayable = np.zeros(len(keys), dtype=np.bool_)
    replayable[rows.key[ok]] = True
    skipped = Counter(SKIPS[int(s)].value for s in rows.skip[rows.skip >= 0].tolist())
    return ObservedFlows(
        layers[0],
        layers[1],
        keys.verdicts,
        len(keys),
        int(keys.count.sum()),
        int(replayable.sum()),
        tuple(sorted(skipped.items())),
    )
