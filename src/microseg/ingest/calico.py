"""Calico documents (projectcalico.org/v3, and the crd.projectcalico.org/v1 form that
`kubectl get -o yaml` shows) to the model of model/calico.py.

Defaults applied here, each from the resource reference
(docs.tigera.io/calico/latest/reference/resources/):
- `types` from the rules present (no rules or ingress only: Ingress; egress only: Egress;
  both: Ingress and Egress), as the networkpolicy and globalnetworkpolicy pages tabulate;
- `tier` "default"; `selector` all(); a staged policy's `stagedAction` Set;
- a network or a port given as a single address or number is a /32 (/128) or one port;
- a numeric protocol that has a name (6, 17, 1, 58, 132, 136) is that protocol.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.calico_schema import (
    SELECTOR_MARK,
    RawCalicoGlobalPolicy,
    RawCalicoPolicy,
    RawEndpointPort,
    RawEntityRule,
    RawFelixConfiguration,
    RawHostEndpoint,
    RawNetworkSet,
    RawProfile,
    RawRule,
    RawStagedKubernetesNetworkPolicy,
    RawTier,
    RawWorkloadEndpoint,
)
from microseg.ingest.documents import Document
from microseg.ingest.validation import diagnostics_from
from microseg.model.calico import (
    BUILTIN_TIERS,
    DEFAULT_TIER,
    LABEL_NAMESPACE,
    LABEL_ORCHESTRATOR,
    LABEL_SERVICE_ACCOUNT,
    CalicoAction,
    CalicoConfig,
    CalicoPolicy,
    CalicoPort,
    CalicoRule,
    EntityRule,
    FailsafePort,
    HostEndpoint,
    HttpMatch,
    IcmpMatch,
    NetworkSet,
    Profile,
    ProtocolMatch,
    ServiceAccountMatch,
    ServiceMatch,
    TierSpec,
)
from microseg.model.calico_selector import All, Selector, parse_selector
from microseg.model.labels import FrozenLabels
from microseg.model.netpol import Direction, NetworkPolicy
from microseg.model.objects import ContainerPort, Pod, WorkloadKey
from microseg.model.sets import PROTOCOL_NUMBERS, IPSet, Protocol

__all__ = ["CALICO_KINDS", "CalicoBuilder"]

CALICO_KINDS = (
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
)
CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")

# The reader's codes (README, Diagnostics): MS160 policies, MS161 selectors, MS162 tiers,
# MS163 network sets, MS164 endpoints, MS165 profiles, MS166 Felix configuration.
_CODES = {
    "NetworkPolicy": "MS160",
    "GlobalNetworkPolicy": "MS160",
    "StagedNetworkPolicy": "MS160",
    "StagedGlobalNetworkPolicy": "MS160",
    "StagedKubernetesNetworkPolicy": "MS160",
    "Tier": "MS162",
    "NetworkSet": "MS163",
    "GlobalNetworkSet": "MS163",
    "HostEndpoint": "MS164",
    "WorkloadEndpoint": "MS164",
    "Profile": "MS165",
    "FelixConfiguration": "MS166",
}
_BY_NAME = {p.value: p for p in Protocol if p is not Protocol.IP}
_BY_NUMBER = {n: p for p, n in PROTOCOL_NUMBERS.items()}
# Linux's default ephemeral source ports (net.ipv4.ip_local_port_range): a rule that names
# source ports matches a client's connection only if every one of them is allowed.
EPHEMERAL = (32768, 60999)


def protocol_match(value: str | int | None) -> ProtocolMatch | None:
    if value is None:
        return None
    if isinstance(value, int):
        named = _BY_NUMBER.get(value)
        return ProtocolMatch(named) if named is not None else ProtocolMatch(Protocol.IP, value)
    return ProtocolMatch(_BY_NAME[value])


def _nets(values: list[str] | None) -> IPSet | None:
    if values is None:
        return None
    out = IPSet()
    for v in values:
        out = out | IPSet.from_cidr(str(ipaddress.ip_network(v.strip(), strict=False)))
    return out


def _ports(values: list[int | str] | None) -> tuple[CalicoPort, ...] | None:
    if values is None:
        return None
    out = []
    for v in values:
        if isinstance(v, int):
            out.append(CalicoPort(v, v))
        elif ":" in v:
            lo, hi = v.split(":")
            out.append(CalicoPort(int(lo), int(hi)))
        elif v.isdigit():
            out.append(CalicoPort(int(v), int(v)))
        else:
            out.append(CalicoPort(name=v))
    return tuple(out)


def _selector(text: str | None) -> Selector | None:
    return None if text is None else parse_selector(text)


def _entity(raw: RawEntityRule, policy_namespace: str) -> EntityRule:
    accounts = None
    if raw.serviceAccounts is not None:
        accounts = ServiceAccountMatch(
            tuple(raw.serviceAccounts.names or ()), _selector(raw.serviceAccounts.selector)
        )
    services = None
    if raw.services is not None:
        # ServiceMatch: the namespace defaults to the policy's own.
        services = ServiceMatch(
            raw.services.name, raw.services.namespace or policy_namespace or "default"
        )
    return EntityRule(
        selector=_selector(raw.selector),
        not_selector=_selector(raw.notSelector),
        namespace_selector=_selector(raw.namespaceSelector),
        service_accounts=accounts,
        services=services,
        nets=_nets(raw.nets),
        not_nets=_nets(raw.notNets),
        ports=_ports(raw.ports),
        not_ports=_ports(raw.notPorts) or (),
    )


def _icmp(raw: object) -> IcmpMatch | None:
    kind = getattr(raw, "type", None)
    if kind is None:
        return None
    return IcmpMatch(kind, getattr(raw, "code", None))


@dataclass(slots=True)
class _Located:
    """One document's context while its rules are converted."""

    doc: Document
    origin: Origin
    namespace: str
    notes: list[Diagnostic] = field(default_factory=list)


def _rules(
    raw_rules: list[RawRule] | None, direction: Direction, where: _Located, base: str = "spec"
) -> tuple[CalicoRule, ...]:
    out = []
    name = "ingress" if direction is Direction.INGRESS else "egress"
    for i, raw in enumerate(raw_rules or ()):
        origin = where.origin.with_rule(i, where.doc.line_of((base, name, i)))
        if raw.source.ports is not None or raw.source.notPorts is not None:
            where.notes.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS170",
                    "source ports are the client's ephemeral ports, which a static analysis "
                    f"cannot know: the rule is taken to match a connection only when every "
                    f"port {EPHEMERAL[0]}-{EPHEMERAL[1]} (Linux's default ephemeral range) "
                    "satisfies them",
                    origin,
                    f"{base}.{name}[{i}].source",
                )
            )
        http = None
        if raw.http is not None:
            http = HttpMatch(
                tuple(raw.http.methods or ()),
                tuple(
                    ("exact", p.exact) if p.exact is not None else ("prefix", p.prefix or "")
                    for p in raw.http.paths or ()
                ),
            )
        out.append(
            CalicoRule(
                action=CalicoAction(raw.action),
                direction=direction,
                index=i,
                protocol=protocol_match(raw.protocol),
                not_protocol=protocol_match(raw.notProtocol),
                icmp=_icmp(raw.icmp),
                not_icmp=_icmp(raw.notICMP),
                ip_version=raw.ipVersion,
                source=_entity(raw.source, where.namespace),
                destination=_entity(raw.destination, where.namespace),
                http=http,
                origin=origin,
            )
        )
    return tuple(out)


def _types(
    types: Sequence[str] | None, ingress: object, egress: object, staged_delete: bool = False
) -> frozenset[Direction]:
    if types:
        return frozenset(Direction(t) for t in types)
    if staged_delete:
        return frozenset()
    if egress and not ingress:
        return frozenset({Direction.EGRESS})
    if egress and ingress:
        return frozenset({Direction.INGRESS, Direction.EGRESS})
    return frozenset({Direction.INGRESS})


def _order(value: float | None) -> float | None:
    return None if value is None else float(value)


def _client_name(name: str, group: str, tier: str) -> str:
    """A policy's name as the v3 API shows it. The CRD form stores policies of the default
    tier as `default.<name>` (libcalico-go names.ClientTieredPolicyName): strip that."""
    if group == "crd.projectcalico.org" and tier == DEFAULT_TIER and name.startswith("default."):
        return name[len("default.") :]
    return name


def _selector_code(diags: list[Diagnostic], fallback: str) -> list[Diagnostic]:
    return [
        Diagnostic(d.severity, "MS161", d.message, d.origin, d.field)
        if d.message.startswith(SELECTOR_MARK)
        else d
        for d in diags
    ] or [Diagnostic(Severity.ERROR, fallback, "invalid object")]


@dataclass(slots=True)
class CalicoBuilder:
    """Accumulates Calico objects for ClusterBuilder (ingest/manifests.py)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    present: bool = False
    tiers: dict[str, TierSpec] = field(default_factory=dict)
    policies: dict[tuple[str, str, str], CalicoPolicy] = field(default_factory=dict)
    network_sets: dict[tuple[str, str], NetworkSet] = field(default_factory=dict)
    host_endpoints: dict[str, HostEndpoint] = field(default_factory=dict)
    workload_endpoints: list[Pod] = field(default_factory=list)
    profiles: dict[str, Profile] = field(default_factory=dict)
    failsafe_inbound: tuple[FailsafePort, ...] | None = None
    failsafe_outbound: tuple[FailsafePort, ...] | None = None

    def add(self, doc: Document, group: str) -> None:
        self.present = True
        kind = str(doc.data["kind"])
        reader = {
            "NetworkPolicy": self._policy,
            "GlobalNetworkPolicy": self._policy,
            "StagedNetworkPolicy": self._policy,
            "StagedGlobalNetworkPolicy": self._policy,
            "StagedKubernetesNetworkPolicy": self._staged_k8s,
            "Tier": self._tier,
            "NetworkSet": self._network_set,
            "GlobalNetworkSet": self._network_set,
            "HostEndpoint": self._host_endpoint,
            "WorkloadEndpoint": self._workload_endpoint,
            "Profile": self._profile,
            "FelixConfiguration": self._felix,
        }[kind]
        try:
            reader(doc, group)
        except ValidationError as exc:
            self.diagnostics += _selector_code(
                diagnostics_from(exc, doc, _CODES[kind]), _CODES[kind]
            )

    def _origin(self, doc: Document, kind: str, namespace: str, name: str) -> Origin:
        base = doc.origin()
        return Origin(base.file, base.document, base.line, kind, namespace, name)

    def _duplicate(self, doc: Document, what: str, first: Origin) -> None:
        self.diagnostics.append(
            Diagnostic(
                Severity.ERROR,
                "MS167",
                f"two {what} (first at {first.location()}); names must be unique",
                doc.origin(),
                "metadata.name",
            )
        )

    def _policy(self, doc: Document, group: str) -> None:
        kind = str(doc.data["kind"])
        glob = kind in ("GlobalNetworkPolicy", "StagedGlobalNetworkPolicy")
        raw = (RawCalicoGlobalPolicy if glob else RawCalicoPolicy).model_validate(doc.data)
        spec = raw.spec
        tier = spec.tier or DEFAULT_TIER
        namespace = "" if glob else (raw.metadata.namespace or "default")
        name = _client_name(raw.metadata.name, group, tier)
        origin = self._origin(doc, kind, namespace, name)
        where = _Located(doc, origin, namespace)
        staged = kind.startswith("Staged")
        action = (spec.stagedAction or "Set") if staged else ""
        ns_sel = getattr(spec, "namespaceSelector", None)
        policy = CalicoPolicy(
            kind=kind,
            name=name,
            namespace=namespace,
            tier=tier,
            order=_order(spec.order),
            selector=parse_selector(spec.selector) if spec.selector is not None else All(),
            selector_text=spec.selector or "",
            types=_types(spec.types, spec.ingress, spec.egress, action == "Delete"),
            ingress=_rules(spec.ingress, Direction.INGRESS, where),
            egress=_rules(spec.egress, Direction.EGRESS, where),
            namespace_selector=_selector(ns_sel),
            service_account_selector=_selector(spec.serviceAccountSelector),
            do_not_track=bool(getattr(spec, "doNotTrack", False)),
            pre_dnat=bool(getattr(spec, "preDNAT", False)),
            apply_on_forward=bool(getattr(spec, "applyOnForward", False)),
            staged_action=action,
            origin=origin,
        )
        self.diagnostics += where.notes
        self._put_policy(doc, policy)

    def _put_policy(self, doc: Document, policy: CalicoPolicy) -> None:
        key = (policy.kind, policy.namespace, policy.name)
        if key in self.policies:
            self._duplicate(
                doc, f"{policy.kind} objects named {policy.ref}", self.policies[key].origin
            )
            return
        self.policies[key] = policy

    def _staged_k8s(self, doc: Document, group: str) -> None:
        from microseg.ingest.netpols import parse_network_policy

        raw = RawStagedKubernetesNetworkPolicy.model_validate(doc.data)
        action = raw.spec.stagedAction or "Set"
        namespace = raw.metadata.namespace or "default"
        origin = self._origin(doc, "StagedKubernetesNetworkPolicy", namespace, raw.metadata.name)
        k8s: NetworkPolicy | None = None
        if action == "Set":
            spec = {k: v for k, v in (doc.data.get("spec") or {}).items() if k != "stagedAction"}
            data = {**doc.data, "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}
            data["spec"] = spec
            twin = Document(data, doc.file, doc.index, doc.line, doc.node, doc.base_path, doc.tree)
            parsed = parse_network_policy(twin)
            if isinstance(parsed, list):
                self.diagnostics += [
                    Diagnostic(d.severity, "MS160", d.message, d.origin, d.field) for d in parsed
                ]
                return
            k8s = parsed
        policy = CalicoPolicy(
            kind="StagedKubernetesNetworkPolicy",
            name=raw.metadata.name,
            namespace=namespace,
            tier=DEFAULT_TIER,
            order=1000.0,
            selector=All(),
            types=k8s.policy_types if k8s is not None else frozenset(),
            staged_action=action,
            k8s=k8s,
            origin=origin,
        )
        self._put_policy(doc, policy)

    def _tier(self, doc: Document, group: str) -> None:
        raw = RawTier.model_validate(doc.data)
        name = raw.metadata.name
        origin = self._origin(doc, "Tier", "", name)
        if name in self.tiers:
            self._duplicate(doc, f"Tier objects named {name}", self.tiers[name].origin)
            return
        action = CalicoAction(raw.spec.defaultAction or "Deny")
        tier = TierSpec(name, _order(raw.spec.order), action, origin)
        builtin = BUILTIN_TIERS.get(name)
        if builtin is not None:
            if (tier.order, tier.default_action) != (builtin.order, builtin.default_action):
                self.diagnostics.append(
                    Diagnostic(
                        Severity.WARNING,
                        "MS169",
                        f"tier {name!r} is created by Calico with order {builtin.order:g} and "
                        f"defaultAction {builtin.default_action.value}, which are fixed; "
                        "those are used",
                        origin,
                        "spec",
                    )
                )
            tier = TierSpec(name, builtin.order, builtin.default_action, origin, builtin=True)
        self.tiers[name] = tier

    def _network_set(self, doc: Document, group: str) -> None:
        kind = str(doc.data["kind"])
        raw = RawNetworkSet.model_validate(doc.data)
        namespace = "" if kind == "GlobalNetworkSet" else (raw.metadata.namespace or "default")
        origin = self._origin(doc, kind, namespace, raw.metadata.name)
        if raw.spec.allowedEgressDomains:
            self.diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS170",
                    "allowedEgressDomains (Calico Enterprise) names domains, which a static "
                    "analysis cannot resolve: only the set's nets are matched",
                    origin,
                    "spec.allowedEgressDomains",
                )
            )
        item = NetworkSet(
            raw.metadata.name,
            namespace,
            FrozenLabels(raw.metadata.labels or {}),
            _nets(raw.spec.nets) or IPSet(),
            origin,
        )
        key = (namespace, item.name)
        if key in self.network_sets:
            self._duplicate(doc, f"{kind} objects named {item.ref}", self.network_sets[key].origin)
            return
        self.network_sets[key] = item

    def _host_endpoint(self, doc: Document, group: str) -> None:
        raw = RawHostEndpoint.model_validate(doc.data)
        origin = self._origin(doc, "HostEndpoint", "", raw.metadata.name)
        spec = raw.spec
        item = HostEndpoint(
            raw.metadata.name,
            spec.node,
            spec.interfaceName or "",
            tuple(spec.expectedIPs or ()),
            FrozenLabels(raw.metadata.labels or {}),
            tuple(spec.profiles or ()),
            _endpoint_ports(spec.ports),
            origin,
        )
        if item.name in self.host_endpoints:
            self._duplicate(
                doc,
                f"HostEndpoint objects named {item.name}",
                self.host_endpoints[item.name].origin,
            )
            return
        self.host_endpoints[item.name] = item

    def _workload_endpoint(self, doc: Document, group: str) -> None:
        """A WorkloadEndpoint (`calicoctl get workloadendpoints -o yaml`) is the pod it
        stands for: Calico's own labels are recomputed, the others are the pod's."""
        raw = RawWorkloadEndpoint.model_validate(doc.data)
        namespace = raw.metadata.namespace or "default"
        labels = dict(raw.metadata.labels or {})
        account = raw.spec.serviceAccountName or labels.get(LABEL_SERVICE_ACCOUNT) or "default"
        for key in (LABEL_NAMESPACE, LABEL_ORCHESTRATOR, LABEL_SERVICE_ACCOUNT):
            labels.pop(key, None)
        name = raw.spec.pod or raw.metadata.name
        ips = tuple(
            str(ipaddress.ip_network(n, strict=False).network_address)
            for n in raw.spec.ipNetworks or ()
        )
        origin = self._origin(doc, "WorkloadEndpoint", namespace, raw.metadata.name)
        self.workload_endpoints.append(
            Pod(
                namespace=namespace,
                name=name,
                labels=FrozenLabels(labels),
                workload=WorkloadKey(namespace, name, "Pod"),
                ports=_endpoint_ports(raw.spec.ports),
                ips=ips,
                service_account=account,
                origin=origin,
                profiles=tuple(raw.spec.profiles or ()),
            )
        )

    def _profile(self, doc: Document, group: str) -> None:
        raw = RawProfile.model_validate(doc.data)
        name = raw.metadata.name
        origin = self._origin(doc, "Profile", "", name)
        where = _Located(doc, origin, "")
        item = Profile(
            name,
            FrozenLabels(raw.spec.labelsToApply or {}),
            _rules(raw.spec.ingress, Direction.INGRESS, where),
            _rules(raw.spec.egress, Direction.EGRESS, where),
            origin,
        )
        self.diagnostics += where.notes
        if name in self.profiles:
            self._duplicate(doc, f"Profile objects named {name}", self.profiles[name].origin)
            return
        self.profiles[name] = item

    def _felix(self, doc: Document, group: str) -> None:
        raw = RawFelixConfiguration.model_validate(doc.data)
        if raw.metadata.name != "default":
            return  # per-node configurations (node.<name>) are not modelled
        spec = raw.spec

        def ports(items: list | None) -> tuple[FailsafePort, ...] | None:  # type: ignore[type-arg]
            if items is None:
                return None
            return tuple(FailsafePort(Protocol(p.protocol), p.port, p.net or "") for p in items)

        self.failsafe_inbound = ports(spec.failsafeInboundHostPorts)
        self.failsafe_outbound = ports(spec.failsafeOutboundHostPorts)

    def host_endpoint_pods(self) -> list[Pod]:
        """Each HostEndpoint as an endpoint of the cluster: no namespace, workload kind
        HostEndpoint, its expected addresses; policies treat it as they treat a host."""
        out = []
        for h in self.host_endpoints.values():
            out.append(
                Pod(
                    namespace="",
                    name=h.name,
                    labels=h.labels,
                    workload=WorkloadKey("", h.name, "HostEndpoint"),
                    ports=h.ports,
                    host_network=True,
                    ips=h.expected_ips,
                    host_ip=h.expected_ips[0] if h.expected_ips else "",
                    origin=h.origin,
                    profiles=h.profiles,
                )
            )
        return out

    def missing_tiers(self) -> list[Diagnostic]:
        out = []
        seen = set()
        for p in self.policies.values():
            if p.tier in self.tiers or p.tier in BUILTIN_TIERS or p.tier in seen:
                continue
            seen.add(p.tier)
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "MS168",
                    f"tier {p.tier!r} is not in the input: taken with no order (after every "
                    "ordered tier) and defaultAction Deny",
                    p.origin,
                    "spec.tier",
                )
            )
        return out

    def build(self) -> CalicoConfig:
        tiers = dict(self.tiers)
        for p in self.policies.values():
            if p.tier not in tiers:
                tiers[p.tier] = BUILTIN_TIERS.get(p.tier) or TierSpec(p.tier, None)
        base = CalicoConfig()
        return CalicoConfig(
            present=self.present,
            tiers=tuple(sorted(tiers.values(), key=lambda t: t.name)),
            policies=tuple(self.policies.values()),
            network_sets=tuple(self.network_sets.values()),
            host_endpoints=tuple(self.host_endpoints.values()),
            profiles=tuple(self.profiles.values()),
            failsafe_inbound=base.failsafe_inbound
            if self.failsafe_inbound is None
            else self.failsafe_inbound,
            failsafe_outbound=base.failsafe_outbound
            if self.failsafe_outbound is None
            else self.failsafe_outbound,
        )


def _endpoint_ports(raw: list[RawEndpointPort] | None) -> tuple[ContainerPort, ...]:
    out = []
    for p in raw or ():
        match = protocol_match(p.protocol)
        if match is None or match.protocol not in (
            Protocol.TCP,
            Protocol.UDP,
            Protocol.SCTP,
            Protocol.UDPLITE,
        ):
            continue
        out.append(ContainerPort(match.protocol, p.port, p.name))
    return tuple(out)
