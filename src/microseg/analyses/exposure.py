"""Exposure: which workloads the world outside the cluster can reach, which reach out, and
through which entry points (LoadBalancer / NodePort Services, Ingress, Route).

Why: "is anything open to the internet?" is the first question of every review, and the
answer needs two halves that tools usually give separately: what the policies allow from
and to external addresses, and which objects actually route outside traffic in. An entry
point whose pods the policies isolate from the internet is a finding too (a broken or
dead exposure), so each entry point carries a status.

Semantics (decided here, each from the document named):

- External addresses are everything that is not a pod; they are split by address class
  with `model/addresses.py` (IANA special-purpose registries, RFC 6890). "Public" is
  `addresses.PUBLIC`. IPv6 is considered only when the input mentions an IPv6 block,
  as in the connectivity list (engine/index/atoms.py `IPAtoms.show_v6`).
- Inbound/outbound ranges come from `WorkloadGraph.external`: the same runs, the same
  connection sets as `microseg connectivity`, never a per-pod loop.
- LoadBalancer and NodePort Services are entry points for the pods they select in their
  own namespace (Kubernetes "Service" concept: a selector picks pods of the Service's
  namespace). An empty or missing selector selects no pod (API reference, ServiceSpec
  `selector`: endpoints then come from an external process), so such an entry has no
  endpoints. A Service port's `targetPort` is the pod port: a number as written, a name
  resolved on each pod to the container port of that name *and the Service port's
  protocol* (the EndpointSlice controller's FindPort). A LoadBalancer Service also opens
  node ports; it is reported once, as LoadBalancer.
- Whether such an entry is open is judged for clients at public addresses. The NetworkPolicy
  reference ("What you can't do with network policies" and the ipBlock note) says it is not
  defined whether policies see the client's address or a node/load balancer address after
  SNAT; with `externalTrafficPolicy: Local` the client address is kept. We judge against the
  client address, the only case a policy can express, and say so in the output.
  Status: `open` when every public address may use every routed port, `partial` when some
  may, `blocked` when none may, `no-endpoints` when the Service selects no pod or no pod
  port resolves.
- Ingress and Route entries follow netpol-analyzer (engine/views/ingress.py): Services of the
  object's namespace, the asked port mapped through the Service to TCP container ports,
  judged against the `{ingress-controller}` peer by the network layer only, as the
  connectivity list's `{ingress-controller}` rows are.
- Layers: the external runs come from the Connectivity as loaded (`--layer`); when the mesh
  counts it governs inbound traffic (engine/connectivity.py `from_external`), so a STRICT
  mTLS namespace is closed to outside clients. A blocked part's `denials` are the denying
  steps of the same Decision `microseg reach` gives.
- Not modelled (the Service model has no such fields): `loadBalancerSourceRanges`,
  `externalIPs`, `externalTrafficPolicy`, node port numbers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from microseg.engine import (
    INGRESS_CONTROLLER_NAME,
    Connectivity,
    Endpoint,
    Step,
    Verdict,
    WorkloadGraph,
    pod_ports,
    service_target_ports,
)
from microseg.errors import Origin
from microseg.model.addresses import PUBLIC, AddressClass, classify_runs
from microseg.model.exposure import Ingress, Route
from microseg.model.objects import Pod, Service
from microseg.model.selectors import LabelSelector
from microseg.model.sets import ConnSet, IntervalSet, IPSet, Protocol

__all__ = [
    "SERVICE_ENTRY_TYPES",
    "AddressRun",
    "EntryPoint",
    "EntryStatus",
    "ExposureReport",
    "WorkloadExposure",
    "compute_exposure",
]

SERVICE_ENTRY_TYPES = ("LoadBalancer", "NodePort")


class EntryStatus(Enum):
    OPEN = "open"
    PARTIAL = "partial"
    BLOCKED = "blocked"
    NO_ENDPOINTS = "no-endpoints"


@dataclass(frozen=True, slots=True)
class AddressRun:
    """A maximal range of one address class with the connections allowed on it."""

    addresses: IPSet
    cls: AddressClass
    conns: ConnSet

    @property
    def first(self) -> str:
        return next(self.addresses.ranges())[0]

    @property
    def last(self) -> str:
        return next(self.addresses.ranges())[1]


@dataclass(frozen=True, slots=True)
class EntryPort:
    """One routed port: what the object names (Service port or asked port), the targetPort
    as written, and the pod ports it lands on (empty: it resolves on no pod)."""

    protocol: Protocol
    port: int | str | None
    target: int | str | None
    pod_ports: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """An object that routes outside traffic to a workload. `workload` is None when it
    reaches no pod. `requested` is what it routes; `allowed` the part every source may use
    (every public address, or the ingress controller); `some` the part at least one public
    address may use (equal to `allowed` for Ingress/Route)."""

    kind: str
    namespace: str
    name: str
    service: str
    workload: str | None
    ports: tuple[EntryPort, ...]
    requested: ConnSet
    allowed: ConnSet
    some: ConnSet
    status: EntryStatus
    origin: Origin
    denials: tuple[Step, ...] = ()
    isolating: tuple[str, ...] = ()
    """For the blocked part (`requested - some`): the steps of the policy traces that deny
    it (`[NP isolated: no rule allows]`, an ANP Deny ...) and the policies that isolate the
    workload's ingress (or the controller's egress)."""

    @property
    def source(self) -> str:
        return "public addresses" if self.kind in SERVICE_ENTRY_TYPES else "{ingress-controller}"


@dataclass(frozen=True, slots=True)
class WorkloadExposure:
    """One workload (or one pod of a split workload) with everything external about it."""

    name: str
    inbound: tuple[AddressRun, ...]
    outbound: tuple[AddressRun, ...]
    entries: tuple[EntryPoint, ...]
    public_in: ConnSet
    public_out: ConnSet
    public_in_some: ConnSet
    public_out_some: ConnSet
    groups_in: tuple[tuple[ConnSet, IPSet], ...]
    groups_out: tuple[tuple[ConnSet, IPSet], ...]
    """`public_*`: allowed from/to every public address; `*_some`: from/to at least one.
    `groups_*`: the external addresses per connection set, in order of first address."""

    @property
    def reachable_from_public(self) -> bool:
        return any(r.cls is AddressClass.PUBLIC for r in self.inbound)

    @property
    def reaches_public(self) -> bool:
        return any(r.cls is AddressClass.PUBLIC for r in self.outbound)


@dataclass(frozen=True, slots=True)
class ExposureReport:
    workloads: tuple[WorkloadExposure, ...]
    entries: tuple[EntryPoint, ...]
    scope: IPSet
    total_workloads: int

    @property
    def ipv6(self) -> bool:
        return bool(self.scope.v6)

    @property
    def reachable_from_public(self) -> tuple[WorkloadExposure, ...]:
        return tuple(w for w in self.workloads if w.reachable_from_public)

    @property
    def reaching_public(self) -> tuple[WorkloadExposure, ...]:
        return tuple(w for w in self.workloads if w.reaches_public)

    def count(self, status: EntryStatus) -> int:
        return sum(1 for e in self.entries if e.status is status)


def compute_exposure(conn: Connectivity, graph: WorkloadGraph) -> ExposureReport:
    scope = IPSet(IntervalSet.span(0, 2**32 - 1))
    if conn.ips.show_v6:
        scope = IPSet.everything()
    public = PUBLIC & scope
    inbound: dict[int, list[tuple[IPSet, int]]] = defaultdict(list)
    outbound: dict[int, list[tuple[IPSet, int]]] = defaultdict(list)
    for e in graph.external:
        (outbound if e.outbound else inbound)[e.node].append((e.addresses, e.conns))
    over = _PublicCover(graph, public)
    public_in = {n: over(edges) for n, edges in inbound.items()}
    public_out = {n: over(edges) for n, edges in outbound.items()}

    node_of = _node_of_pod(conn, graph)
    entries = _service_entries(conn, graph, node_of, public_in)
    entries += _ingress_entries(conn, graph, node_of)
    entries = [_explain(conn, graph, e, public) for e in entries]
    entries.sort(key=lambda e: (e.workload or "", e.kind, e.namespace, e.name, e.service))
    by_node: dict[str, list[EntryPoint]] = defaultdict(list)
    for entry in entries:
        if entry.workload is not None:
            by_node[entry.workload].append(entry)

    rows = []
    none = (ConnSet.none(), ConnSet.none())
    memo: dict[IPSet, tuple[tuple[IPSet, AddressClass], ...]] = {}
    for i, name in enumerate(graph.nodes):
        ins, outs = inbound.get(i, []), outbound.get(i, [])
        if not ins and not outs and name not in by_node:
            continue
        rows.append(
            WorkloadExposure(
                name,
                _runs(ins, graph, memo),
                _runs(outs, graph, memo),
                tuple(by_node.get(name, ())),
                public_in.get(i, none)[0],
                public_out.get(i, none)[0],
                public_in.get(i, none)[1],
                public_out.get(i, none)[1],
                _groups(ins, graph),
                _groups(outs, graph),
            )
        )
    return ExposureReport(tuple(rows), tuple(entries), scope, len(graph.nodes))


def _runs(
    edges: list[tuple[IPSet, int]],
    graph: WorkloadGraph,
    memo: dict[IPSet, tuple[tuple[IPSet, AddressClass], ...]],
) -> tuple[AddressRun, ...]:
    out = []
    for addresses, k in edges:
        runs = memo.get(addresses)
        if runs is None:  # real clusters repeat a few ranges (0.0.0.0/0 ...) on most workloads
            runs = memo[addresses] = classify_runs(addresses)
        out += [AddressRun(run, cls, graph.conn_set(k)) for run, cls in runs]
    # Edges are disjoint, so sorting by first address gives address order.
    out.sort(key=lambda r: _addr_key(r.addresses))
    return tuple(out)


def _addr_key(run: IPSet) -> tuple[int, int]:
    return (4, run.v4.intervals[0][0]) if run.v4 else (6, run.v6.intervals[0][0])


class _PublicCover:
    """(allowed from every public address, allowed from at least one) for a node's edges.

    The edges are the runs of equal connection sets, so intersecting/unioning their sets over
    the runs that touch public space is exact; public space no run covers allows nothing.
    Edges are disjoint, so coverage is a matter of counting addresses. Memoised: clusters
    repeat the same few ranges and connection sets on most workloads."""

    def __init__(self, graph: WorkloadGraph, public: IPSet) -> None:
        self.graph = graph
        self.public = public
        self.public_size = public.v4.size() + public.v6.size()
        self._part: dict[IPSet, int] = {}
        self._sets: dict[frozenset[int], tuple[ConnSet, ConnSet]] = {}

    def _public_size(self, addresses: IPSet) -> int:
        n = self._part.get(addresses)
        if n is None:
            part = addresses & self.public
            n = self._part[addresses] = part.v4.size() + part.v6.size()
        return n

    def __call__(self, edges: list[tuple[IPSet, int]]) -> tuple[ConnSet, ConnSet]:
        covered = 0
        ids = set()
        for addresses, k in edges:
            n = self._public_size(addresses)
            if n:
                covered += n
                ids.add(k)
        key = frozenset(ids)
        pair = self._sets.get(key)
        if pair is None:
            # The intersection starts from a member, not from NetworkPolicy's universe:
            # with Calico input the sets also hold ICMP and the other protocols.
            sets = [self.graph.conn_set(k) for k in key]
            every, some = (sets[0] if sets else ConnSet.none()), ConnSet.none()
            for c in sets:
                every, some = every & c, some | c
            pair = self._sets[key] = (every, some)
        return (pair[0] if covered == self.public_size else ConnSet.none()), pair[1]


def _groups(
    edges: list[tuple[IPSet, int]], graph: WorkloadGraph
) -> tuple[tuple[ConnSet, IPSet], ...]:
    """The addresses of each connection set, in order of first address; a set with one
    edge reuses it, others are merged with one sort."""
    by: dict[int, list[IPSet]] = defaultdict(list)
    for addresses, k in sorted(edges, key=lambda e: _addr_key(e[0])):
        by[k].append(addresses)
    out = []
    for k, parts in by.items():
        if len(parts) == 1:
            merged = parts[0]
        else:
            v4 = [iv for p in parts for iv in p.v4.intervals]
            v6 = [iv for p in parts for iv in p.v6.intervals]
            merged = IPSet(IntervalSet.of(v4), IntervalSet.of(v6))
        out.append((graph.conn_set(k), merged))
    return tuple(out)


def _node_of_pod(conn: Connectivity, graph: WorkloadGraph) -> list[int]:
    index = {name: i for i, name in enumerate(graph.nodes)}
    split = set(graph.split)
    out = []
    for pod in conn.cluster.pods:
        key = str(pod.workload)
        out.append(index[f"{pod.namespace}/{pod.name}[Pod]" if key in split else key])
    return out


def _selected_pods(conn: Connectivity, service: Service) -> list[int]:
    """Indexes into `cluster.pods` of the pods the Service selects (by class, then pods).
    An empty or missing selector selects none: the Kubernetes API reference (ServiceSpec
    `selector`) says such a Service's endpoints are managed by an external process."""
    if not service.selector:
        return []
    rc = conn.rules
    mask = rc.in_namespace(service.namespace) & rc.pod_labels.match(
        LabelSelector.from_labels(service.selector)
    )
    if not mask.any():
        return []
    hit = mask[conn.classes.pod_class]
    return np.flatnonzero(hit).tolist()


def _service_port_on(pod: Pod, protocol: Protocol, target: int | str) -> int | None:
    # Named targetPort: the container port with that name and the Service port's protocol
    # (EndpointSlice controller, FindPort); a number is used as written.
    if isinstance(target, int):
        return target
    return pod.named_port(target, protocol)


def _service_entries(
    conn: Connectivity,
    graph: WorkloadGraph,
    node_of: list[int],
    public_in: dict[int, tuple[ConnSet, ConnSet]],
) -> list[EntryPoint]:
    out: list[EntryPoint] = []
    pods = conn.cluster.pods
    none = (ConnSet.none(), ConnSet.none())
    for svc in conn.cluster.services:
        if svc.type not in SERVICE_ENTRY_TYPES:
            continue
        by_node: dict[int, list[int]] = defaultdict(list)
        for i in _selected_pods(conn, svc):
            by_node[node_of[i]].append(i)
        svc_name = f"{svc.namespace}/{svc.name}"
        if not by_node:
            bare = tuple(EntryPort(p.protocol, p.port, p.target, ()) for p in svc.ports)
            out.append(_entry(svc.type, svc, svc_name, None, bare, ConnSet.none(), none))
            continue
        for node, members in sorted(by_node.items()):
            ports: list[EntryPort] = []
            for p in svc.ports:
                found = {_service_port_on(pods[i], p.protocol, p.target) for i in members}
                numbers = tuple(sorted(n for n in found if n is not None))
                ports.append(EntryPort(p.protocol, p.port, p.target, numbers))
            requested = _conns_of(ports)
            out.append(
                _entry(
                    svc.type,
                    svc,
                    svc_name,
                    graph.nodes[node],
                    tuple(ports),
                    requested,
                    public_in.get(node, none),
                )
            )
    return out


def _conns_of(ports: list[EntryPort]) -> ConnSet:
    per: dict[Protocol, list[tuple[int, int]]] = defaultdict(list)
    for p in ports:
        per[p.protocol] += [(n, n) for n in p.pod_ports]
    return ConnSet.of({proto: IntervalSet.of(v) for proto, v in per.items()})


def _entry(
    kind: str,
    obj: Service | Ingress | Route,
    service: str,
    workload: str | None,
    ports: tuple[EntryPort, ...],
    requested: ConnSet,
    allowed_from: tuple[ConnSet, ConnSet],
) -> EntryPoint:
    allowed = requested & allowed_from[0]
    some = requested & allowed_from[1]
    if not requested:
        status = EntryStatus.NO_ENDPOINTS
    elif allowed == requested:
        status = EntryStatus.OPEN
    elif some:
        status = EntryStatus.PARTIAL
    else:
        status = EntryStatus.BLOCKED
    return EntryPoint(
        kind,
        obj.namespace,
        obj.name,
        service,
        workload,
        ports,
        requested,
        allowed,
        some,
        status,
        obj.origin,
    )


def _explain(conn: Connectivity, graph: WorkloadGraph, e: EntryPoint, public: IPSet) -> EntryPoint:
    """Why the blocked part is blocked: the same Decision `microseg reach` gives, from a
    public address range (or the ingress controller) to the workload, on the blocked ports."""
    blocked = e.requested - e.some
    if e.workload is None or not blocked:
        return e
    node = graph.nodes.index(e.workload)
    dst = Endpoint(e.workload, klass=int(graph.node_class[node]))
    if e.kind in SERVICE_ENTRY_TYPES:
        src = Endpoint("public addresses", addresses=public)
    elif conn.classes.controller is not None:
        src = Endpoint(INGRESS_CONTROLLER_NAME, klass=conn.classes.controller)
    else:
        return e
    decision = conn.reach(src, dst, blocked)
    traces = [t for t in (decision.egress, decision.ingress) if not t.external]
    candidates = [step for t in traces for step in t.steps] + list(decision.mesh)
    steps = tuple(s for s in candidates if s.effect is Verdict.DENY and s.conns & blocked)
    isolating = tuple(
        p for t in traces if t.isolated and not blocked <= t.allowed for p in t.policies
    )
    return replace(e, denials=steps, isolating=isolating)


def _ingress_entries(
    conn: Connectivity, graph: WorkloadGraph, node_of: list[int]
) -> list[EntryPoint]:
    """Per Ingress/Route, per backend Service, per workload: the TCP pod ports routed there
    (engine/views/ingress.py's netpol-analyzer mapping) and what the policies allow from the
    `{ingress-controller}` peer."""
    controller = conn.classes.controller
    services = {(s.namespace, s.name): s for s in conn.cluster.services}
    pods = conn.cluster.pods
    out: list[EntryPoint] = []
    objs: list[Ingress | Route] = [*conn.cluster.ingresses, *conn.cluster.routes]
    allowed_memo: dict[int, ConnSet] = {}
    for obj in objs:
        route = isinstance(obj, Route)
        kind = "Route" if route else "Ingress"
        for backend in obj.backends:
            svc_name = f"{obj.namespace}/{backend.service}"
            svc = services.get((obj.namespace, backend.service))
            targets = service_target_ports(svc, backend.port, route) if svc else []
            by_node: dict[int, list[int]] = defaultdict(list)
            if svc is not None and targets:
                for i in _selected_pods(conn, svc):
                    by_node[node_of[i]].append(i)
            asked_target = targets[0] if len(targets) == 1 else None
            if not by_node:
                port = EntryPort(Protocol.TCP, backend.port, asked_target, ())
                nothing = (ConnSet.none(), ConnSet.none())
                out.append(_entry(kind, obj, svc_name, None, (port,), ConnSet.none(), nothing))
                continue
            for node, members in sorted(by_node.items()):
                numbers: set[int] = set()
                for i in members:
                    numbers |= pod_ports(pods[i], targets)
                port = EntryPort(Protocol.TCP, backend.port, asked_target, tuple(sorted(numbers)))
                requested = _conns_of([port])
                c = int(graph.node_class[node])
                allowed = allowed_memo.get(c)
                if allowed is None:
                    allowed = ConnSet.none()
                    if controller is not None:
                        mask = conn.egress.allow[controller, c] & conn.ingress.allow[c, controller]
                        allowed = conn.ports.to_connset(mask)
                    allowed_memo[c] = allowed
                out.append(
                    _entry(
                        kind,
                        obj,
                        svc_name,
                        graph.nodes[node],
                        (port,),
                        requested,
                        (allowed, allowed),
                    )
                )
    return out
