"""The whole index: endpoint classes, atoms, compiled rules, both direction tables, the
mesh table and the primary networks, built once from a Cluster.

It sits above the parts (engine/index/, engine/mesh/) and below everything that reads
them: the explanations and incremental updates take an `Index`, and the facade
(`Connectivity`, engine/connectivity.py) adds the queries on top.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Self

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.index.gcpause import paused_gc
from microseg.engine.index.networks import NetworkIsolation
from microseg.engine.index.rules import RuleCompiler, node_addresses
from microseg.engine.index.tables import DirectionTable, build_table
from microseg.engine.options import DEFAULT_OPTIONS, EngineOptions
from microseg.engine.query import Layer
from microseg.model.admin import AdminRule, AdminTier
from microseg.model.cluster import Cluster
from microseg.model.netpol import Direction, IPBlockPeer, NodePeer, Rule
from microseg.model.objects import WorkloadKey
from microseg.model.sets import BASE_PROTOCOLS, ConnSet, IPSet, Protocol

if TYPE_CHECKING:
    from microseg.engine.index.calico_compile import CalicoCompiler
    from microseg.engine.mesh.table import MeshTable

# Calico's compiler (calico_compile, calico_ports and their model) and the mesh table
# (engine/mesh/) are imported where the input has such objects: most inputs have neither,
# and importing them cost a fifth of `microseg reach`'s start-up (issue 22).

__all__ = ["Endpoint", "EndpointNames", "Index", "used_port_names"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A query endpoint: a pod class (with a display name) or a range of external addresses."""

    name: str
    klass: int | None = None
    addresses: IPSet | None = None


def _all_rules(cluster: Cluster) -> list[Rule | AdminRule]:
    rules: list[Rule | AdminRule] = [r for p in cluster.policies for r in p.ingress + p.egress]
    rules += [r for p in cluster.admin_policies for r in p.ingress + p.egress]
    return rules


def used_port_names(cluster: Cluster) -> set[tuple[Protocol, str]]:
    """Every (protocol, name) some rule names: each must resolve to atoms of its own."""
    out = {(s.protocol, s.name) for r in _all_rules(cluster) for s in r.ports or () if s.name}
    if cluster.has_calico:
        from microseg.engine.index.calico_ports import calico_port_names

        out |= calico_port_names(cluster)
    return out


def _port_ranges(cluster: Cluster, classes: EndpointClasses) -> list[tuple[Protocol, int, int]]:
    out: list[tuple[Protocol, int, int]] = [
        (s.protocol, s.start, s.end)
        for r in _all_rules(cluster)
        for s in r.ports or ()
        if not s.name
    ]
    used_names = used_port_names(cluster)
    # Pods of one class share their named ports (engine/index/classes.py), so one pod per class
    # gives every port a name can resolve to.
    for pod in classes.reps:
        for p in pod.ports:
            if p.name and (p.protocol, p.name) in used_names:
                out.append((p.protocol, p.port, p.port))
    if cluster.has_mesh:
        from microseg.engine.mesh.table import mesh_port_ranges

        out += mesh_port_ranges(cluster)
    if cluster.has_calico:
        from microseg.engine.index.calico_ports import calico_port_ranges

        out += calico_port_ranges(cluster)
    return out


def _ip_sets(cluster: Cluster) -> tuple[list[IPSet], list[IPSet]]:
    """Address sets that cut atoms, and the mesh's quiet ones (mesh_ip_sets)."""
    out: list[IPSet] = []
    for rule in _all_rules(cluster):
        for peer in rule.peers or ():
            if isinstance(peer, IPBlockPeer):
                out.append(peer.addresses)
            elif isinstance(peer, NodePeer):
                out.append(node_addresses(cluster.nodes, peer))
    quiet: list[IPSet] = []
    if cluster.has_mesh:
        from microseg.engine.mesh.table import mesh_ip_sets, mesh_quiet_ip_sets

        out += mesh_ip_sets(cluster)
        quiet = mesh_quiet_ip_sets(cluster)
    if cluster.has_calico:
        from microseg.engine.index.calico_ports import calico_ip_sets

        out += calico_ip_sets(cluster)
    return out, quiet


def _ip_atoms(cluster: Cluster) -> IPAtoms:
    sets, quiet = _ip_sets(cluster)
    ips = IPAtoms.build(sets + quiet)
    if quiet:
        ips = replace(ips, show_v6=any(s.v6 for s in sets))
    return ips


@dataclass(frozen=True, slots=True)
class EndpointNames:
    """Name lookups for queries, built once so that `reach` costs no scan of the cluster."""

    workloads: dict[tuple[str, str], tuple[WorkloadKey, ...]]
    first_pod: dict[WorkloadKey, int]
    pods: dict[tuple[str, str], int]

    @staticmethod
    def build(cluster: Cluster) -> EndpointNames:
        workloads: dict[tuple[str, str], list[WorkloadKey]] = {}
        for w in cluster.workloads:
            workloads.setdefault((w.key.namespace, w.key.name), []).append(w.key)
        first_pod: dict[WorkloadKey, int] = {}
        pods: dict[tuple[str, str], int] = {}
        for i, pod in enumerate(cluster.pods):
            first_pod.setdefault(pod.workload, i)
            if not pod.from_template:
                pods.setdefault((pod.namespace, pod.name), i)
        return EndpointNames({k: tuple(v) for k, v in workloads.items()}, first_pod, pods)


@dataclass(frozen=True, slots=True)
class Index:
    """Every part of the index, built once from a Cluster. `Connectivity` (the facade,
    engine/connectivity.py) adds the queries; explanations and incremental updates work
    on the parts alone, so they never import the facade."""

    cluster: Cluster
    classes: EndpointClasses
    ports: PortAtoms
    ips: IPAtoms
    rules: RuleCompiler
    ingress: DirectionTable
    egress: DirectionTable
    names: EndpointNames
    mesh: MeshTable | None = None
    """The Istio layer, present when the input has PeerAuthentication/AuthorizationPolicy."""
    layer: Layer = Layer.NETWORK
    """Which layers the matrices and queries count; `with_layer` picks another."""
    isolation: NetworkIsolation | None = None
    """Primary user-defined networks (engine/index/networks.py); None when there are none."""
    options: EngineOptions = DEFAULT_OPTIONS
    calico: CalicoCompiler | None = None
    """Calico's tiers compiled (engine/index/calico_compile.py), when the input has Calico
    objects: the tables then stack every policy as Calico orders it."""

    @classmethod
    def build(cls, cluster: Cluster, options: EngineOptions = DEFAULT_OPTIONS) -> Self:
        with paused_gc():
            return cls._build(cluster, options)

    @classmethod
    def _build(cls, cluster: Cluster, options: EngineOptions) -> Self:
        exposed = bool(cluster.ingresses or cluster.routes)
        classes = EndpointClasses.build(cluster, options, controller=exposed)
        universe = tuple(Protocol) if cluster.has_calico else BASE_PROTOCOLS
        ports = PortAtoms.build(_port_ranges(cluster, classes), universe)
        ips = _ip_atoms(cluster)
        rc = RuleCompiler(classes, ports, ips, cluster.nodes)
        mesh = None
        if cluster.has_mesh:
            from microseg.engine.mesh.table import MeshTable

            mesh = MeshTable.build(cluster, classes, ports, ips)
        calico = None
        if cluster.has_calico:
            from microseg.engine.index.calico_compile import CalicoCompiler

            calico = CalicoCompiler(cluster, classes, ports, ips, rc)
            ingress, egress = (
                replace(
                    build_table(rc, (), d),
                    calico=calico.tiers(d),
                    isolated=calico.protected(d),
                )
                for d in (Direction.INGRESS, Direction.EGRESS)
            )
        else:
            admin, baseline = cluster.tier(AdminTier.ADMIN), cluster.tier(AdminTier.BASELINE)
            ingress = build_table(rc, cluster.policies, Direction.INGRESS, admin, baseline)
            egress = build_table(rc, cluster.policies, Direction.EGRESS, admin, baseline)
        return cls(
            cluster,
            classes,
            ports,
            ips,
            rc,
            ingress,
            egress,
            EndpointNames.build(cluster),
            mesh,
            Layer.BOTH if mesh is not None else Layer.NETWORK,
            NetworkIsolation.build(cluster, classes),
            options,
            calico,
        )

    @property
    def everything(self) -> ConnSet:
        """The universe of connections: every protocol with Calico objects in the input,
        else SCTP, TCP and UDP (model/sets.py, Protocol)."""
        return self.ports.everything()

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def workload_key_of(self, klass: int) -> WorkloadKey:
        return self.classes.reps[klass].workload
