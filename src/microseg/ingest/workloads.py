"""Pods and their controllers to endpoints grouped into workloads.

Explicit Pods are grouped under their top owner, following ownerReferences through the
controllers present in the input (a ReplicaSet to its Deployment, a Job to its CronJob).
A controller whose pods are not in the input becomes one endpoint built from its pod
template, standing for all of its replicas.

KubeVirt virtual machines are workloads too (`kubevirt.io/v1`, also the older `v1alpha3`):
a VirtualMachine's instance (VMI) runs in a virt-launcher pod, so the VM is handled as a
controller whose pod template is `spec.template`, and a VMI as one whose template is the
object itself. The chain virt-launcher Pod -> VMI -> VM follows ownerReferences like
ReplicaSet -> Deployment, so a VM, its VMI and its pods are one workload `ns/name[VirtualMachine]`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from microseg.errors import Diagnostic, Severity
from microseg.ingest.documents import Document, FieldPath
from microseg.ingest.linkerd_pods import linkerd_facts
from microseg.ingest.validation import FieldError, field_diagnostic, get_typed, ip_address, shown
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd_pod import LinkerdPod
from microseg.model.objects import ContainerPort, Pod, Probe, Workload, WorkloadKey
from microseg.model.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    label_key_error,
    label_value_error,
)
from microseg.model.sets import Protocol

__all__ = ["CONTROLLER_KINDS", "VM_KINDS", "WorkloadBuilder"]

# KubeVirt kinds and where their pod-like template sits. The virt-launcher pod carries the
# labels of the VMI, which a VirtualMachine stamps from `spec.template.metadata.labels`
# (https://kubevirt.io/user-guide/network/service_objects/: Services and policies select
# VMs through those labels; https://kubevirt.io/user-guide/docs/latest/administration/
# annotations_and_labels.html for the launcher's own labels). A VM has no container ports:
# its services listen inside the guest, so named ports never resolve on it.
VM_KINDS: dict[str, FieldPath] = {
    "VirtualMachine": ("spec", "template"),
    "VirtualMachineInstance": (),
}
# KubeVirt API (VirtualMachineSpec): `running` and `runStrategy` are mutually exclusive;
# these are the run strategies it accepts. A stopped VM (running: false, Halted) is still
# a workload: netpol-analyzer lists it (tests/virtual_machines_example, cirrus-vm-1), and
# its policies hold whenever it starts.
_RUN_STRATEGIES = ("Always", "RerunOnFailure", "Manual", "Halted", "Once", "WaitAsReceiver")

CONTROLLER_KINDS = {
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    **VM_KINDS,
}


_CODE = "MS201"


def _bad(path: FieldPath, message: str) -> FieldError:
    return FieldError(_CODE, path, message)


def _get(data: Any, path: FieldPath, kind: type, default: Any) -> Any:
    return get_typed(data, path, kind, default, _CODE)


def _get_at(data: Any, base: FieldPath, path: FieldPath, kind: type, default: Any) -> Any:
    """`_get` on a sub-object, reporting errors with the full path from the document."""
    try:
        return get_typed(data, path, kind, default, _CODE)
    except FieldError as bad:
        raise bad.under(base) from None


def _labels(data: Any, path: FieldPath, cache: dict[Any, FrozenLabels]) -> FrozenLabels:
    """The validated labels at `path`. Replicas repeat the same label map thousands of
    times: `cache` (one per load) maps a map's items, in source order, to the one
    FrozenLabels built for them, so validation runs once and equal label sets are one
    object (cheaper hashing and comparison downstream). Only valid maps are cached."""
    raw = get_typed(data, path, dict, {}, _CODE)
    key = tuple(raw.items())
    try:
        hit = cache.get(key)
    except TypeError:  # an unhashable value: invalid, reported below
        hit = None
    if hit is not None:
        return hit
    for k, v in raw.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise _bad(
                (*path, str(k)), f"label values must be strings, got {type(v).__name__} {shown(v)}"
            )
        err = label_key_error(k) or label_value_error(v)
        if err:
            raise _bad((*path, k), err)
    labels = cache[key] = FrozenLabels(raw)
    return labels


_PROTOCOLS = {"TCP": Protocol.TCP, "UDP": Protocol.UDP, "SCTP": Protocol.SCTP}
_PortKey = tuple[tuple[str, int, str], ...]


def _ports(
    spec: Any, path: FieldPath, cache: dict[_PortKey, tuple[ContainerPort, ...]]
) -> tuple[ContainerPort, ...]:
    """The pod's serving ports. `cache` (one per load) makes equal port lists one tuple of
    shared ContainerPorts: replicas repeat them, and the engine keys classes on them."""
    out: list[tuple[str, int, str]] = []
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        if containers is None:
            continue
        if not isinstance(containers, list):
            _get_at(spec, path, (group,), list, [])  # raises the located error
        for ci, c in enumerate(containers):
            if not isinstance(c, dict):
                raise _bad((*path, group, ci), "expected a container mapping")
            if group == "initContainers" and c.get("restartPolicy") != "Always":
                continue  # only sidecar init containers keep serving ports
            ports = c.get("ports")
            if ports is None:
                continue
            if not isinstance(ports, list):
                _get_at(c, (*path, group, ci), ("ports",), list, [])  # raises
            for pi, p in enumerate(ports):
                if not isinstance(p, dict):
                    raise _bad((*path, group, ci, "ports", pi), "expected a port mapping")
                number = p.get("containerPort")
                if number is None:
                    continue  # e.g. a misspelt key; the port cannot be resolved by name
                if (
                    not isinstance(number, int)
                    or isinstance(number, bool)
                    or not 1 <= number <= 65535
                ):
                    where = (*path, group, ci, "ports", pi, "containerPort")
                    raise _bad(where, f"expected 1-65535, got {number!r}")
                proto = p.get("protocol", "TCP")
                if not isinstance(proto, str) or proto not in _PROTOCOLS:
                    where = (*path, group, ci, "ports", pi, "protocol")
                    raise _bad(where, f"expected TCP, UDP or SCTP, got {proto!r}")
                out.append((proto, int(number), str(p.get("name") or "")))
    key = tuple(out)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = tuple(ContainerPort(_PROTOCOLS[pr], n, nm) for pr, n, nm in key)
    return hit


_PROBES = (
    ("livenessProbe", "liveness"),
    ("readinessProbe", "readiness"),
    ("startupProbe", "startup"),
)
_HANDLERS = ("httpGet", "tcpSocket", "grpc")


def _probes(spec: Any) -> tuple[Probe, ...]:
    """The network probes of a pod spec: containers, and sidecar init containers (which keep
    running). Read leniently: the probes only feed notes and `recommend --allow-probes`, and
    a malformed one is the API server's to refuse, not a reason to stop an analysis."""
    out: list[Probe] = []
    if not isinstance(spec, dict):
        return ()
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        if not isinstance(containers, list):
            continue
        for c in containers:
            if not isinstance(c, dict):
                continue
            if group == "initContainers" and c.get("restartPolicy") != "Always":
                continue
            for field_name, kind in _PROBES:
                probe = c.get(field_name)
                if not isinstance(probe, dict):
                    continue
                for handler in _HANDLERS:
                    action = probe.get(handler)
                    if not isinstance(action, dict):
                        continue
                    port = action.get("port")
                    if isinstance(port, bool) or not isinstance(port, int | str) or port == "":
                        continue
                    if isinstance(port, str) and port.isdigit():
                        port = int(port)
                    out.append(Probe(kind, handler, port, str(c.get("name") or "")))
    return tuple(out)


_OPERATORS = {op.value: op for op in Operator}


def _controller_selector(data: Any, kind: str) -> LabelSelector | None:
    """A controller's `spec.selector` (a LabelSelector; for a ReplicationController a plain
    map), or None when absent or not well formed: it is only a fallback for choosing stable
    selectors (analyses/synth), and the API server validates it."""
    spec = data.get("spec") if isinstance(data, dict) else None
    raw = spec.get("selector") if isinstance(spec, dict) else None
    if not isinstance(raw, dict) or kind in ("Job", "CronJob") or kind in VM_KINDS:
        return None
    if kind == "ReplicationController":
        raw = {"matchLabels": raw}
    reqs: list[Requirement] = []
    labels = raw.get("matchLabels") or {}
    exprs = raw.get("matchExpressions") or []
    if not isinstance(labels, dict) or not isinstance(exprs, list):
        return None
    for k, v in labels.items():
        if not isinstance(k, str) or not isinstance(v, str):
            return None
        reqs.append(Requirement(k, Operator.IN, frozenset([v])))
    for e in exprs:
        if not isinstance(e, dict) or e.get("operator") not in _OPERATORS:
            return None
        values = e.get("values") or []
        if not isinstance(e.get("key"), str) or not isinstance(values, list):
            return None
        reqs.append(Requirement(e["key"], _OPERATORS[e["operator"]], frozenset(map(str, values))))
    return LabelSelector(tuple(reqs)) if reqs else None


def _check_vm(data: Any, kind: str) -> None:
    """The fields of a VirtualMachine/VMI that decide its endpoint, as the KubeVirt API
    validates them; raises the located error."""
    spec = _get(data, ("spec",), dict, None)
    if spec is None:
        raise _bad(("spec",), "required field is missing")
    if kind != "VirtualMachine":
        return
    if _get(spec, ("template",), dict, None) is None:
        raise _bad(("spec", "template"), "required field is missing (the VM's instance template)")
    _get_at(spec, ("spec",), ("template", "metadata"), dict, {})
    running = _get_at(spec, ("spec",), ("running",), bool, None)
    strategy = _get_at(spec, ("spec",), ("runStrategy",), str, None)
    if strategy is not None and strategy not in _RUN_STRATEGIES:
        expected = ", ".join(_RUN_STRATEGIES)
        raise _bad(("spec", "runStrategy"), f"expected one of {expected}, got {strategy!r}")
    if running is not None and strategy is not None:
        raise _bad(("spec", "running"), "running and runStrategy are mutually exclusive")


def _controller_ref(meta: dict[str, Any]) -> tuple[str, str] | None:
    refs = meta.get("ownerReferences")
    if refs is not None and not isinstance(refs, list):
        raise _bad(("metadata", "ownerReferences"), f"expected a list, got {type(refs).__name__}")
    if not refs:
        return None
    if len(refs) == 1:  # the usual case, decided as the general one below would
        r = refs[0]
        if isinstance(r, dict) and r.get("name") and r.get("kind") != "Node":
            return str(r.get("kind") or "Pod"), str(r["name"])
        return None
    # A static (mirror) pod is "owned" by its Node, which is no workload: it stands alone.
    refs = [r for r in refs if isinstance(r, dict) and r.get("name") and r.get("kind") != "Node"]
    if not refs:
        return None
    chosen = next((r for r in refs if r.get("controller") is True), refs[0])
    # An owner reference without a kind still names the owner; netpol-analyzer shows it as a Pod.
    return str(chosen.get("kind") or "Pod"), str(chosen["name"])


@dataclass(slots=True)
class _Controller:
    doc: Document
    kind: str
    namespace: str
    name: str
    owner: tuple[str, str] | None


@dataclass(slots=True)
class _RawPod:
    doc: Document
    namespace: str
    name: str
    owner: tuple[str, str] | None
    labels: FrozenLabels


# A pod that already went through Istio's injector (a `kubectl get pods -o yaml` dump):
# istio.io "Installing the sidecar" > "Manual sidecar injection" and "Customizing
# injection": the injector adds the `istio-proxy` container (an init container with
# `restartPolicy: Always` for native sidecars) and records itself in the
# `sidecar.istio.io/status` annotation, and `inject.istio.io/templates` names the templates.
_INJECTED_ANNOTATIONS = ("sidecar.istio.io/status", "inject.istio.io/templates")


def _has_sidecar(spec: dict[str, Any], annotations: dict[str, Any]) -> bool:
    """Whether the pod carries an Istio sidecar already (engine/mesh/match.py reads it)."""
    if any(key in annotations for key in _INJECTED_ANNOTATIONS):
        return True
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        if isinstance(containers, list) and any(
            isinstance(c, dict) and c.get("name") == "istio-proxy" for c in containers
        ):
            return True
    return False


@dataclass(slots=True)
class WorkloadBuilder:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _controllers: dict[tuple[str, str, str], _Controller] = field(default_factory=dict)
    _pods: list[_RawPod] = field(default_factory=list)
    _label_cache: dict[Any, FrozenLabels] = field(default_factory=dict)
    _port_cache: dict[_PortKey, tuple[ContainerPort, ...]] = field(default_factory=dict)
    _owner_cache: dict[tuple[str, tuple[str, str], str | None], WorkloadKey] = field(
        default_factory=dict
    )
    _linkerd_cache: dict[LinkerdPod, LinkerdPod] = field(default_factory=dict)

    def _bad(self, doc: Document, bad: FieldError) -> None:
        self.diagnostics.append(field_diagnostic(doc, bad))

    def add(self, doc: Document) -> None:
        data = doc.data
        kind = str(data["kind"])
        try:
            # Exact types take the short way; anything else goes through `_get`, which
            # returns the default or raises the located error.
            meta = data.get("metadata")
            if type(meta) is not dict:
                meta = _get(data, ("metadata",), dict, {})
            name = meta.get("name")
            if type(name) is not str:
                name = _get(meta, ("name",), str, "")
            if not name:
                raise _bad(("metadata", "name"), "required field is missing")
            namespace = meta.get("namespace")
            if type(namespace) is not str:
                namespace = _get(meta, ("namespace",), str, "")
            namespace = namespace or "default"
            if kind == "Pod":
                labels = _labels(doc.data, ("metadata", "labels"), self._label_cache)
                self._pods.append(_RawPod(doc, namespace, name, _controller_ref(meta), labels))
                return
            if kind in VM_KINDS:
                _check_vm(data, kind)
            key = (namespace, kind, name)
            if key in self._controllers:
                self.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        "MS203",
                        f"duplicate {kind} {namespace}/{name}; the later one is used",
                        doc.origin(),
                    )
                )
            self._controllers[key] = _Controller(doc, kind, namespace, name, _controller_ref(meta))
        except FieldError as bad:
            self._bad(doc, bad)

    def _top_owner(
        self, namespace: str, owner: tuple[str, str], pod_labels: FrozenLabels
    ) -> WorkloadKey:
        """Memoized per load: the answer depends only on these inputs (and the controllers,
        which are all read before `build`), and replicas share them."""
        memo_key = (namespace, owner, pod_labels.get("pod-template-hash"))
        hit = self._owner_cache.get(memo_key)
        if hit is None:
            hit = self._owner_cache[memo_key] = self._find_top_owner(namespace, owner, pod_labels)
        return hit

    def _find_top_owner(
        self, namespace: str, owner: tuple[str, str], pod_labels: FrozenLabels
    ) -> WorkloadKey:
        kind, name = owner
        seen = set()
        while (namespace, kind, name) in self._controllers and (kind, name) not in seen:
            seen.add((kind, name))
            parent = self._controllers[(namespace, kind, name)].owner
            if parent is None:
                break
            kind, name = parent
        if kind == "ReplicaSet" and (namespace, "ReplicaSet", name) not in self._controllers:
            # The ReplicaSet is absent; `<deployment>-<pod-template-hash>` names its Deployment.
            suffix = pod_labels.get("pod-template-hash")
            if suffix and name.endswith("-" + suffix):
                deployment = name[: -len(suffix) - 1]
                if (namespace, "Deployment", deployment) in self._controllers:
                    kind, name = "Deployment", deployment
        return WorkloadKey(namespace, name, kind)

    def _pod(
        self,
        doc: Document,
        base: FieldPath,
        spec_path: FieldPath,
        namespace: str,
        name: str,
        labels: FrozenLabels,
        workload: WorkloadKey,
        from_template: bool,
    ) -> Pod:
        data = doc.data
        spec = data.get("spec") if spec_path == ("spec",) else None
        if type(spec) is not dict:
            spec = _get(data, spec_path, dict, {})
        status = data.get("status") if not from_template else {}
        if type(status) is not dict:
            status = _get(data, ("status",), dict, {})
        pod_ips = status.get("podIPs")
        if pod_ips is not None and not isinstance(pod_ips, list):
            raise _bad(("status", "podIPs"), f"expected a list, got {type(pod_ips).__name__}")
        ips = [
            ip_address(x.get("ip"), ("status", "podIPs", k, "ip"), _CODE)
            for k, x in enumerate(pod_ips if isinstance(pod_ips, list) else [])
            if isinstance(x, dict) and x.get("ip")
        ]
        if not ips and status.get("podIP"):
            ips = [ip_address(status["podIP"], ("status", "podIP"), _CODE)]
        host_ip = status.get("hostIP")
        if host_ip:
            ip_address(host_ip, ("status", "hostIP"), _CODE)
        host_network = spec.get("hostNetwork", False) is True
        annotations = get_typed(data, (*spec_path[:-1], "metadata", "annotations"), dict, {}, _CODE)
        inject = annotations.get("sidecar.istio.io/inject")
        linkerd = linkerd_facts(spec, annotations, self._linkerd_cache)
        return Pod(
            linkerd=linkerd,
            injected=_has_sidecar(spec, annotations),
            namespace=namespace,
            name=name,
            labels=labels,
            workload=workload,
            ports=_ports(spec, spec_path, self._port_cache),
            host_network=host_network,
            ips=tuple(ips),
            host_ip=str(host_ip or ""),
            from_template=from_template,
            service_account=str(
                spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
            ),
            origin=doc.origin(),
            inject_annotation=inject if isinstance(inject, str) else "",
        )

    def build(self) -> tuple[list[Workload], list[Pod]]:
        pods: list[Pod] = []
        workloads: dict[WorkloadKey, Workload] = {}
        owners_with_pods: set[WorkloadKey] = set()
        by_workload: dict[WorkloadKey, list[_RawPod]] = defaultdict(list)
        for raw in self._pods:
            key = (
                self._top_owner(raw.namespace, raw.owner, raw.labels)
                if raw.owner
                else WorkloadKey(raw.namespace, raw.name, "Pod")
            )
            by_workload[key].append(raw)
        for key, raws in by_workload.items():
            owners_with_pods.add(key)
            first_pod = len(pods)
            for raw in raws:
                try:
                    pods.append(
                        self._pod(
                            raw.doc, (), ("spec",), raw.namespace, raw.name, raw.labels, key, False
                        )
                    )
                except FieldError as bad:
                    self._bad(raw.doc, bad)
            account = pods[first_pod].service_account if len(pods) > first_pod else "default"
            ctl = self._controllers.get((key.namespace, key.kind, key.name))
            workloads[key] = Workload(
                key,
                raws[0].doc.origin(),
                account,
                _controller_selector(ctl.doc.data, ctl.kind) if ctl is not None else None,
                _probes(raws[0].doc.data.get("spec")),
            )
            distinct = {r.labels for r in raws}
            if len(distinct) > 1:
                self.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        "MS204",
                        f"pods of workload {key} have different labels ({len(distinct)} label sets); "
                        "policies may treat them differently, so they are shown one by one where they do",
                        raws[0].doc.origin(),
                    )
                )
        covered = {(k.namespace, k.kind, k.name) for k in owners_with_pods}
        for (namespace, kind, name), ctl in sorted(self._controllers.items()):
            if (namespace, kind, name) in covered:
                continue
            if ctl.owner is not None and (namespace, *ctl.owner) in self._controllers:
                continue  # represented by its owner (e.g. a Deployment's ReplicaSet)
            key = WorkloadKey(namespace, name, kind)
            template = CONTROLLER_KINDS[kind]
            try:
                labels = _labels(ctl.doc.data, (*template, "metadata", "labels"), self._label_cache)
                pod = self._pod(
                    ctl.doc, (), (*template, "spec"), namespace, name, labels, key, True
                )
            except FieldError as bad:
                self._bad(ctl.doc, bad)
                continue
            spec: Any = ctl.doc.data
            for part in (*template, "spec"):
                spec = spec.get(part) if isinstance(spec, dict) else None
            workloads[key] = Workload(
                key,
                ctl.doc.origin(),
                pod.service_account,
                _controller_selector(ctl.doc.data, kind),
                _probes(spec),
            )
            pods.append(pod)
        return sorted(workloads.values(), key=lambda w: w.key), pods
