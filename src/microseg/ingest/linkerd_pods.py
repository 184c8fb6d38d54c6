"""The Linkerd facts of a pod (its annotations, an injected proxy, its HTTP probes), of a
namespace (its annotations) and of a service account (its cloud identity annotations),
read where the workload, namespace and service account readers meet them; and the
warnings for annotation values Linkerd would ignore (MS195).

Read leniently: these are annotations, which the API server does not validate; a value
that does not parse is what Linkerd's injector and policy controller warn about and
ignore, so microseg ignores it too, with a warning.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from microseg.errors import Diagnostic, Severity
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd_pod import (
    DEFAULT_POLICY,
    INJECT,
    LINKERD_ANNOTATIONS,
    OPAQUE_PORTS,
    REQUIRE_IDENTITY,
    SKIP_INBOUND,
    DefaultPolicy,
    LinkerdPod,
    linkerd_member,
)
from microseg.model.mesh import MeshMode, mesh_mode
from microseg.model.objects import Namespace, Pod

__all__ = ["annotation_warnings", "kept_annotations", "linkerd_facts", "mesh_notes"]

_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_EMPTY = FrozenLabels()


def kept_annotations(meta: Any, keys: tuple[str, ...]) -> FrozenLabels:
    """The string annotations among `keys` of an object's metadata; shared when empty."""
    raw = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(raw, dict):
        return _EMPTY
    kept = {k: v for k in keys if isinstance(v := raw.get(k), str)}
    return FrozenLabels(kept) if kept else _EMPTY


def _named_tcp(container: dict[str, Any], name: str) -> int | None:
    """workload.rs `find_by_name`: a probe's named port, in its own container, TCP,
    compared case-insensitively."""
    for p in container.get("ports") or []:
        if not isinstance(p, dict) or p.get("protocol", "TCP") != "TCP":
            continue
        number = p.get("containerPort")
        if str(p.get("name") or "").lower() == name.lower() and isinstance(number, int):
            return number
    return None


def _http_probes(spec: dict[str, Any]) -> tuple[tuple[int, str], ...]:
    """workload.rs `pod_http_probes`: (port, path) of every httpGet probe of every container
    and init container; the path's query is dropped, an absent path is `/`."""
    out: set[tuple[int, str]] = set()
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        for c in containers if isinstance(containers, list) else []:
            if not isinstance(c, dict):
                continue
            for kind in _PROBES:
                probe = c.get(kind)
                action = probe.get("httpGet") if isinstance(probe, dict) else None
                if not isinstance(action, dict):
                    continue
                port = action.get("port")
                if isinstance(port, str) and not port.isdigit():
                    port = _named_tcp(c, port)
                elif isinstance(port, str):
                    port = int(port)
                if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
                    continue
                path = action.get("path")
                text = urlsplit(path).path if isinstance(path, str) and path else "/"
                out.add((port, text or "/"))
    return tuple(sorted(out))


def _injected(spec: dict[str, Any]) -> bool:
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        for c in containers if isinstance(containers, list) else []:
            if isinstance(c, dict) and c.get("name") == "linkerd-proxy":
                return True
    return False


def linkerd_facts(
    spec: dict[str, Any], annotations: dict[str, Any], cache: dict[LinkerdPod, LinkerdPod]
) -> LinkerdPod | None:
    """None for a pod without Linkerd annotations, proxy or HTTP probes (most pods of a
    cluster without Linkerd); equal facts are one shared object (replicas repeat them)."""
    values = [annotations.get(k) for k in LINKERD_ANNOTATIONS]
    texts = [v if isinstance(v, str) else "" for v in values]
    injected = _injected(spec)
    probes = _http_probes(spec)
    if not any(texts) and not injected and not probes:
        return None
    inject, policy, opaque, identity, skip = texts
    facts = LinkerdPod(inject, policy, opaque, identity, skip, injected, probes)
    return cache.setdefault(facts, facts)


_INJECT_VALUES = ("enabled", "ingress", "disabled")


def _bad_value(key: str, value: str, ports: dict[str, int]) -> str:
    """Why Linkerd ignores `value` of annotation `key`, or ""."""
    if not value:
        return ""
    if key == INJECT and value not in _INJECT_VALUES:
        return (
            f"expected enabled, ingress or disabled: Linkerd does not inject the pods ({value!r})"
        )
    if key == DEFAULT_POLICY and value not in {p.value for p in DefaultPolicy}:
        allowed = ", ".join(p.value for p in DefaultPolicy)
        return f"{value!r} is not one of {allowed}: the cluster default applies instead"
    if key not in (OPAQUE_PORTS, REQUIRE_IDENTITY, SKIP_INBOUND):
        return ""
    # Linkerd's policy model, imported for a pod that sets a ports annotation only.
    from microseg.model.linkerd import parse_port_list

    if parse_port_list(value, ports) is None:
        return f"{value!r} is not a list of ports, port ranges or container port names: Linkerd reads no port from it"
    return ""


def annotation_warnings(namespaces: list[Namespace], pods: list[Pod]) -> list[Diagnostic]:
    """MS195 once per namespace and per workload whose Linkerd annotations Linkerd ignores."""
    out = []
    for ns in namespaces:
        for key in LINKERD_ANNOTATIONS:
            why = _bad_value(key, ns.annotations.get(key, ""), {})
            if why:
                out.append(
                    Diagnostic(
                        Severity.WARNING, "MS195", why, ns.origin, f"metadata.annotations.{key}"
                    )
                )
    seen: set[tuple[object, LinkerdPod]] = set()
    for pod in pods:
        facts = pod.linkerd
        if facts is None or (pod.workload, facts) in seen:
            continue
        seen.add((pod.workload, facts))
        names = {p.name: p.port for p in pod.ports if p.name}
        for key, value in zip(LINKERD_ANNOTATIONS, _texts(facts), strict=True):
            why = _bad_value(key, value, names)
            if why:
                out.append(
                    Diagnostic(
                        Severity.WARNING,
                        "MS195",
                        f"{pod.workload}: {why}",
                        pod.origin,
                        f"metadata.annotations.{key}",
                    )
                )
    return out


def _texts(facts: LinkerdPod) -> tuple[str, ...]:
    return (
        facts.inject,
        facts.default_policy,
        facts.opaque_ports,
        facts.require_identity_ports,
        facts.skip_inbound_ports,
    )


def mesh_notes(namespaces: list[Namespace], pods: list[Pod]) -> list[Diagnostic]:
    """MS195 (annotations Linkerd ignores), and MS196 once per workload whose pods would
    run both Istio's sidecar and Linkerd's proxy: a pod is in one mesh at a time here, and
    such a pod is read as Istio's (the two proxies' traffic redirections would collide)."""
    out = annotation_warnings(namespaces, pods)
    by_name = {ns.name: ns for ns in namespaces}
    seen: set[object] = set()
    for pod in pods:
        if pod.linkerd is None or pod.workload in seen:
            continue
        ns = by_name.get(pod.namespace)
        istio = pod.injected or mesh_mode(pod, ns) is MeshMode.SIDECAR
        if not istio:
            continue
        annotations = ns.annotations if ns is not None else _EMPTY
        labels = ns.labels if ns is not None else _EMPTY
        if linkerd_member(
            pod.linkerd, pod.labels, pod.host_network, pod.namespace, annotations, labels
        ):
            seen.add(pod.workload)
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS196",
                    f"{pod.workload} would run both Istio's sidecar and Linkerd's proxy; "
                    "analysed as in the Istio mesh only",
                    pod.origin,
                )
            )
    return out
