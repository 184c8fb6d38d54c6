"""The cluster as the reference evaluators see it: read straight from the parsed documents.

Why its own reader: the reference must not inherit ingest's normalisation (defaults,
grouping, namespace labels), or a wrong default there would be wrong here too and no
property test could see it. What it reads, each from the Kubernetes documentation:

- Namespaces: the API server labels each with `kubernetes.io/metadata.name: <name>`
  (https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name).
  A namespace a pod lives in but the input does not declare carries that label only.
- Endpoints: every Pod, and every controller (Deployment, ReplicaSet, StatefulSet, DaemonSet,
  Job, CronJob, ReplicationController) none of whose pods is in the input, as one pod built
  from its template (it stands for its replicas). A controller owned by another controller of
  the input (a Deployment's ReplicaSet) is that owner's. Ports: `containers[].ports` and those
  of sidecar init containers (`restartPolicy: Always`,
  https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/), protocol TCP unless
  given.
- Objects without `metadata.namespace` are in `default_namespace` (kubectl apply -n).

KubeVirt machines and the ReplicaSet-name heuristics of ingest are not read: the property
tests' generators do not write them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from microseg.engine.spec.kube import Doc, items
from microseg.engine.spec.kube import field as at

__all__ = ["CONTROLLERS", "ContainerPort", "Endpoint", "World"]

# Where each controller keeps its pod template.
CONTROLLERS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True)
class ContainerPort:
    protocol: str
    number: int
    name: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One pod (or a controller's template pod), as plain values."""

    namespace: str
    name: str
    kind: str
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    host_network: bool
    ips: tuple[str, ...]
    host_ip: str
    service_account: str
    annotations: Mapping[str, str]
    containers: tuple[str, ...]
    """Names of the containers and init containers (an `istio-proxy` one means injected)."""

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()} if isinstance(value, dict) else {}


def _ports(spec: Doc) -> tuple[ContainerPort, ...]:
    out = []
    for group in ("containers", "initContainers"):
        for c in items(spec, group):
            if group == "initContainers" and c.get("restartPolicy") != "Always":
                continue
            for p in items(c, "ports"):
                if p.get("containerPort") is not None:
                    proto = p.get("protocol") or "TCP"
                    out.append(ContainerPort(proto, int(p["containerPort"]), p.get("name") or ""))
    return tuple(out)


def _endpoint(namespace: str, name: str, kind: str, template: Doc, status: Doc) -> Endpoint:
    spec = at(template, "spec", default={})
    ips = tuple(x["ip"] for x in items(status, "podIPs") if isinstance(x, dict) and x.get("ip"))
    if not ips and status.get("podIP"):
        ips = (str(status["podIP"]),)
    names = tuple(
        str(c.get("name", "")) for g in ("containers", "initContainers") for c in items(spec, g)
    )
    return Endpoint(
        namespace=namespace,
        name=name,
        kind=kind,
        labels=_labels(at(template, "metadata", "labels")),
        ports=_ports(spec),
        host_network=spec.get("hostNetwork") is True,
        ips=ips,
        host_ip=str(status.get("hostIP") or ""),
        service_account=str(
            spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        ),
        annotations=_labels(at(template, "metadata", "annotations")),
        containers=names,
    )


def _owner(doc: Doc) -> tuple[str, str] | None:
    refs = [r for r in items(doc, "metadata", "ownerReferences") if r.get("kind") != "Node"]
    if not refs:
        return None
    chosen = next((r for r in refs if r.get("controller") is True), refs[0])
    return str(chosen.get("kind") or "Pod"), str(chosen["name"])


@dataclass(slots=True)
class World:
    """Namespaces, endpoints, nodes, services and the policy documents of one input."""

    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    nodes: list[tuple[dict[str, str], tuple[str, ...]]] = field(default_factory=list)
    services: list[Doc] = field(default_factory=list)
    by_kind: dict[str, list[Doc]] = field(default_factory=dict)
    default_namespace: str = "default"

    @classmethod
    def read(cls, documents: list[Doc], default_namespace: str = "default") -> World:
        world = cls(default_namespace=default_namespace)
        for raw in _flatten(documents):
            if isinstance(raw, dict) and "kind" in raw:
                world.by_kind.setdefault(str(raw["kind"]), []).append(raw)
        for doc in world.of("Namespace"):
            name = doc["metadata"]["name"]
            world.namespaces[name] = {**_labels(at(doc, "metadata", "labels")), NAME_LABEL: name}
        for doc in world.of("Node"):
            addresses = tuple(
                str(a["address"])
                for a in items(doc, "status", "addresses")
                if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address")
            )
            world.nodes.append((_labels(at(doc, "metadata", "labels")), addresses))
        world.services = world.of("Service")
        world.endpoints = world._endpoints()
        return world

    def of(self, kind: str) -> list[Doc]:
        return self.by_kind.get(kind, [])

    def namespace_of(self, doc: Doc) -> str:
        return str(at(doc, "metadata", "namespace", default="") or self.default_namespace)

    def namespace_labels(self, name: str) -> dict[str, str]:
        return self.namespaces.get(name, {NAME_LABEL: name})

    def _endpoints(self) -> list[Endpoint]:
        controllers = {
            (self.namespace_of(d), kind, d["metadata"]["name"]): d
            for kind in CONTROLLERS
            for d in self.of(kind)
        }

        def top(namespace: str, owner: tuple[str, str]) -> tuple[str, str, str]:
            kind, name = owner
            seen: set[tuple[str, str]] = set()
            while (namespace, kind, name) in controllers and (kind, name) not in seen:
                seen.add((kind, name))
                parent = _owner(controllers[(namespace, kind, name)])
                if parent is None:
                    break
                kind, name = parent
            return namespace, kind, name

        out: list[Endpoint] = []
        covered: set[tuple[str, str, str]] = set()
        for doc in self.of("Pod"):
            namespace, name = self.namespace_of(doc), doc["metadata"]["name"]
            owner = _owner(doc)
            if owner is not None:
                covered.add(top(namespace, owner))
            out.append(_endpoint(namespace, name, "Pod", doc, at(doc, "status", default={})))
        for (namespace, kind, name), doc in sorted(controllers.items()):
            owner = _owner(doc)
            if (namespace, kind, name) in covered or (
                owner is not None and (namespace, *owner) in controllers
            ):
                continue
            template = at(doc, *CONTROLLERS[kind], default={})
            out.append(_endpoint(namespace, name, kind, template, {}))
        return out


def _flatten(documents: list[Any]) -> list[Any]:
    """`List` kinds (v1/List, PodList, ...) hold their objects in `items`."""
    out = []
    for doc in documents:
        if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List"):
            out += _flatten(items(doc, "items"))
        else:
            out.append(doc)
    return out
