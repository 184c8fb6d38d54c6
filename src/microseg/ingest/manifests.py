"""Documents to one `Cluster`: dispatch by kind, defaults, duplicates, and diagnostics."""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field

from microseg.errors import Diagnostic, InputError, Origin, Severity
from microseg.ingest.documents import Document, read_paths
from microseg.ingest.exposure import parse_ingress, parse_route
from microseg.ingest.netpols import PolicyMemo, parse_network_policy
from microseg.ingest.validation import format_path
from microseg.ingest.workloads import CONTROLLER_KINDS, VM_KINDS, WorkloadBuilder
from microseg.model.admin import AdminPolicy, AdminTier
from microseg.model.cluster import Cluster
from microseg.model.exposure import Ingress, Route
from microseg.model.labels import FrozenLabels
from microseg.model.mesh import AuthorizationPolicy, PeerAuthentication
from microseg.model.netpol import NetworkPolicy
from microseg.model.networks import Networks, UserDefinedNetwork
from microseg.model.objects import (
    NAMESPACE_NAME_LABEL,
    Namespace,
    Node,
    Service,
    ServiceAccount,
    ServicePort,
    Workload,
)
from microseg.model.selectors import label_key_error, label_value_error
from microseg.model.sets import Protocol

__all__ = ["ClusterBuilder", "load"]

# ingest/istio.py ISTIO_KINDS, repeated so that the module loads only for Istio input.
_ISTIO_KINDS = ("PeerAuthentication", "AuthorizationPolicy")
# ingest/networks.py NETWORK_KINDS (OVN-Kubernetes user-defined networks), likewise.
_NETWORK_KINDS = ("UserDefinedNetwork", "ClusterUserDefinedNetwork")


def _clash(policy: AdminPolicy, other: AdminPolicy) -> tuple[str, bool]:
    """Why two guardrail policies cannot both stand, and whether that is fatal."""
    if other.kind == policy.kind and other.name == policy.name:
        return f"two {policy.kind} objects named {policy.name!r}", True
    banp = "BaselineAdminNetworkPolicy"
    if policy.kind == banp and other.kind == banp:
        return "a second BaselineAdminNetworkPolicy: the cluster has at most one ('default')", True
    if (
        policy.tier is not other.tier
        or policy.priority != other.priority
        or (policy.tier is AdminTier.BASELINE and banp in (policy.kind, other.kind))
    ):
        return "", False
    # Both APIs leave the order of equal priorities to the implementation, so a verdict
    # would be a guess. AdminNetworkPolicies: an error, as in netpol-analyzer. Cluster
    # network policies: a warning; microseg then orders them by name.
    fatal = policy.kind == other.kind == "AdminNetworkPolicy"
    what = f"{other.short_kind} {other.name!r} and {policy.short_kind} {policy.name!r} share priority {policy.priority}"
    return f"{what}; their order is undefined" + ("" if fatal else ", evaluated by name"), fatal


@dataclass(slots=True)
class ClusterBuilder:
    """Accumulates documents; `build()` returns the snapshot or raises InputError."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    policies: dict[tuple[str, str], NetworkPolicy] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    accounts: list[ServiceAccount] = field(default_factory=list)
    admin_policies: list[AdminPolicy] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    ingresses: list[Ingress] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    mesh: dict[tuple[str, str, str], PeerAuthentication | AuthorizationPolicy] = field(
        default_factory=dict
    )
    workloads: WorkloadBuilder = field(default_factory=WorkloadBuilder)
    networks: list[UserDefinedNetwork] = field(default_factory=list)
    netpol_memo: PolicyMemo = field(default_factory=PolicyMemo)
    skipped: Counter[str] = field(default_factory=Counter)
    _first_skipped: dict[str, Origin] = field(default_factory=dict)

    def add(self, doc: Document) -> None:
        """Validated readers handle each kind; a malformed object whose shape they did not
        foresee still becomes a located error rather than a traceback."""
        try:
            self._add(doc)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "MS200",
                    f"malformed {doc.data.get('kind')} object: a field has an unexpected type ({exc})",
                    doc.origin(),
                )
            )

    def _add(self, doc: Document) -> None:
        kind = str(doc.data["kind"])
        if kind == "NetworkPolicy":
            self._add_policy(doc)
        elif kind == "Namespace":
            self._add_namespace(doc)
        elif kind == "Pod" or (kind in CONTROLLER_KINDS and kind not in VM_KINDS):
            self.workloads.add(doc)
        elif kind in VM_KINDS and str(doc.data.get("apiVersion", "")).startswith("kubevirt.io/"):
            self.workloads.add(doc)  # KubeVirt VMs run in virt-launcher pods (ingest/workloads.py)
        elif kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"):
            self._add_admin_policy(doc)
        elif kind == "Node":
            self._add_node(doc)
        elif kind == "Service":
            self._add_service(doc)
        elif kind in ("Ingress", "Route"):
            self._add_exposure(doc, kind)
        elif kind in _ISTIO_KINDS and str(doc.data.get("apiVersion", "")).startswith(
            "security.istio.io/"
        ):
            self._add_istio(doc, kind)
        elif kind in _NETWORK_KINDS and str(doc.data.get("apiVersion", "")).startswith(
            "k8s.ovn.org/"
        ):
            self._add_network(doc)
        elif kind == "ServiceAccount":
            meta = doc.data.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                self._error(doc, "MS201", "expected a mapping with a name", ("metadata",))
                return
            namespace = meta.get("namespace") or "default"
            self.accounts.append(ServiceAccount(str(namespace), meta["name"], doc.origin()))
        elif str(doc.data.get("apiVersion", "")).startswith("microseg.dev/"):
            pass  # microseg's own documents (intents) sit beside manifests; their commands read them
        else:
            self.skipped[kind] += 1
            self._first_skipped.setdefault(kind, doc.origin())

    def _add_network(self, doc: Document) -> None:
        from microseg.ingest.networks import parse_network  # loads only for OVN input

        network, notes = parse_network(doc)
        self.diagnostics.extend(notes)
        if network is not None:
            self.networks.append(network)

    def _resolve_networks(self) -> tuple[Networks, list[Diagnostic]]:
        """Primary networks per namespace; declared namespaces suffice, as only those can
        carry the label a primary network needs."""
        if not self.networks:
            return Networks(), []
        from microseg.ingest.networks import resolve_networks

        return resolve_networks(self.networks, self.namespaces)

    def _add_istio(self, doc: Document, kind: str) -> None:
        # Imported here: its pydantic schemas cost a fifth of start-up, and most inputs
        # have no Istio objects.
        from microseg.ingest.istio import parse_istio

        obj, notes = parse_istio(doc)
        self.diagnostics.extend(notes)
        if obj is None:
            return
        key = (kind, obj.namespace, obj.name)
        if key in self.mesh:
            first = self.mesh[key].origin.location()
            message = f"two {kind} objects named {obj.namespace}/{obj.name} (first at {first})"
            self._error(doc, "MS143", message, ("metadata", "name"))
            return
        self.mesh[key] = obj

    def _account_notes(self, workloads: list[Workload]) -> list[Diagnostic]:
        """A workload running as a ServiceAccount the input does not declare (only checked
        when the input declares accounts or has mesh resources, where identity matters)."""
        if not self.accounts and not self.mesh:
            return []
        known = {(a.namespace, a.name) for a in self.accounts}
        return [
            Diagnostic(
                Severity.WARNING,
                "MS144",
                f"{w.key} runs as ServiceAccount {w.key.namespace}/{w.service_account}, "
                "which is not in the input",
                w.origin,
            )
            for w in workloads
            if w.service_account != "default" and (w.key.namespace, w.service_account) not in known
        ]

    def _error(self, doc: Document, code: str, message: str, path: tuple[str | int, ...]) -> None:
        origin = doc.origin()
        line = doc.line_of(path, exact=True)
        where = Origin(
            origin.file, origin.document, line, origin.kind, origin.namespace, origin.name
        )
        self.diagnostics.append(Diagnostic(Severity.ERROR, code, message, where, format_path(path)))

    def _add_admin_policy(self, doc: Document) -> None:
        # Imported on first use: most inputs have no guardrail policies, and building
        # their validators costs a third of the start-up time.
        from microseg.ingest.admin import parse_admin_policy

        policy, notes = parse_admin_policy(doc)
        self.diagnostics.extend(notes)
        if policy is None:
            return
        for other in self.admin_policies:
            clash, fatal = _clash(policy, other)
            if clash:
                severity = Severity.ERROR if fatal else Severity.WARNING
                where = f" (first at {other.origin.location()})"
                self.diagnostics.append(Diagnostic(severity, "MS111", clash + where, policy.origin))
                if fatal:
                    return
        self.admin_policies.append(policy)

    def _add_node(self, doc: Document) -> None:
        meta = doc.data.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            self._error(doc, "MS201", "expected a mapping with a name", ("metadata",))
            return
        labels = meta.get("labels") or {}
        status = doc.data.get("status") or {}
        raw = status.get("addresses") if isinstance(status, dict) else None
        addresses = tuple(
            str(a["address"])
            for a in (raw if isinstance(raw, list) else [])
            if isinstance(a, dict)
            and a.get("type") in ("InternalIP", "ExternalIP")
            and a.get("address")
        )
        if not isinstance(labels, dict):
            self._error(doc, "MS201", "expected a mapping of labels", ("metadata", "labels"))
            return
        self.nodes.append(
            Node(
                meta["name"],
                FrozenLabels({str(k): str(v) for k, v in labels.items()}),
                addresses,
                doc.origin(),
            )
        )

    def _add_policy(self, doc: Document) -> None:
        result = parse_network_policy(doc, self.netpol_memo)
        if isinstance(result, list):
            self.diagnostics.extend(result)
            return
        key = (result.namespace, result.name)
        if key in self.policies:
            first = self.policies[key].origin
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "MS103",
                    f"two NetworkPolicies named {result.namespace}/{result.name} (first at {first.location()}); "
                    "names must be unique within a namespace",
                    result.origin,
                    "metadata.name",
                )
            )
            return
        self.policies[key] = result

    def _add_namespace(self, doc: Document) -> None:
        meta = doc.data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name:
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "MS201",
                    "required field is missing",
                    doc.origin(),
                    "metadata.name",
                )
            )
            return
        raw_labels = meta.get("labels") or {}  # type: ignore[union-attr]
        if not isinstance(raw_labels, dict):
            self._error(doc, "MS201", "expected a mapping of labels", ("metadata", "labels"))
            return
        for k, v in raw_labels.items():
            err = (
                f"label key must be a string, got {k!r}"
                if not isinstance(k, str)
                else label_key_error(k)
                or (
                    label_value_error(v)
                    if isinstance(v, str)
                    else f"label value must be a string, got {v!r}"
                )
            )
            if err:
                self._error(doc, "MS201", err, ("metadata", "labels", str(k)))
                return
        if name in self.namespaces:
            first = self.namespaces[name].origin
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "MS202",
                    f"namespace {name!r} is declared twice (first at {first.location()})",
                    doc.origin(),
                    "metadata.name",
                )
            )
            return
        # The API server sets kubernetes.io/metadata.name on every namespace.
        labels = {**raw_labels, NAMESPACE_NAME_LABEL: name}
        self.namespaces[name] = Namespace(name, FrozenLabels(labels), doc.origin())

    def _add_exposure(self, doc: Document, kind: str) -> None:
        obj, notes = parse_ingress(doc) if kind == "Ingress" else parse_route(doc)
        self.diagnostics.extend(notes)
        if isinstance(obj, Ingress):
            self.ingresses.append(obj)
        elif isinstance(obj, Route):
            self.routes.append(obj)

    def _exposure_notes(self) -> list[Diagnostic]:
        """Backends that cannot lead anywhere: a Service missing from the input, or one
        without a selector (its endpoints are managed by hand)."""
        services = {(s.namespace, s.name): s for s in self.services}
        out = []
        objs: list[Ingress | Route] = [*self.ingresses, *self.routes]
        for obj in objs:
            kind = "Ingress" if isinstance(obj, Ingress) else "Route"
            for name in dict.fromkeys(b.service for b in obj.backends):
                svc = services.get((obj.namespace, name))
                if svc is None:
                    why = "is not in the input"
                elif svc.selector is None:
                    why = "has no selector; only Services with a selector are followed"
                else:
                    continue
                out.append(
                    Diagnostic(
                        Severity.WARNING,
                        "MS132",
                        f"{kind} {obj.namespace}/{obj.name}: Service {obj.namespace}/{name} {why}",
                        obj.origin,
                    )
                )
        return out

    def _add_service(self, doc: Document) -> None:
        data = doc.data
        meta = data.get("metadata") or {}
        spec = data.get("spec") or {}
        if not isinstance(meta, dict) or not isinstance(spec, dict):
            return
        selector = spec.get("selector")
        ports = []
        raw_ports = spec.get("ports")
        if raw_ports is not None and not isinstance(raw_ports, list):
            self._error(
                doc, "MS201", f"expected a list of ports, got {raw_ports!r}", ("spec", "ports")
            )
            return
        for p in raw_ports or []:
            if isinstance(p, dict) and isinstance(p.get("port"), int):
                proto = p.get("protocol", "TCP")
                target = p.get("targetPort", p["port"])
                ports.append(
                    ServicePort(
                        Protocol(proto) if proto in ("TCP", "UDP", "SCTP") else Protocol.TCP,
                        p["port"],
                        target if isinstance(target, int | str) else p["port"],
                        str(p.get("name") or ""),
                        str(p.get("appProtocol") or ""),
                    )
                )
        self.services.append(
            Service(
                str(meta.get("namespace") or "default"),
                str(meta.get("name") or ""),
                FrozenLabels({str(k): str(v) for k, v in selector.items()})
                if isinstance(selector, dict) and selector  # {}: no pods (API ServiceSpec)
                else None,
                str(spec.get("type") or "ClusterIP"),
                tuple(ports),
                doc.origin(),
            )
        )

    def build(self) -> Cluster:
        workloads, pods = self.workloads.build()
        diagnostics = self.diagnostics + self.workloads.diagnostics + self._exposure_notes()
        diagnostics += self._account_notes(workloads)
        networks, network_notes = self._resolve_networks()
        diagnostics += network_notes
        for kind, count in sorted(self.skipped.items()):
            diagnostics.append(
                Diagnostic(
                    Severity.NOTICE,
                    "MS010",
                    f"skipped {count} object(s) of kind {kind}: not used by the analysis",
                    self._first_skipped[kind],
                )
            )
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        if errors:
            raise InputError(errors)
        namespaces = dict(self.namespaces)
        referenced = {p.namespace for p in pods} | {p.namespace for p in self.policies.values()}
        for name in sorted(referenced - namespaces.keys()):
            # Referenced but not declared: it exists with only the label the API server sets.
            namespaces[name] = Namespace(
                name, FrozenLabels({NAMESPACE_NAME_LABEL: name}), declared=False
            )
        return Cluster(
            namespaces=tuple(sorted(namespaces.values(), key=lambda n: n.name)),
            workloads=tuple(workloads),
            pods=tuple(pods),
            policies=tuple(self.policies.values()),
            services=tuple(self.services),
            service_accounts=tuple(self.accounts),
            admin_policies=tuple(self.admin_policies),
            nodes=tuple(self.nodes),
            ingresses=tuple(self.ingresses),
            routes=tuple(self.routes),
            peer_authentications=tuple(
                o for o in self.mesh.values() if isinstance(o, PeerAuthentication)
            ),
            authorization_policies=tuple(
                o for o in self.mesh.values() if isinstance(o, AuthorizationPolicy)
            ),
            networks=networks,
            diagnostics=tuple(diagnostics),
        )


def load(paths: list[str] | str) -> Cluster:
    """Read manifests (files, folders, or `-`) into a Cluster; raises InputError on bad input."""
    if isinstance(paths, str):
        paths = [paths]
    builder = ClusterBuilder()
    # Parsing allocates millions of small objects that all stay alive until the snapshot is
    # built; the cyclic collector would rescan them again and again for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        for item in read_paths(list(paths)):
            if isinstance(item, Diagnostic):
                builder.diagnostics.append(item)
            else:
                builder.add(item)
        return builder.build()
    finally:
        if enabled:
            gc.enable()
