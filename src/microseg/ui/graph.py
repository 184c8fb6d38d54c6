"""The graph payload of the page: nodes (namespaces, workloads of expanded namespaces,
peers) and edges per layer, aggregated by analyses/graphview to what is shown."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from microseg.analyses.graphview import (
    EXTERNAL_GROUPS,
    AggEdges,
    ConnTable,
    EdgeSet,
    NodeSpace,
    View,
    WorkloadFacts,
    aggregate,
    display_ids,
)
from microseg.analyses.graphview.space import EXTERNAL_PREFIX
from microseg.engine import INGRESS_CONTROLLER_NAME
from microseg.model.labels import FrozenLabels
from microseg.model.selectors import LabelSelector
from microseg.model.sets import ConnSet, Protocol
from microseg.render.conns import format_conns
from microseg.ui.models import EdgeOut, GraphOut, NodeOut, PortRange
from microseg.ui.state import UiState

__all__ = ["MAX_EDGES", "Filters", "build_graph", "colour_key", "node_id", "port_ranges"]

MAX_EDGES = 12_000
Bool = npt.NDArray[np.bool_]
_GROUP_TITLE = {EXTERNAL_PREFIX + g: title for g, title, _ in EXTERNAL_GROUPS}
OUTSIDE = "outside"


@dataclass(frozen=True, slots=True)
class Filters:
    """What to show: namespaces (empty: all), a label selector on workloads, a port."""

    namespaces: tuple[str, ...] = ()
    selector: LabelSelector | None = None
    port: ConnSet | None = None

    @property
    def active(self) -> bool:
        return bool(self.namespaces) or self.selector is not None


def node_id(space: NodeSpace, display: int) -> str:
    n = len(space.names)
    if display >= n:
        return "ns:" + space.namespaces[display - n]
    name = space.names[display]
    return ("p:" if space.is_peer(display) else "w:") + name


def colour_key(conns: ConnSet) -> str:
    """What an allowed edge is coloured by: `All`, `DNS` (only port 53), `Ranges` (more
    than 64 ports), else its lowest port (`TCP 5432`)."""
    if conns.is_all():
        return "All"
    size = sum(hi - lo + 1 for _, ports in conns.ports for lo, hi in ports)
    if not size:
        return "None"
    if all(lo == hi == 53 for _, ports in conns.ports for lo, hi in ports):
        return "DNS"
    if size > 64:
        return "Ranges"
    proto, ports = conns.ports[0]
    return f"{proto.value} {ports.intervals[0][0]}"


def port_ranges(conns: ConnSet, limit: int = 8) -> list[PortRange]:
    out = []
    for proto, ports in conns.ports:
        for lo, hi in ports:
            if proto in (Protocol.TCP, Protocol.UDP, Protocol.SCTP):
                out.append(PortRange(protocol=proto.value, start=lo, end=hi))
    return out[:limit]


@lru_cache(maxsize=8192)
def conn_view(conns: ConnSet) -> tuple[str, str, tuple[PortRange, ...]]:
    """Text, colour key and first port ranges of a set, once per distinct set (a view
    repeats a few sets thousands of times)."""
    return format_conns(conns), colour_key(conns), tuple(port_ranges(conns))


def _iso(values: Bool) -> str:
    if not len(values):
        return "n/a"
    return "all" if values.all() else ("some" if values.any() else "none")


def _labels(labels: FrozenLabels | dict[str, str]) -> dict[str, str]:
    return dict(labels.items())


def _keep(state: UiState, space: NodeSpace, filters: Filters) -> Bool | None:
    if not filters.active:
        return None
    n = len(space.names)
    keep = np.zeros(n, dtype=np.bool_)
    keep[: space.n_workloads] = True
    if filters.namespaces:
        wanted = np.array([ns in filters.namespaces for ns in space.namespaces] + [False])
        keep &= wanted[space.ns_of]
    if filters.selector is not None:
        pods = state.conn.cluster.pods
        first = state.facts.first_pod
        for i in np.flatnonzero(keep[: space.n_workloads]).tolist():
            p = int(first[i]) if i < len(first) else -1
            keep[i] = p >= 0 and filters.selector.matches(pods[p].labels)
    return keep


def _port_mask(edges: EdgeSet, table: ConnTable, port: ConnSet | None) -> EdgeSet:
    if port is None or not len(edges):
        return edges
    ok = np.array([bool(c & port) for c in table.sets], dtype=np.bool_)
    sel = ok[edges.conn]
    return EdgeSet(
        edges.src[sel],
        edges.dst[sel],
        edges.conn[sel],
        edges.weight[sel],
        edges.tag[sel],
        edges.conn2[sel],
    )


def _join(base: AggEdges, other: AggEdges) -> dict[tuple[int, int], int]:
    """Row of `other` per (src, dst) display pair, for the rows `base` has."""
    at = {(int(s), int(d)): i for i, (s, d) in enumerate(zip(other.src, other.dst, strict=True))}
    return {
        (int(s), int(d)): at[(int(s), int(d))]
        for s, d in zip(base.src, base.dst, strict=True)
        if (int(s), int(d)) in at
    }


def build_graph(
    state: UiState, expand: set[str] | None, filters: Filters, diff: bool = False
) -> GraphOut:
    """`expand`: namespaces shown workload by workload (None: all of them)."""
    side = state.other if diff else None
    space = side.space if side is not None else state.space
    table = state.table
    names = set(space.namespaces)
    chosen = names if expand is None else {ns for ns in expand if ns in names}
    expanded = np.array([ns in chosen for ns in space.namespaces], dtype=np.bool_)
    keep = _keep(state, space, filters)
    view = View(expanded, keep)
    disp = display_ids(space, view)
    edges: list[EdgeOut] = []
    shown: set[int] = set()
    internal: dict[int, int] = {}
    findings = state.report.findings if state.report is not None else ()
    verdicts = state.flows.verdicts if state.flows is not None else ()

    def out(agg: AggEdges, i: int, layer: str, **extra: object) -> EdgeOut:
        s, d = int(agg.src[i]), int(agg.dst[i])
        shown.update((s, d))
        text, colour, ports = conn_view(agg.conns[i])
        return EdgeOut.model_validate(
            {
                "id": f"{layer}:{node_id(space, s)}->{node_id(space, d)}",
                "source": node_id(space, s),
                "target": node_id(space, d),
                "layer": layer,
                "pairs": int(agg.pairs[i]),
                "conn": text,
                "ports": list(ports),
                "colour": colour,
                **extra,
            }
        )

    if side is None:
        allowed = aggregate(_port_mask(state.allowed, table, filters.port), disp, table, view)
        internal = allowed.internal
        bad = aggregate(_port_mask(state.violating, table, filters.port), disp, table, view)
        seen: AggEdges | None = None
        if state.flows is not None:
            seen = aggregate(
                _port_mask(state.flows.observed, table, filters.port), disp, table, view
            )
        bad_at = _join(allowed, bad)
        seen_at = _join(allowed, seen) if seen is not None else {}
        for i in range(len(allowed)):
            key = (int(allowed.src[i]), int(allowed.dst[i]))
            extra: dict[str, object] = {}
            if key in bad_at:
                j = bad_at[key]
                extra["violating"] = True
                extra["intents"] = [findings[t].id for t in bad.tags[j]]
            if seen is not None and key in seen_at:
                j = seen_at[key]
                extra["weight"] = int(seen.weight[j])
                extra["verdicts"] = [verdicts[t] for t in seen.tags[j]]
            edges.append(out(allowed, i, "allowed", **extra))
        blocked = aggregate(_port_mask(state.blocked, table, filters.port), disp, table, view)
        for i in range(len(blocked)):
            ids = [findings[t].id for t in blocked.tags[i]]
            edges.append(out(blocked, i, "blocked", intents=ids, violating=True))
        if state.flows is not None:
            tried = aggregate(
                _port_mask(state.flows.attempted, table, filters.port), disp, table, view
            )
            for i in range(len(tried)):
                edges.append(
                    out(
                        tried,
                        i,
                        "attempted",
                        weight=int(tried.weight[i]),
                        verdicts=[verdicts[t] for t in tried.tags[i]],
                    )
                )
    else:
        rows = aggregate(_port_mask(side.edges, table, filters.port), disp, table, view)
        base = aggregate(_port_mask(side.base, table, filters.port), disp, table, view)
        internal = base.internal
        changed = set(zip(rows.src.tolist(), rows.dst.tolist(), strict=True))
        for i in range(len(base)):
            if (int(base.src[i]), int(base.dst[i])) not in changed:
                edges.append(out(base, i, "allowed"))
        kinds = ("changed", "added", "removed")
        for i in range(len(rows)):
            for t in rows.tags[i]:
                conns2 = rows.conns2[i]
                e = out(rows, i, kinds[t], conn2=format_conns(conns2))
                if kinds[t] == "removed":
                    e.conn, e.conn2 = format_conns(conns2), None
                    e.colour, e.ports = colour_key(conns2), port_ranges(conns2)
                e.id = f"{kinds[t]}:{e.source}->{e.target}"
                edges.append(e)
    truncated = len(edges) > MAX_EDGES
    message = ""
    if truncated:
        edges = []
        message = (
            "too many edges to draw at this level of detail; collapse namespaces or filter "
            "by namespace, label or port"
        )
    nodes = _nodes(state, space, expanded, disp, shown, internal, keep, side is not None)
    return GraphOut(
        mode="diff" if diff else "policy",
        nodes=nodes,
        edges=edges,
        expanded=sorted(chosen),
        truncated=truncated,
        message=message,
    )


def _nodes(
    state: UiState,
    space: NodeSpace,
    expanded: Bool,
    disp: npt.NDArray[np.int64],
    shown: set[int],
    internal: dict[int, int],
    keep: Bool | None,
    diff: bool,
) -> list[NodeOut]:
    facts: WorkloadFacts = state.facts if not diff else _facts_for(state, space)
    n = len(space.names)
    nw = space.n_workloads
    cluster = state.conn.cluster
    pods = cluster.pods
    out: list[NodeOut] = []
    added = set(state.other.diff.added_workloads) if diff and state.other else set()
    removed = set(state.other.diff.removed_workloads) if diff and state.other else set()
    for k, ns in enumerate(space.namespaces):
        members = np.flatnonzero(space.ns_of[:nw] == k)
        visible = members if keep is None else members[keep[members]]
        did = n + k
        if (
            keep is not None
            and not len(visible)
            and did not in shown
            and not any(int(disp[m]) in shown for m in members)
        ):
            continue
        decl = cluster.namespace(ns)
        labels = _labels(decl.labels) if decl is not None else {}
        base = {
            "id": f"ns:{ns}",
            "kind": "namespace",
            "label": ns,
            "name": ns,
            "workloads": len(members),
            "pods": int(facts.pods[members].sum()),
            "ingressIsolated": _iso(facts.ingress_isolated[members]),
            "egressIsolated": _iso(facts.egress_isolated[members]),
            "guarded": bool(facts.guarded[members].any()),
            "labels": labels,
            "internalEdges": internal.get(did, 0),
            "expanded": bool(expanded[k]),
        }
        out.append(NodeOut.model_validate(base))
        if not expanded[k]:
            continue
        for i in members.tolist():
            if keep is not None and not keep[i] and i not in shown:
                continue
            name = space.names[i]
            p = int(facts.first_pod[i])
            short = name.split("/", 1)[1]
            kind = short.rsplit("[", 1)[1].rstrip("]") if "[" in short else ""
            out.append(
                NodeOut(
                    id="w:" + name,
                    kind="workload",
                    label=short.rsplit("[", 1)[0],
                    name=name,
                    parent=f"ns:{ns}",
                    namespace=ns,
                    workloads=1,
                    pods=int(facts.pods[i]),
                    ingressIsolated="all" if facts.ingress_isolated[i] else "none",
                    egressIsolated="all" if facts.egress_isolated[i] else "none",
                    guarded=bool(facts.guarded[i]),
                    labels=_labels(pods[p].labels) if p >= 0 else {},
                    diff="added" if name in added else ("removed" if name in removed else None),
                    workloadKind=kind,
                )
            )
    peers = [i for i in range(nw, n) if i in shown]
    if peers:
        out.append(NodeOut(id=OUTSIDE, kind="outside", label="Outside the cluster", name=OUTSIDE))
    for i in peers:
        name = space.names[i]
        label = "Ingress controller" if name == INGRESS_CONTROLLER_NAME else _GROUP_TITLE[name]
        out.append(NodeOut(id="p:" + name, kind="peer", label=label, name=name, parent=OUTSIDE))
    return out


def _facts_for(state: UiState, space: NodeSpace) -> WorkloadFacts:
    from microseg.analyses.graphview import workload_facts

    return workload_facts(state.conn, space)
