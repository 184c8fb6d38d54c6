"""Answers about one edge, one pair or one workload: the engine's explanation (both
layers, as `reach` gives it), the node pairs behind an aggregated edge, a workload's
policies and identity, and its blast radius."""

from __future__ import annotations

import json

import numpy as np

from microseg.analyses.blast import blast_radius, sources_of
from microseg.analyses.graphview import EdgeSet, NodeSpace, node_policies
from microseg.analyses.graphview.space import EXTERNAL_PREFIX, group_of_class
from microseg.engine import INGRESS_CONTROLLER_NAME, Connectivity, UnknownEndpointError
from microseg.model.addresses import classify_runs
from microseg.model.sets import ConnSet
from microseg.render.conns import format_conns
from microseg.render.reach import decision_json, decision_text
from microseg.ui.models import (
    BlastHitOut,
    BlastOut,
    EdgeDetail,
    EdgePair,
    Explanation,
    FlowOut,
    Origin,
    PolicyOut,
    WorkloadOut,
)
from microseg.ui.state import UiState

__all__ = ["MAX_PAIRS", "blast", "edge_detail", "explain", "members", "workload"]

MAX_PAIRS = 500


def members(space: NodeSpace, element: str) -> np.ndarray:
    """The nodes a display element stands for: `w:ns/name[Kind]`, `ns:NAME`, `p:NAME`,
    or `outside` (every address group)."""
    if element == "outside":  # every address group
        return np.flatnonzero(
            np.array([n.startswith(EXTERNAL_PREFIX) for n in space.names], dtype=np.bool_)
        )
    kind, _, name = element.partition(":")
    if kind == "ns":
        if name not in space.namespaces:
            raise UnknownEndpointError(f"no namespace {name!r} in the input")
        k = space.namespaces.index(name)
        return np.flatnonzero(space.ns_of == k)
    i = space.index.get(name) if kind in ("w", "p") else None
    if i is None:
        raise UnknownEndpointError(f"{element!r}: expected w:ns/name[Kind], ns:NAME or p:NAME")
    return np.array([i], dtype=np.int64)


def _endpoint_text(state: UiState, space: NodeSpace, node: int, other: int, outbound: bool) -> str:
    """What `Connectivity.reach` takes for node `node` in a pair with `other`: the name, or
    for an address group, the first address of the first range of that group the workload
    has an allowed edge with (explanations are exact for that address)."""
    name = space.names[node]
    if not name.startswith(EXTERNAL_PREFIX):
        return name
    group = name[len(EXTERNAL_PREFIX) :]
    if other < len(state.graph.nodes):
        for e in state.graph.external:
            if e.node == other and e.outbound == outbound:
                for run, cls in classify_runs(e.addresses):
                    if group_of_class(cls) == group:
                        return next(iter(run.ranges()))[0]
    samples = {"public": "8.8.8.8", "private": "10.0.0.1", "shared": "100.64.0.1"}
    return samples.get(group, "169.254.169.254" if group == "link-local" else "192.0.2.1")


def edge_detail(state: UiState, source: str, target: str, layer: str, diff: bool) -> EdgeDetail:
    side = state.other if diff else None
    space = side.space if side is not None else state.space
    edges = _layer(state, layer, diff)
    s, d = members(space, source), members(space, target)
    sel = np.flatnonzero(np.isin(edges.src, s) & np.isin(edges.dst, d))
    # Node pairs, several edges of one pair (ports of flows) merged.
    pairs: dict[tuple[int, int], list[int]] = {}
    for k in sel.tolist():
        pairs.setdefault((int(edges.src[k]), int(edges.dst[k])), []).append(k)
    findings = state.report.findings if state.report is not None else ()
    out = []
    for (a, b), ks in sorted(
        pairs.items(), key=lambda kv: (space.names[kv[0][0]], space.names[kv[0][1]])
    )[:MAX_PAIRS]:
        conns = state.table.union(int(edges.conn[k]) for k in ks)
        second = [int(edges.conn2[k]) for k in ks if edges.conn2[k] >= 0]
        tags = sorted({int(edges.tag[k]) for k in ks if edges.tag[k] >= 0})
        out.append(
            EdgePair(
                src=space.names[a],
                dst=space.names[b],
                srcEndpoint=_endpoint_text(state, space, a, b, True),
                dstEndpoint=_endpoint_text(state, space, b, a, False),
                conn=format_conns(conns),
                conn2=format_conns(state.table.union(second)) if second else None,
                weight=int(edges.weight[ks].sum()),
                intents=[findings[t].id for t in tags if t < len(findings)]
                if layer in ("violating", "blocked")
                else [],
            )
        )
    return EdgeDetail(source=source, target=target, layer=layer, total=len(pairs), pairs=out)


def _layer(state: UiState, layer: str, diff: bool) -> EdgeSet:
    if diff:
        if state.other is None:
            raise UnknownEndpointError("no second input: start with --diff PATH")
        if layer == "allowed":
            return state.other.base
        kinds = {"changed": 0, "added": 1, "removed": 2}
        if layer not in kinds:
            raise UnknownEndpointError(
                f"layer {layer!r}: expected allowed, changed, added or removed"
            )
        e = state.other.edges
        sel = e.tag == kinds[layer]
        return EdgeSet(e.src[sel], e.dst[sel], e.conn[sel], e.weight[sel], e.tag[sel], e.conn2[sel])
    if layer == "allowed":
        return state.allowed
    if layer == "violating":
        return state.violating
    if layer == "blocked":
        return state.blocked
    if layer in ("observed", "attempted"):
        if state.flows is None:
            raise UnknownEndpointError("no flows: start with --flows DB")
        return state.flows.observed if layer == "observed" else state.flows.attempted
    raise UnknownEndpointError(
        f"layer {layer!r}: expected allowed, violating, blocked, observed or attempted"
    )


def explain(state: UiState, src: str, dst: str, port: ConnSet | None) -> Explanation:
    """`Connectivity.reach` between two endpoints (names, addresses, or
    {ingress-controller}), in the layers the index counts, with the intents and flows that
    concern the pair."""
    conn: Connectivity = state.conn
    decision = conn.reach(src, dst, port)
    doc = json.loads(decision_json(decision))
    doc = {
        k: v
        for k, v in doc.items()
        if k not in ("apiVersion", "kind", "networks", "entries", "conditions")
    }
    doc.setdefault("layer", conn.layer.value)
    a, b = state.space.index.get(decision.src), state.space.index.get(decision.dst)
    intents: list[str] = []
    flows: list[FlowOut] = []
    findings = state.report.findings if state.report is not None else ()
    if a is not None and b is not None:
        for layer in (state.violating, state.blocked):
            hit = (layer.src == a) & (layer.dst == b)
            intents += sorted(
                {findings[int(t)].id for t in layer.tag[hit] if 0 <= t < len(findings)}
            )
        if state.flows is not None:
            for layer, ok in ((state.flows.observed, True), (state.flows.attempted, False)):
                for k in np.flatnonzero((layer.src == a) & (layer.dst == b)).tolist()[:100]:
                    conns = state.table.sets[int(layer.conn[k])]
                    proto, ports = conns.ports[0]
                    flows.append(
                        FlowOut(
                            src=decision.src,
                            dst=decision.dst,
                            protocol=proto.value,
                            port=ports.intervals[0][0],
                            count=int(layer.weight[k]),
                            recorded=[state.flows.verdicts[int(layer.tag[k])]],
                            allowed=ok,
                        )
                    )
    note = ""
    if src.strip() == INGRESS_CONTROLLER_NAME:
        note = "only the ports an Ingress or Route opens through its Service count"
    return Explanation.model_validate(
        {
            **doc,
            "text": decision_text(decision),
            "note": note,
            "intents": intents,
            "observed": flows,
        }
    )


def workload(state: UiState, name: str) -> WorkloadOut:
    i = state.space.index.get(name)
    if i is None or state.space.is_peer(i):
        ep = state.conn.resolve(name)  # a clear error for a name that is not there
        i = state.space.index.get(ep.name)
        if i is None:
            raise UnknownEndpointError(f"{name!r} is not a node of the graph")
    facts = state.facts
    pod_index = int(facts.first_pod[i])
    pod = state.conn.cluster.pods[pod_index]
    workload_name = state.graph.node_workload[i]
    policies = [
        PolicyOut(
            kind=p.kind,
            name=p.name,
            scope=list(p.scope),
            origin=Origin(file=p.origin.file, line=p.origin.line),
        )
        for p in node_policies(state.conn, pod_index)
    ]
    row = next((r for r in state.identity().rows if r.workload == workload_name), None)
    allowed = state.allowed
    public = state.space.index["external:public"]
    short = name.split("/", 1)[1]
    return WorkloadOut(
        name=name,
        namespace=pod.namespace,
        workloadKind=short.rsplit("[", 1)[1].rstrip("]") if "[" in short else "",
        pods=int(facts.pods[i]),
        labels=dict(pod.labels.items()),
        ingressIsolated=bool(facts.ingress_isolated[i]),
        egressIsolated=bool(facts.egress_isolated[i]),
        guarded=bool(facts.guarded[i]),
        policies=policies,
        serviceAccount=row.service_account if row else pod.service_account,
        spiffeId=row.spiffe_id if row else "",
        mesh=row.mesh.value if row else "",
        mtls=row.mtls if row else "",
        callers=list(row.callers) if row else [],
        inbound=int(((allowed.dst == i) & (allowed.src < state.space.n_workloads)).sum()),
        outbound=int(((allowed.src == i) & (allowed.dst < state.space.n_workloads)).sum()),
        reachesPublic=bool(((allowed.src == i) & (allowed.dst == public)).any()),
        reachableFromPublic=bool(((allowed.dst == i) & (allowed.src == public)).any()),
    )


def blast(state: UiState, source: str, hops: int | None, port: ConnSet | None) -> BlastOut:
    """analyses/blast.py from a workload (`ns/name`, `ns/name[Kind]`) or a namespace
    (`ns/*`), without per-hop explanations (the page asks /api/explain for a hop)."""
    nodes = sources_of(state.conn, state.graph, source)
    radius = blast_radius(state.conn, state.graph, nodes, hops=hops, conns=port, explain=False)
    per_ns: dict[str, int] = {}
    for hit in radius.reachable:
        ns = hit.workload.split("/", 1)[0]
        per_ns[ns] = min(per_ns.get(ns, hit.hops), hit.hops)
    for s in radius.sources:
        per_ns[s.split("/", 1)[0]] = 0
    return BlastOut(
        sources=list(radius.sources),
        hops=hops,
        reachable=[
            BlastHitOut(workload=h.workload, hops=h.hops, path=list(h.path))
            for h in radius.reachable
        ],
        namespaces=per_ns,
    )
