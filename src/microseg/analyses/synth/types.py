"""The data that flows through policy synthesis: what traffic is needed (`Needs`), how a
peer is named (`PeerRef`), a rule's ports (`PortItem`), and the generated objects
(`Generated`) with the notes a reviewer reads beside them.

`recommend` (observed flows) and `generate` (intents) both produce `Needs`; one builder
(build.py) turns them into NetworkPolicies, so the two commands write the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from microseg.model.admin import AdminPolicy
from microseg.model.calico import CalicoPolicy
from microseg.model.linkerd import (
    LinkerdAuthorizationPolicy,
    MeshTLSAuthentication,
    NetworkAuthentication,
    Server,
)
from microseg.model.mesh import AuthorizationPolicy
from microseg.model.netpol import Direction, NetworkPolicy
from microseg.model.selectors import LabelSelector

__all__ = [
    "CLUSTER_GROUP",
    "MANAGED_BY",
    "Generated",
    "Needs",
    "PeerKind",
    "PeerRef",
    "PolicyFormat",
    "PortItem",
    "Ports",
    "Why",
]

MANAGED_BY = ("app.kubernetes.io/managed-by", "microseg")
CLUSTER_GROUP = "cluster"
"""The file (and rollout step) of cluster-scoped objects: AdminNetworkPolicies, the BANP."""


class PolicyFormat(StrEnum):
    NETWORKPOLICY = "networkpolicy"
    ADMINNETWORKPOLICY = "adminnetworkpolicy"
    ISTIO = "istio"
    CALICO = "calico"
    LINKERD = "linkerd"


class Why(StrEnum):
    """Why a rule allows something beyond the observed flows (the documented additions)."""

    OBSERVED = "observed"
    DNS = "dns"
    PROBE = "probe"
    INTENT = "intent"


@dataclass(frozen=True, slots=True, order=True)
class PortItem:
    """One entry of a rule's `ports`: a number or range (`name` empty) or a named container
    port, for one protocol ("TCP", "UDP", "SCTP")."""

    protocol: str
    start: int = 0
    end: int = 0
    name: str = ""

    def __str__(self) -> str:
        if self.name:
            return f"{self.protocol}/{self.name}"
        if self.start == self.end:
            return f"{self.protocol}/{self.start}"
        return f"{self.protocol}/{self.start}-{self.end}"


Ports = frozenset[PortItem] | None
"""A peer's ports; None: every port (a rule without `ports`)."""


class PeerKind(StrEnum):
    WORKLOAD = "workload"
    NAMESPACE = "namespace"
    EVERY_POD = "every-pod"
    SELECTOR = "selector"
    CIDR = "cidr"


@dataclass(frozen=True, slots=True)
class PeerRef:
    """A rule peer before it becomes a NetworkPolicy peer. WORKLOAD: `workload` indexes
    `cluster.workloads` (selected by its stable selector); NAMESPACE: every pod of
    `namespace`; EVERY_POD: every pod of the cluster; SELECTOR: pods matching `pod_selector`
    in `namespace` or in namespaces matching `namespace_selector`; CIDR: `cidr` less
    `excepts`, with `label` (address class, node or DNS names) for the comment beside it."""

    kind: PeerKind
    workload: int = -1
    namespace: str = ""
    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None
    cidr: str = ""
    excepts: tuple[str, ...] = ()
    label: str = field(default="", compare=False)


@dataclass(slots=True)
class Needs:
    """Per policy target (a workload index, or -1 - namespace index for a namespace-wide
    policy) and direction: each peer with the ports it needs, and why."""

    ports: dict[tuple[int, Direction], dict[PeerRef, Ports]] = field(default_factory=dict)
    why: dict[tuple[int, Direction, PeerRef], set[str]] = field(default_factory=dict)

    def add(self, target: int, direction: Direction, peer: PeerRef, ports: Ports, why: str) -> None:
        table = self.ports.setdefault((target, direction), {})
        if peer in table:
            old = table[peer]
            table[peer] = None if old is None or ports is None else old | ports
        else:
            table[peer] = ports
        self.why.setdefault((target, direction, peer), set()).add(why)

    def put(
        self, target: int, direction: Direction, peer: PeerRef, ports: Ports, whys: set[str]
    ) -> None:
        """`add` for a peer met the first time, with every reason at once."""
        table = self.ports.setdefault((target, direction), {})
        if peer in table:
            for why in whys:
                self.add(target, direction, peer, ports, why)
            return
        table[peer] = ports
        self.why[(target, direction, peer)] = set(whys)


LinkerdObject = Server | LinkerdAuthorizationPolicy | MeshTLSAuthentication | NetworkAuthentication
"""What `--format linkerd` writes (analyses/synth/linkerd.py)."""


@dataclass(frozen=True, slots=True)
class Generated:
    """One object to write. `group` is its file and rollout step (a namespace, or
    CLUSTER_GROUP); `comments` maps (direction, rule index, peer index) - peer index -1 for
    the rule itself - to the note written beside it."""

    kind: str
    namespace: str
    name: str
    policy: NetworkPolicy | AdminPolicy | AuthorizationPolicy | CalicoPolicy | LinkerdObject
    group: str
    workload: str = ""
    annotations: tuple[tuple[str, str], ...] = ()
    comments: tuple[tuple[tuple[str, int, int], str], ...] = ()
    header: str = ""
