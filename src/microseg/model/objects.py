"""Cluster objects that policies select: namespaces, workloads, pods, services, accounts."""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.errors import Origin
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd_pod import LinkerdPod
from microseg.model.selectors import LabelSelector
from microseg.model.sets import Protocol

__all__ = [
    "ContainerPort",
    "Namespace",
    "Node",
    "Pod",
    "Probe",
    "Service",
    "ServiceAccount",
    "Workload",
    "WorkloadKey",
]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_NO_ANNOTATIONS = FrozenLabels()


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: FrozenLabels
    origin: Origin = field(default=Origin(), compare=False)
    declared: bool = True
    annotations: FrozenLabels = _NO_ANNOTATIONS
    """The Linkerd annotations only (model/linkerd.py LINKERD_ANNOTATIONS): the injector
    reads them for the pods it injects."""


@dataclass(frozen=True, slots=True, order=True)
class WorkloadKey:
    """How a workload is named on output: `ns/name[Kind]`."""

    namespace: str
    name: str
    kind: str

    def __str__(self) -> str:
        if not self.namespace:  # cluster-scoped: a Calico HostEndpoint
            return f"{self.name}[{self.kind}]"
        return f"{self.namespace}/{self.name}[{self.kind}]"


@dataclass(frozen=True, slots=True)
class Probe:
    """A kubelet probe that opens a connection to the pod (`httpGet`, `tcpSocket`, `grpc`;
    `exec` probes run inside the container and are not kept): the kubelet connects from its
    node to `port`, a number or a container port name (Pod API reference, Probe)."""

    kind: str
    """liveness, readiness or startup."""
    handler: str
    port: int | str
    container: str = ""


@dataclass(frozen=True, slots=True)
class Workload:
    key: WorkloadKey
    origin: Origin = field(default=Origin(), compare=False)
    service_account: str = "default"
    selector: LabelSelector | None = field(default=None, compare=False)
    """The controller's own `spec.selector` (None for a bare pod, a Job's generated one, or
    when the controller is not in the input): how the controller finds its pods."""
    probes: tuple[Probe, ...] = field(default=(), compare=False)
    """Network probes of its pod template (or of its first pod)."""


@dataclass(frozen=True, slots=True)
class ContainerPort:
    protocol: Protocol
    port: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class Pod:
    """One network endpoint. A controller given without its pods is one Pod built from its
    template (`from_template`), which stands for all of its replicas."""

    namespace: str
    name: str
    labels: FrozenLabels
    workload: WorkloadKey
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    ips: tuple[str, ...] = ()
    host_ip: str = ""
    from_template: bool = False
    service_account: str = "default"
    origin: Origin = field(default=Origin(), compare=False)
    inject_annotation: str = ""
    """The pod's `sidecar.istio.io/inject` annotation, if any (mesh membership, model/mesh.py)."""
    injected: bool = False
    """The pod already has an Istio sidecar: an `istio-proxy` container or the injector's
    annotations (engine/mesh/match.py, pod_mesh_mode)."""
    linkerd: LinkerdPod | None = None
    """Linkerd annotations, an injected proxy, HTTP probes (model/linkerd.py); None when the
    pod has none of them."""
    profiles: tuple[str, ...] = ()
    """Calico profiles a WorkloadEndpoint (or a HostEndpoint) names; empty for a pod: Calico
    gives every Kubernetes pod kns.<namespace> and ksa.<namespace>.<serviceaccount>."""

    def named_port(self, name: str, protocol: Protocol) -> int | None:
        """The container port `name` resolves to for `protocol`, as kube-proxy/CNI resolve it."""
        for p in self.ports:
            if p.name == name and p.protocol is protocol:
                return p.port
        return None


@dataclass(frozen=True, slots=True)
class ServicePort:
    protocol: Protocol
    port: int
    target: int | str
    name: str = ""
    # spec.ports[].appProtocol; "" when absent. Istio reads it before the name's prefix.
    app_protocol: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    selector: FrozenLabels | None
    type: str = "ClusterIP"
    ports: tuple[ServicePort, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)
    cluster_ips: tuple[str, ...] = ()
    """spec.clusterIPs (or clusterIP), without "None": how observed flows name the Service."""


@dataclass(frozen=True, slots=True)
class Node:
    """A node: its labels (for `nodes` peers) and its addresses."""

    name: str
    labels: FrozenLabels
    addresses: tuple[str, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    namespace: str
    name: str
    origin: Origin = field(default=Origin(), compare=False)
    labels: FrozenLabels = field(default_factory=FrozenLabels)
    """What Calico's serviceAccountSelector and serviceAccounts.selector match."""
    automount_token: bool | None = None
    """`automountServiceAccountToken` (None: unset; a pod's own setting overrides it)."""
    annotations: FrozenLabels = _NO_ANNOTATIONS
    """The cloud identity annotations only (model/identity.py CLOUD_ANNOTATIONS)."""
