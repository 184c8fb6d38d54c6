"""Who is in the Istio mesh, which mTLS mode a port gets, and which ports speak HTTP: read
straight from the documents, for the mesh reference evaluator (spec/mesh.py).

Each rule from istio.io, written without microseg's model or its mesh layer:
- Sidecar injection ("Installing the Sidecar" > "Controlling the injection policy",
  https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/): either label set to
  disabled/false wins, then either set to enabled/true; a namespace `istio.io/rev` label injects
  unless `istio-injection` is set; the pod label `sidecar.istio.io/inject` takes precedence over
  the older annotation of the same name. Host-network pods are never injected.
- A pod already injected (a `kubectl get pods -o yaml` dump): an `istio-proxy` container or the
  injector's `sidecar.istio.io/status` / `inject.istio.io/templates` annotations ("Manual
  sidecar injection"); `--assume-mesh` puts every pod in.
- Ambient ("Ambient mode" > "Add workloads to the mesh",
  https://istio.io/latest/docs/ambient/usage/add-workloads/): `istio.io/dataplane-mode=ambient`
  on the namespace or pod, unless the pod says `none`; a pod with a sidecar is the sidecar's.
- PeerAuthentication (https://istio.io/latest/docs/reference/config/security/peer_authentication/):
  the workload policy beats the namespace one, which beats the mesh-wide one in the root
  namespace; a policy with a selector in the root namespace is ignored; UNSET inherits;
  `portLevelMtls` (only with a selector) overrides per workload port; none at all means
  PERMISSIVE; DISABLE is not supported in ambient mode and is skipped there. Among equals, the
  oldest wins; manifests carry no creation time, so the first by name does.
- Protocol selection (https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/):
  a Service port names its protocol by `appProtocol` (which takes precedence) or by its name
  `<protocol>[-<suffix>]`; http, http2, grpc and grpc-web are HTTP; a port no selecting Service
  declares is sniffed at run time (HTTP/1.1 and HTTP/2 are detected, anything else is TCP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from microseg.engine.spec.kube import Doc, field, items
from microseg.engine.spec.world import Endpoint, World

__all__ = ["AMBIENT", "NONE", "SIDECAR", "MeshSettings", "http_kind", "mesh_mode", "mtls_mode"]

NONE, SIDECAR, AMBIENT = "none", "sidecar", "ambient"
INJECT = "sidecar.istio.io/inject"
DATAPLANE = "istio.io/dataplane-mode"
REVISION = "istio.io/rev"
INJECTED_ANNOTATIONS = ("sidecar.istio.io/status", "inject.istio.io/templates")

HTTP_PROTOCOLS = {"http", "http2", "grpc", "grpc-web"}
DECLARED_PROTOCOLS = HTTP_PROTOCOLS | {"https", "tcp", "tls", "mongo", "mysql", "redis", "udp"}
# Kubernetes' standard appProtocol for HTTP/2 over cleartext (KEP-3726), HTTP/2 to Istio.
APP_PROTOCOL_ALIASES = {"kubernetes.io/h2c": "http2"}


@dataclass(frozen=True, slots=True)
class MeshSettings:
    trust_domain: str = "cluster.local"
    root_namespace: str = "istio-system"
    assume_mesh: bool = False


def mesh_mode(world: World, pod: Endpoint, settings: MeshSettings) -> str:
    """none, sidecar or ambient."""
    if pod.host_network:
        return NONE
    ns = world.namespace_labels(pod.namespace)
    choice = pod.labels.get(INJECT, pod.annotations.get(INJECT))
    ns_injection = ns.get("istio-injection")
    if ns_injection == "disabled" or choice == "false":
        sidecar = False
    elif choice == "true" or ns_injection == "enabled":
        sidecar = True
    else:
        sidecar = REVISION in ns
    injected = "istio-proxy" in pod.containers or any(
        a in pod.annotations for a in INJECTED_ANNOTATIONS
    )
    # A revision label on the pod selects it for that revision's injector when the
    # namespace does not say otherwise with istio-injection.
    revision = REVISION in pod.labels and choice != "false" and ns_injection is None
    if sidecar or injected or settings.assume_mesh or revision:
        return SIDECAR
    own = pod.labels.get(DATAPLANE)
    if own == "none":
        return NONE
    if own == "ambient" or ns.get(DATAPLANE) == "ambient":
        return AMBIENT
    return NONE


def _matches(selector_labels: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A WorkloadSelector (or a Service selector): every label equal."""
    return all(labels.get(k) == v for k, v in selector_labels.items())


def _selector(doc: Doc) -> dict[str, str]:
    """A WorkloadSelector's matchLabels; {} (no selector) when absent or empty."""
    raw = field(doc, "spec", "selector", "matchLabels", default={})
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def mtls_mode(world: World, pod: Endpoint, port: int, mode: str, settings: MeshSettings) -> str:
    """The mTLS mode of the workload port: UNSET inherits, ambient skips DISABLE."""
    root = settings.root_namespace
    pas = sorted(world.of("PeerAuthentication"), key=lambda d: str(d["metadata"]["name"]))
    workload, namespace, mesh = [], [], []
    for doc in pas:
        ns, selector = world.namespace_of(doc), _selector(doc)
        if selector:
            if ns == pod.namespace and ns != root and _matches(selector, pod.labels):
                workload.append(doc)
        else:
            if ns == pod.namespace:
                namespace.append(doc)
            if ns == root:
                mesh.append(doc)
    skip = {"UNSET", "DISABLE"} if mode == AMBIENT else {"UNSET"}
    for level in (workload, namespace, mesh):
        if not level:
            continue
        doc = level[0]
        ports = field(doc, "spec", "portLevelMtls", default={}) if _selector(doc) else {}
        by_port = {int(k): field(v, "mode", default="UNSET") for k, v in ports.items()}
        for candidate in (
            by_port.get(port, "UNSET"),
            field(doc, "spec", "mtls", "mode", default="UNSET"),
        ):
            if candidate not in skip:
                return str(candidate)
    return "PERMISSIVE"


def _protocol(port: Doc) -> str:
    app = port.get("appProtocol")
    if app:
        name = str(app).lower()
        return APP_PROTOCOL_ALIASES.get(name, name)
    return str(port.get("name") or "").split("-", 1)[0].lower()


def http_kind(world: World, pod: Endpoint, port: int) -> str:
    """How the sidecar reads inbound TCP traffic to the workload `port`: "http" when a
    selecting Service declares an HTTP protocol for it, "tcp" when one declares another
    protocol (and none HTTP), else "sniffed"."""
    kinds = set()
    for svc in world.services:
        selector = field(svc, "spec", "selector", default={})
        if world.namespace_of(svc) != pod.namespace or not selector:
            continue  # a Service without a selector selects no pod
        if not _matches({str(k): str(v) for k, v in selector.items()}, pod.labels):
            continue
        for sp in items(svc, "spec", "ports"):
            if (sp.get("protocol") or "TCP") != "TCP":
                continue
            target = sp.get("targetPort") or sp["port"]  # absent or 0: the Service port
            if isinstance(target, str):
                number = next(
                    (p.number for p in pod.ports if p.name == target and p.protocol == "TCP"),
                    None,
                )
            else:
                number = int(target)
            if number != port:
                continue
            protocol = _protocol(sp)
            if protocol in HTTP_PROTOCOLS:
                kinds.add("http")
            elif protocol in DECLARED_PROTOCOLS:
                kinds.add("tcp")
    if "http" in kinds:
        return "http"
    return "tcp" if kinds else "sniffed"
