"""Documents to one `Cluster`: dispatch by (API group, kind), defaults, duplicates, and diagnostics."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from microseg.errors import Diagnostic, InputError, Origin, Severity
from microseg.ingest.assumed import is_cluster_dns, system_dns_document, with_namespace
from microseg.ingest.core import parse_namespace, parse_node, parse_service, parse_service_account
from microseg.ingest.documents import MAX_INPUT_BYTES, Document, read_paths
from microseg.ingest.linkerd_pods import mesh_notes
from microseg.ingest.names import name_warnings
from microseg.ingest.netpols import PolicyMemo, parse_network_policy
from microseg.ingest.validation import FieldError, field_diagnostic
from microseg.ingest.workloads import VM_KINDS, WorkloadBuilder
from microseg.model.admin import AdminPolicy, AdminTier
from microseg.model.calico_config import CalicoConfig
from microseg.model.cluster import Cluster
from microseg.model.identity import ClusterSPIFFEID
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd_pod import LinkerdPolicies
from microseg.model.mesh import AuthorizationPolicy, PeerAuthentication
from microseg.model.netpol import NetworkPolicy
from microseg.model.networks import Networks, UserDefinedNetwork
from microseg.model.objects import (
    NAMESPACE_NAME_LABEL,
    Namespace,
    Node,
    Pod,
    Service,
    ServiceAccount,
    Workload,
)
from microseg.model.rbac import Binding, Rbac, Role

if TYPE_CHECKING:
    from microseg.ingest.calico import CalicoBuilder
    from microseg.ingest.linkerd import LinkerdReader
    from microseg.model.exposure import Ingress, Route

__all__ = ["ClusterBuilder", "load", "load_documents"]

# ingest/istio.py ISTIO_KINDS, repeated so that the module loads only for Istio input.
_ISTIO_KINDS = ("PeerAuthentication", "AuthorizationPolicy")
# ingest/networks.py NETWORK_KINDS (OVN-Kubernetes user-defined networks), likewise.
_NETWORK_KINDS = ("UserDefinedNetwork", "ClusterUserDefinedNetwork")
# ingest/rbac.py RBAC_KINDS (read for `microseg audit`), likewise.
_RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
# ingest/linkerd.py LINKERD_KINDS, likewise.
_LINKERD_KINDS = (
    "Server",
    "ServerAuthorization",
    "AuthorizationPolicy",
    "MeshTLSAuthentication",
    "NetworkAuthentication",
    "HTTPRoute",
)


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
    rbac: dict[tuple[str, str, str], Role | Binding] = field(default_factory=dict)
    linkerd: LinkerdReader | None = None
    spiffe_ids: list[ClusterSPIFFEID] = field(default_factory=list)
    linkerd_config: Document | None = None
    netpol_memo: PolicyMemo = field(default_factory=PolicyMemo)
    skipped: Counter[str] = field(default_factory=Counter)
    _first_skipped: dict[str, Origin] = field(default_factory=dict)
    # Policies of another implementation that reuse a policy kind's name (Calico's and
    # Antrea's NetworkPolicy, say), by (API group, kind): never read as Kubernetes ones.
    foreign: Counter[tuple[str, str]] = field(default_factory=Counter)
    _first_foreign: dict[tuple[str, str], Origin] = field(default_factory=dict)
    # Calico's resources (ingest/calico.py), made on first use.
    calico: CalicoBuilder | None = None
    # `-n/--namespace`: where objects without metadata.namespace go (ingest/assumed.py).
    default_namespace: str = "default"
    has_cluster_dns: bool = False

    def add(self, doc: Document) -> None:
        """Validated readers handle each kind; a malformed object whose shape they did not
        foresee still becomes a located error rather than a traceback."""
        if self.default_namespace != "default":
            with_namespace(doc, self.default_namespace)
        try:
            self._add(doc)
        except RecursionError:
            # A value nested deeper than Python's recursion allows (a JSON document: YAML
            # is refused past 100 levels when read) reached a check that recurses.
            self.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "MS003",
                    f"{doc.data.get('kind')} object nested too deeply to analyse; refused",
                    doc.origin(),
                )
            )
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
        data = doc.data
        kind = str(data["kind"])
        api = data.get("apiVersion")
        # A list item without an apiVersion (a hand-written `List`) is taken at its kind's word.
        group = _DEFAULT_GROUP.get(kind, "") if api is None else str(api).rpartition("/")[0]
        if group in _CALICO_GROUPS and kind in _CALICO_KINDS:
            self.diagnostics.extend(name_warnings(doc))
            self._add_calico(doc, group)
            return
        reader = _READERS.get((group, kind)) or _ANY_GROUP.get(kind)
        if reader is not None:
            self.diagnostics.extend(name_warnings(doc))
            reader(self, doc)
            return
        if group == "microseg.dev":
            return  # microseg's own documents (intents) sit beside manifests; their commands read them
        if kind in _POLICY_GROUPS:
            key = (group or str(api), kind)
            self.foreign[key] += 1
            self._first_foreign.setdefault(key, doc.origin())
            return
        self.skipped[kind] += 1
        self._first_skipped.setdefault(kind, doc.origin())

    def _add_calico(self, doc: Document, group: str) -> None:
        if self.calico is None:
            from microseg.ingest.calico import CalicoBuilder  # loads only for Calico input

            self.calico = CalicoBuilder()
        self.calico.add(doc, group)

    def _located(self, doc: Document, err: FieldError) -> None:
        self.diagnostics.append(field_diagnostic(doc, err))

    def _add_workload(self, doc: Document) -> None:
        self.has_cluster_dns = self.has_cluster_dns or is_cluster_dns(doc.data)
        self.workloads.add(doc)

    def assume_system_pods(self) -> None:
        """`--assume-system-pods`: the cluster DNS, when the input has no kube-dns pod."""
        if not self.has_cluster_dns:
            self.add(system_dns_document())
            self.diagnostics.append(
                Diagnostic(
                    Severity.NOTICE,
                    "MS012",
                    "assumed the cluster DNS: kube-system/coredns[Deployment] with "
                    "k8s-app=kube-dns, ports dns UDP 53, dns-tcp TCP 53, metrics TCP 9153",
                    Origin(file="--assume-system-pods"),
                )
            )

    def _add_service_account(self, doc: Document) -> None:
        try:
            self.accounts.append(parse_service_account(doc))
        except FieldError as err:
            self._located(doc, err)

    def _add_rbac(self, doc: Document) -> None:
        from microseg.ingest.rbac import parse_binding, parse_role  # only for RBAC input

        kind = str(doc.data["kind"])
        try:
            obj: Role | Binding = (
                parse_role(doc) if kind in ("Role", "ClusterRole") else parse_binding(doc)
            )
        except FieldError as err:
            self._located(doc, err)
            return
        key = (kind, obj.namespace, obj.name)
        if key in self.rbac:
            first = self.rbac[key].origin.location()
            message = f"two {kind} objects named {obj.ref} (first at {first})"
            self._located(doc, FieldError("MS902", ("metadata", "name"), message))
            return
        self.rbac[key] = obj

    def _rbac(self) -> Rbac:
        roles = tuple(o for o in self.rbac.values() if isinstance(o, Role))
        bindings = tuple(o for o in self.rbac.values() if isinstance(o, Binding))
        return Rbac(roles, bindings)

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

    def _add_istio(self, doc: Document) -> None:
        # Imported here: its pydantic schemas cost a fifth of start-up, and most inputs
        # have no Istio objects.
        from microseg.ingest.istio import parse_istio

        obj, notes = parse_istio(doc)
        self.diagnostics.extend(notes)
        if obj is None:
            return
        kind = str(doc.data["kind"])
        key = (kind, obj.namespace, obj.name)
        if key in self.mesh:
            first = self.mesh[key].origin.location()
            message = f"two {kind} objects named {obj.namespace}/{obj.name} (first at {first})"
            self._located(doc, FieldError("MS143", ("metadata", "name"), message))
            return
        self.mesh[key] = obj

    def _add_linkerd(self, doc: Document) -> None:
        # Imported here, as Istio's: most inputs have no Linkerd objects.
        if self.linkerd is None:
            from microseg.ingest.linkerd import LinkerdReader

            self.linkerd = LinkerdReader()
        if not self.linkerd.add(doc):
            kind = str(doc.data["kind"])
            self.skipped[kind] += 1  # a Gateway's route, not Linkerd's inbound policy
            self._first_skipped.setdefault(kind, doc.origin())

    def _add_config_map(self, doc: Document) -> None:
        """Only Linkerd's `linkerd-config` is read; other ConfigMaps are skipped as before."""
        meta = doc.data.get("metadata") or {}
        if not isinstance(meta, dict) or meta.get("name") != "linkerd-config":
            self.skipped["ConfigMap"] += 1
            self._first_skipped.setdefault("ConfigMap", doc.origin())
            return
        self.linkerd_config = doc

    def _add_spiffe_id(self, doc: Document) -> None:
        from microseg.ingest.spire import parse_cluster_spiffe_id

        obj, notes = parse_cluster_spiffe_id(doc)
        self.diagnostics.extend(notes)
        if obj is None:
            return
        if any(o.name == obj.name for o in self.spiffe_ids):
            message = f"two ClusterSPIFFEID objects named {obj.name}"
            self._located(doc, FieldError("MS197", ("metadata", "name"), message))
            return
        self.spiffe_ids.append(obj)

    def _account_notes(self, workloads: list[Workload]) -> list[Diagnostic]:
        """A workload running as a ServiceAccount the input does not declare (only checked
        when the input declares accounts or has mesh resources, where identity matters)."""
        if not self.accounts and not self.mesh and self.linkerd is None:
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
        try:
            self.nodes.append(parse_node(doc))
        except FieldError as err:
            self._located(doc, err)

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
        try:
            namespace = parse_namespace(doc)
        except FieldError as err:
            self._located(doc, err)
            return
        name = namespace.name
        earlier = self.namespaces.get(name)
        if earlier is not None:
            # An identical re-declaration is what applying the same manifest twice gives
            # (kubectl and network-config-analyzer accept it). Labels that differ are what
            # `kubectl apply` of both files would settle by the later one, so the later one
            # wins here too, with a warning: the namespace's selection (its policies, its
            # primary network) follows its labels, and the reader should know which.
            same = (
                earlier.labels == namespace.labels and earlier.annotations == namespace.annotations
            )
            where = f"first at {earlier.origin.location()}"
            self.diagnostics.append(
                Diagnostic(
                    Severity.NOTICE if same else Severity.WARNING,
                    "MS202",
                    f"namespace {name!r} is declared twice, identically ({where}); "
                    "the second declaration changes nothing"
                    if same
                    else f"namespace {name!r} is declared twice with different labels "
                    f"({where}); this later declaration is used, as kubectl apply would",
                    doc.origin(),
                    "metadata.name",
                )
            )
            if same:
                return
        self.namespaces[name] = namespace

    def _add_ingress(self, doc: Document) -> None:
        # ingest/exposure.py and its model load for Ingress and Route input only.
        from microseg.ingest.exposure import parse_ingress
        from microseg.model.exposure import Ingress

        ingress, notes = parse_ingress(doc)
        self.diagnostics.extend(notes)
        if isinstance(ingress, Ingress):
            self.ingresses.append(ingress)

    def _add_route(self, doc: Document) -> None:
        from microseg.ingest.exposure import parse_route
        from microseg.model.exposure import Route

        route, notes = parse_route(doc)
        self.diagnostics.extend(notes)
        if isinstance(route, Route):
            self.routes.append(route)

    def _exposure_notes(self) -> list[Diagnostic]:
        """Backends that cannot lead anywhere: a Service missing from the input, or one
        without a selector (its endpoints are managed by hand)."""
        objs: list[Ingress | Route] = [*self.ingresses, *self.routes]
        if not objs:
            return []
        from microseg.model.exposure import Ingress

        services = {(s.namespace, s.name): s for s in self.services}
        out = []
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
        try:
            self.services.append(parse_service(doc))
        except FieldError as err:
            self._located(doc, err)

    def _calico_endpoints(
        self, workloads: list[Workload], pods: list[Pod]
    ) -> tuple[CalicoConfig, list[Diagnostic]]:
        """Calico's model, with its host endpoints and workload endpoints added as pods (a
        WorkloadEndpoint whose pod the input also has as a Pod is left out)."""
        if self.calico is None:
            return CalicoConfig(), []
        notes = self.calico.diagnostics + self.calico.missing_tiers()
        known = {(p.namespace, p.name) for p in pods}
        for pod in self.calico.workload_endpoints + self.calico.host_endpoint_pods():
            if (pod.namespace, pod.name) in known:
                notes.append(
                    Diagnostic(
                        Severity.WARNING,
                        "MS164",
                        f"{pod.origin.kind} {pod.name} stands for a pod the input already has; "
                        "the pod is used",
                        pod.origin,
                    )
                )
                continue
            known.add((pod.namespace, pod.name))
            pods.append(pod)
            workloads.append(Workload(pod.workload, pod.origin, pod.service_account))
        return self.calico.build(), notes

    def build(self, keep_going: bool = False) -> Cluster:
        """The snapshot; raises InputError when there are errors, unless `keep_going`
        (`microseg monitor`), which leaves the refused objects out and keeps their errors
        among the diagnostics."""
        workloads, pods = self.workloads.build()
        calico, calico_notes = self._calico_endpoints(workloads, pods)
        diagnostics = self.diagnostics + self.workloads.diagnostics + self._exposure_notes()
        diagnostics += calico_notes
        diagnostics += self._account_notes(workloads)
        networks, network_notes = self._resolve_networks()
        diagnostics += network_notes
        linkerd = self.linkerd.build() if self.linkerd is not None else LinkerdPolicies()
        if self.linkerd is not None:
            from microseg.ingest.linkerd import server_overlaps

            diagnostics += self.linkerd.diagnostics
            diagnostics += server_overlaps(linkerd, pods)
        if self.linkerd_config is not None:
            from microseg.ingest.linkerd_config import apply_linkerd_config

            linkerd, config_notes = apply_linkerd_config(self.linkerd_config, linkerd)
            diagnostics += config_notes
        diagnostics += mesh_notes(list(self.namespaces.values()), pods)
        for kind, count in sorted(self.skipped.items()):
            diagnostics.append(
                Diagnostic(
                    Severity.NOTICE,
                    "MS010",
                    f"skipped {count} object(s) of kind {kind}: not used by the analysis",
                    self._first_skipped[kind],
                )
            )
        for (group, kind), count in sorted(self.foreign.items()):
            diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS011",
                    f"skipped {count} {kind} object(s) of API group {group}: microseg reads "
                    f"{kind} only from {_POLICY_GROUPS[kind]}, so the connectivity shown "
                    "ignores these policies",
                    self._first_foreign[(group, kind)],
                )
            )
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        if errors and not keep_going:
            raise InputError(errors)
        namespaces = dict(self.namespaces)
        referenced = {p.namespace for p in pods} | {p.namespace for p in self.policies.values()}
        referenced |= {p.namespace for p in calico.policies} | {
            s.namespace for s in calico.network_sets
        }
        referenced.discard("")  # cluster-scoped Calico objects
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
            rbac=self._rbac(),
            linkerd=linkerd,
            spiffe_ids=tuple(self.spiffe_ids),
            calico=calico,
            diagnostics=tuple(diagnostics),
        )


Reader = Callable[[ClusterBuilder, Document], None]

# What each (API group, kind) is read by; "" is the core group (apiVersion `v1`). The
# group decides as much as the kind: other CNIs reuse the policy kinds' names for policies
# of their own meaning (a projectcalico.org/v3 NetworkPolicy may deny), so those are
# skipped (MS011), never read as the Kubernetes kind nor counted against its names.
_READERS: dict[tuple[str, str], Reader] = {
    ("networking.k8s.io", "NetworkPolicy"): ClusterBuilder._add_policy,
    ("", "Namespace"): ClusterBuilder._add_namespace,
    ("", "Pod"): ClusterBuilder._add_workload,
    ("", "ReplicationController"): ClusterBuilder._add_workload,
    ("apps", "Deployment"): ClusterBuilder._add_workload,
    ("apps", "ReplicaSet"): ClusterBuilder._add_workload,
    ("apps", "StatefulSet"): ClusterBuilder._add_workload,
    ("apps", "DaemonSet"): ClusterBuilder._add_workload,
    ("batch", "Job"): ClusterBuilder._add_workload,
    ("batch", "CronJob"): ClusterBuilder._add_workload,
    # KubeVirt VMs run in virt-launcher pods (ingest/workloads.py).
    **{("kubevirt.io", kind): ClusterBuilder._add_workload for kind in VM_KINDS},
    **{
        ("policy.networking.k8s.io", kind): ClusterBuilder._add_admin_policy
        for kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")
    },
    ("", "Node"): ClusterBuilder._add_node,
    ("", "Service"): ClusterBuilder._add_service,
    ("", "ServiceAccount"): ClusterBuilder._add_service_account,
    ("networking.k8s.io", "Ingress"): ClusterBuilder._add_ingress,
    ("route.openshift.io", "Route"): ClusterBuilder._add_route,
    **{("security.istio.io", kind): ClusterBuilder._add_istio for kind in _ISTIO_KINDS},
    **{("k8s.ovn.org", kind): ClusterBuilder._add_network for kind in _NETWORK_KINDS},
    **{("rbac.authorization.k8s.io", kind): ClusterBuilder._add_rbac for kind in _RBAC_KINDS},
    **{("policy.linkerd.io", kind): ClusterBuilder._add_linkerd for kind in _LINKERD_KINDS},
    **{
        ("gateway.networking.k8s.io", kind): ClusterBuilder._add_linkerd
        for kind in ("HTTPRoute", "GRPCRoute")
    },
    ("spire.spiffe.io", "ClusterSPIFFEID"): ClusterBuilder._add_spiffe_id,
    ("", "ConfigMap"): ClusterBuilder._add_config_map,
}

# Kinds read whatever their group, as before groups were checked: no other API reuses
# these names for network policy, and real inputs stray (netpol-analyzer's own tests have
# `apps/v1` Pods; old manifests have `extensions/v1beta1` Deployments and Ingresses).
_ANY_GROUP: dict[str, Reader] = {
    kind: reader
    for (group, kind), reader in _READERS.items()
    if group in ("", "apps", "batch") or kind in ("Ingress", "Route")
}

# The policy kinds, each with the only group it is read from; under any other group they
# are another implementation's policies (MS011).
_POLICY_GROUPS: dict[str, str] = {
    kind: group
    for (group, kind), reader in _READERS.items()
    if reader in (ClusterBuilder._add_policy, ClusterBuilder._add_admin_policy)
}

# Calico's resources: projectcalico.org/v3, and the CRD form crd.projectcalico.org/v1
# that `kubectl get -o yaml` shows (ingest/calico.py, CALICO_KINDS and CALICO_GROUPS,
# repeated so that the module loads only for Calico input).
_CALICO_GROUPS = frozenset({"projectcalico.org", "crd.projectcalico.org"})
_CALICO_KINDS = frozenset(
    {
        "NetworkPolicy",
        "GlobalNetworkPolicy",
        "StagedNetworkPolicy",
        "StagedGlobalNetworkPolicy",
        "StagedKubernetesNetworkPolicy",
        "Tier",
        "NetworkSet",
        "GlobalNetworkSet",
        "HostEndpoint",
        "WorkloadEndpoint",
        "Profile",
        "FelixConfiguration",
    }
)

# The group a list item without an apiVersion is read under: its kind's group above.
_DEFAULT_GROUP: dict[str, str] = {kind: group for group, kind in _READERS}


def load(
    paths: list[str] | str,
    *,
    namespace: str = "default",
    assume_system_pods: bool = False,
    max_input_bytes: int = MAX_INPUT_BYTES,
) -> Cluster:
    """Read manifests (files, folders, or `-`) into a Cluster; raises InputError on bad input.

    `namespace`: for objects without metadata.namespace (`kubectl apply -n`);
    `assume_system_pods`: add the cluster DNS pods (ingest/assumed.py);
    `max_input_bytes`: the largest file (or stdin) read (ingest/documents.py)."""
    if isinstance(paths, str):
        paths = [paths]
    return load_documents(
        read_paths(list(paths), max_input_bytes),
        namespace=namespace,
        assume_system_pods=assume_system_pods,
    )


def load_documents(
    items: Iterable[Document | Diagnostic],
    *,
    namespace: str = "default",
    assume_system_pods: bool = False,
    keep_going: bool = False,
) -> Cluster:
    """Documents (from files or the live API) and the diagnostics met reading them, into a
    Cluster; raises InputError on errors unless `keep_going` (ClusterBuilder.build)."""
    builder = ClusterBuilder(default_namespace=namespace)
    # Parsing allocates millions of small objects that all stay alive until the snapshot is
    # built; the cyclic collector would rescan them again and again for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        for item in items:
            if isinstance(item, Diagnostic):
                builder.diagnostics.append(item)
            else:
                builder.add(item)
        if assume_system_pods:
            builder.assume_system_pods()
        return builder.build(keep_going)
    finally:
        if enabled:
            gc.enable()
