"""Blast radius: what an attacker who holds some workloads can reach, hop by hop.

Semantics decided here:
- A hop is one allowed connection between two WorkloadGraph nodes, the edges `connectivity`
  lists: the source's egress and the destination's ingress both allow it (networking.k8s.io/v1
  NetworkPolicy reference, isolation per direction; admin and baseline tiers and the Istio
  layer as the Connectivity counts them). Every hop of every path is a connection the
  policies allow; the attacker is assumed to take over each workload it reaches.
- Hop counts are shortest distances from the nearest source; sources are not "reachable".
  Each reachable node gets one shortest path: among its shortest-path predecessors the one
  with the lowest node index (nodes are sorted by workload name), so results are stable.
- A port filter restricts every hop, not only the first (an attacker limited to TCP/5432),
  and the entry hop too: an address source's foothold is the workloads it may reach on the
  filtered ports.
- An address source (an IP, a CIDR group, `internet`) stands for the workloads it may
  connect to, as `--from-exposed` does: the outside attacker's first foothold. It is read
  from the Connectivity's ingress tables over every IP atom the addresses touch, both
  families, not from the WorkloadGraph's external runs: those hide IPv6 unless the input
  mentions it (engine/index/atoms.py `IPAtoms.show_v6`), yet a pod that no policy isolates
  accepts IPv6 clients all the same (NetworkPolicy reference: a non-isolated pod allows
  all inbound connections).

The search is a breadth-first search from all sources at once over the graph's edge arrays:
one numpy gather per hop level (CSR layout), never a loop over pod pairs. Explanations (the
engine's `Decision` per hop) cost a policy walk each, so they are computed only for the hops
on the reported paths, once per hop however many paths share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from microseg.analyses.groups import GroupResolver
from microseg.engine import (
    Bits,
    Connectivity,
    Decision,
    Endpoint,
    UnknownEndpointError,
    WorkloadGraph,
    chunks,
    from_external_block,
    full_word,
    n_words,
    pack,
)
from microseg.model.addresses import PUBLIC
from microseg.model.intent import BUILTIN_GROUPS, INTERNET_GROUP, IntentSet
from microseg.model.sets import ConnSet, IPSet, Protocol

__all__ = [
    "BlastHit",
    "BlastRadius",
    "Hop",
    "NamedPort",
    "blast_radius",
    "exposed_sources",
    "resolve_nodes",
    "sources_of",
]


@dataclass(frozen=True, slots=True)
class Hop:
    """One edge of an attack path: `src` may open `conns` to `dst`."""

    src: str
    dst: str
    conns: ConnSet
    decision: Decision | None
    """The engine's explanation of the hop (None when asked not to explain)."""


@dataclass(frozen=True, slots=True)
class BlastHit:
    """A reachable node, its distance from the nearest source and one shortest path to it
    (`path[0]` a source, `path[-1]` the node; `steps[i]` goes from path[i] to path[i+1])."""

    workload: str
    hops: int
    path: tuple[str, ...]
    steps: tuple[Hop, ...]


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """`sources`: the compromised nodes; `reachable`: every other node within reach, sorted
    by hops then name. Sources are never listed as reachable."""

    sources: tuple[str, ...]
    reachable: tuple[BlastHit, ...]


@dataclass(frozen=True, slots=True)
class NamedPort:
    """A container port name (`TCP/http`): on each hop it means the port of that name on the
    hop's destination, as a NetworkPolicy named port resolves against the destination pod
    (networking.k8s.io/v1 NetworkPolicyPort.port); a destination without it admits nothing."""

    protocol: Protocol
    name: str


class _Filter:
    """Which edges an attacker restricted to `conns` (and/or a named port) may use, and what
    each gives: decided once per distinct (connection set, resolved port), never per edge."""

    def __init__(
        self,
        conn: Connectivity,
        graph: WorkloadGraph,
        conns: ConnSet | None,
        named: NamedPort | None,
    ) -> None:
        self.graph = graph
        self.conns = conns
        self.named = named
        self.number = np.zeros(len(graph.nodes), dtype=np.int64)
        if named is not None:
            per_class = [r.named_port(named.name, named.protocol) or 0 for r in conn.classes.reps]
            self.number = np.asarray(per_class, dtype=np.int64)[graph.node_class]

    def restrict(self, conns: ConnSet, port: int) -> ConnSet:
        if self.conns is not None:
            conns = conns & self.conns
        if self.named is not None:
            conns = (conns & ConnSet.single(self.named.protocol, port)) if port else ConnSet()
        return conns

    def usable(
        self, conn_ids: npt.NDArray[np.int64], dst: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Which of a block's edges (their connection ids and destination nodes) the filter
        keeps: decided once per distinct (connection set, resolved port)."""
        if self.conns is None and self.named is None:
            return np.ones(len(conn_ids), dtype=np.bool_)
        g = self.graph
        key = conn_ids * 65536 + self.number[dst]
        uniq, inverse = np.unique(key, return_inverse=True)
        ok = [bool(self.restrict(g.conn_set(k // 65536), k % 65536)) for k in uniq.tolist()]
        out: npt.NDArray[np.bool_] = np.asarray(ok, dtype=np.bool_)[inverse.reshape(-1)]
        return out

    def node_conns(self, conns: ConnSet, node: int) -> ConnSet:
        """The part of `conns` (a connection into graph node `node`) the filter keeps."""
        return self.restrict(conns, int(self.number[node]))

    def class_words(self, conn: Connectivity) -> Bits:
        """`[class, word]`: the port atoms the filter keeps on connections into each class.
        Atoms are exact here: every port of an atom is treated alike by every rule."""
        n = len(conn.ports)
        base = full_word(n) if self.conns is None else pack(conn.ports.mask_of(self.conns))
        out = np.repeat(base.reshape(1, -1), conn.n_classes, axis=0)
        if self.named is not None:
            proto, name = self.named.protocol, self.named.name
            for k, rep in enumerate(conn.classes.reps):
                number = rep.named_port(name, proto)
                if number is None:
                    out[k] = 0
                else:
                    out[k] &= pack(conn.ports.mask(proto, number, number))
        return out.reshape(conn.n_classes, n_words(n))

    def hop_conns(self, dst: int, conn_id: int) -> ConnSet:
        return self.restrict(self.graph.conn_set(conn_id), int(self.number[dst]))


def _bfs(
    graph: WorkloadGraph,
    sources: npt.NDArray[np.int64],
    only: _Filter,
    hops: int | None,
    targets: npt.NDArray[np.bool_] | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per node: distance from the nearest source (-1: unreached), and the node and the
    connection id of the edge it was first reached by (-1 for sources and unreached nodes).

    Each level asks the graph for the edges from the frontier to the nodes not reached yet
    only, a block of frontier nodes at a time (engine/views/workload.py): no edge list of the
    whole graph is ever built, and in an open cluster, where the first level reaches every
    node, the second level has nothing left to ask. Within a level, a node's predecessor is
    the lowest-index frontier node that reaches it."""
    n = len(graph.nodes)
    dist = np.full(n, -1, dtype=np.int64)
    via = np.full(n, -1, dtype=np.int64)
    via_conn = np.full(n, -1, dtype=np.int64)
    if not len(sources):
        return dist, via, via_conn
    frontier = np.unique(sources)
    dist[frontier] = 0
    remaining = None if targets is None else int((targets & (dist < 0)).sum())
    level = 0
    while frontier.size and (hops is None or level < hops) and remaining != 0:
        open_ = np.flatnonzero(dist < 0).astype(np.int64)
        if not len(open_):
            break
        level += 1
        found: list[npt.NDArray[np.int64]] = []
        for rows in graph.source_chunks(frontier, len(open_)):
            i, j, ids = graph.block(rows, open_)
            keep = only.usable(ids, open_[j])
            i, j, ids = i[keep], j[keep], ids[keep]
            reached = open_[j]
            fresh = dist[reached] < 0  # not reached by an earlier block of this level
            nodes, first = np.unique(reached[fresh], return_index=True)
            dist[nodes] = level
            via[nodes] = rows[i[fresh][first]]
            via_conn[nodes] = ids[fresh][first]
            found.append(nodes)
        frontier = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
        if targets is not None:
            remaining = int((targets & (dist < 0)).sum())
    return dist, via, via_conn


def blast_radius(
    conn: Connectivity,
    graph: WorkloadGraph,
    sources: Sequence[int],
    *,
    hops: int | None = None,
    conns: ConnSet | None = None,
    targets: Sequence[int] | None = None,
    explain: bool = True,
    named: NamedPort | None = None,
) -> BlastRadius:
    """Every node reachable from `sources` (WorkloadGraph node indices) in at most `hops`
    hops (None: any number), using only edges whose connections meet `conns` (None: any)
    and, with `named`, that allow the destination's port of that name; restricted to
    `targets` when given; each with one shortest path and, with `explain`, the engine's
    Decision for each hop of it."""
    if hops is not None and hops < 0:
        raise ValueError(f"hops must be >= 0, got {hops}")
    n = len(graph.nodes)
    src = np.asarray(sorted(set(sources)), dtype=np.int64)
    if len(src) and (src.min() < 0 or src.max() >= n):
        raise ValueError(f"source node index out of range 0..{n - 1}")
    wanted: npt.NDArray[np.bool_] | None = None
    if targets is not None:
        wanted = np.zeros(n, dtype=np.bool_)
        wanted[np.asarray(list(targets), dtype=np.int64)] = True
    only = _Filter(conn, graph, conns, named)
    dist, via, via_conn = _bfs(graph, src, only, hops, wanted)
    hit = dist > 0
    if wanted is not None:
        hit &= wanted
    # Paths: every node on a reported path, each edge explained once however many share it.
    order = sorted(np.flatnonzero(hit).tolist(), key=lambda i: (int(dist[i]), graph.nodes[i]))
    hop_of: dict[tuple[int, int], Hop] = {}
    explainer = conn if explain else None
    steps_of: dict[int, tuple[Hop, ...]] = {int(i): () for i in src.tolist()}

    def steps(node: int) -> tuple[Hop, ...]:
        chain: list[int] = []
        while node not in steps_of:
            chain.append(node)
            node = int(via[node])
        for v in reversed(chain):
            e = (int(via[v]), v)
            hop = hop_of.get(e)
            if hop is None:
                hop = hop_of[e] = _hop(graph, *e, int(via_conn[v]), only, explainer)
            steps_of[v] = (*steps_of[node], hop)
            node = v
        return steps_of[node]

    reachable = []
    for i in order:
        path_steps = steps(i)
        path = (path_steps[0].src, *(h.dst for h in path_steps))
        reachable.append(BlastHit(graph.nodes[i], int(dist[i]), path, path_steps))
    names = tuple(sorted(graph.nodes[i] for i in src.tolist()))
    return BlastRadius(names, tuple(reachable))


def _hop(
    graph: WorkloadGraph,
    s: int,
    d: int,
    conn_id: int,
    only: _Filter,
    explainer: Connectivity | None,
) -> Hop:
    usable = only.hop_conns(d, conn_id)
    decision = None
    if explainer is not None:
        a = Endpoint(graph.nodes[s], klass=int(graph.node_class[s]))
        b = Endpoint(graph.nodes[d], klass=int(graph.node_class[d]))
        decision = explainer.reach(a, b, usable)
    return Hop(graph.nodes[s], graph.nodes[d], usable, decision)


# -- choosing sources -------------------------------------------------------------------


def sources_of(conn: Connectivity, graph: WorkloadGraph, text: str) -> tuple[int, ...]:
    """Node indices for `ns/name`, `ns/name[Kind]` (a workload: all its nodes, several when
    it is split into pods), `ns/pod` (the pod's node) or `ns/*` (every node of namespace
    ns). Raises UnknownEndpointError, with what was expected, for anything else."""
    spec = text.strip()
    if spec.endswith("/*"):
        namespace = spec[:-2]
        prefix = namespace + "/"
        nodes = tuple(i for i, w in enumerate(graph.node_workload) if w.startswith(prefix))
        if not nodes:
            raise UnknownEndpointError(f"{text!r}: no workloads in namespace {namespace!r}")
        return nodes
    ep = conn.resolve(spec)
    if ep.klass is None:
        raise UnknownEndpointError(
            f"{text!r} is an address; expected a workload ns/name, a pod, or ns/* "
            "(addresses that reach in: --from-exposed)"
        )
    nodes = tuple(i for i, w in enumerate(graph.node_workload) if w == ep.name)
    if nodes:
        return nodes
    # A pod: its own node when its workload is split, else its workload's node.
    namespace, name = ep.name.removesuffix("[Pod]").split("/", 1)
    pod = conn.cluster.pods[conn.names.pods[(namespace, name)]]
    own = str(pod.workload)
    return tuple(
        i
        for i, (n, w) in enumerate(zip(graph.nodes, graph.node_workload, strict=True))
        if n == ep.name or (w == own and own not in graph.split)
    )


def resolve_nodes(
    conn: Connectivity,
    graph: WorkloadGraph,
    text: str,
    intents: IntentSet | None = None,
    *,
    target: bool = False,
    resolver: GroupResolver | None = None,
    conns: ConnSet | None = None,
    named: NamedPort | None = None,
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Node indices for a --from/--to argument, and notices about it. Besides the forms of
    `sources_of`: an address or CIDR, or a group (the built-in `internet`, `cluster`,
    `kube-dns`, or one defined in `intents`) resolved as verify resolves it
    (analyses/groups.py). A source made of addresses (`internet`, a CIDR group, an IP) stands
    for the workloads those addresses may connect to: the foothold an outside attacker gets,
    as with --from-exposed (for `internet`, with the workloads behind an Ingress or Route
    too). `conns`/`named`, the port filter, restrict that entry hop as they restrict every
    other; workloads named as sources are held already and are not filtered. A target must
    be workloads. Raises UnknownEndpointError."""
    spec = text.strip()
    addresses: IPSet | None = None
    with suppress(ValueError):
        addresses = IPSet.from_cidr(spec)
    if addresses is None and "/" in spec:
        return sources_of(conn, graph, spec), ()
    notes: tuple[str, ...] = ()
    nodes: tuple[int, ...] = ()
    if addresses is None:
        group = intents.group(spec) if intents is not None else None
        if group is None and spec not in BUILTIN_GROUPS:
            known = sorted({*BUILTIN_GROUPS, *(g.name for g in intents.groups)} if intents else ())
            hint = (
                f"; groups: {', '.join(known)}"
                if intents is not None
                else f"; groups other than {', '.join(BUILTIN_GROUPS)} need --intents FILE"
            )
            raise UnknownEndpointError(
                f"{text!r}: expected ns/name, ns/*, an address or a group name{hint}"
            )
        members = (resolver or GroupResolver.build(conn, graph)).resolve(spec, group)
        notes = members.notes
        nodes = tuple(np.flatnonzero(members.nodes).tolist())
        addresses = members.addresses or None
    if addresses is not None:
        if target:
            raise UnknownEndpointError(f"{text!r} is addresses; crown jewels are workloads")
        via_ingress = spec == INTERNET_GROUP
        entry = exposed_sources(
            conn, graph, addresses, ingress=via_ingress, conns=conns, named=named
        )
        nodes = tuple(sorted({*nodes, *entry}))
    return nodes, notes


def exposed_sources(
    conn: Connectivity,
    graph: WorkloadGraph,
    public: IPSet = PUBLIC,
    *,
    ingress: bool = False,
    conns: ConnSet | None = None,
    named: NamedPort | None = None,
) -> tuple[int, ...]:
    """Nodes that accept some connection from an address in `public`: by default the
    globally reachable addresses of the IANA special-purpose registries (model/addresses.py),
    the same set as the intent group `internet`, IPv4 and IPv6. Private, CGNAT or link-local
    sources do not make a workload exposed. With `ingress`, also the nodes the ingress
    controller may reach through an Ingress or Route (engine/views/ingress.py): those objects exist
    to route outside traffic in, so a workload behind one is exposed even when its policies
    admit no public address directly (they admit the controller). With a port filter
    (`conns`, `named`: see `blast_radius`), only entries on the filtered ports count."""
    only = _Filter(conn, graph, conns, named)
    admits = _admitting_classes(conn, public, only)
    nodes = set(np.flatnonzero(admits[graph.node_class]).tolist())
    if ingress:
        nodes.update(n for n, k in graph.ingress if only.node_conns(graph.conn_set(k), n))
    return tuple(sorted(nodes))


def _admitting_classes(
    conn: Connectivity, addresses: IPSet, only: _Filter
) -> npt.NDArray[np.bool_]:
    """Per class: whether some address of `addresses` may open some connection the filter
    keeps to it. Every IP atom the addresses touch counts (all addresses of an atom are
    treated alike), read from the packed ingress table, or from `from_external` when the
    mesh counts (it governs inbound traffic)."""
    c = conn.n_classes
    cols = np.flatnonzero(conn.ips.mask(addresses))
    hit = np.zeros(c, dtype=np.bool_)
    if not len(cols) or not c:
        return hit
    words = only.class_words(conn)
    every = np.arange(c)
    for rows in chunks(every, len(conn.ips), words.shape[1]):
        table = from_external_block(conn, rows)[:, cols]  # never the whole table
        hit[rows] = ((table & words[rows][:, None, :]) != 0).any(axis=(1, 2))
    return hit
