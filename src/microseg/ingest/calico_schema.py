"""Pydantic models of Calico's projectcalico.org/v3 resources, validated as Calico's API
validator would (libcalico-go lib/validator/v3 and the resource reference pages,
docs.tigera.io/calico/latest/reference/resources/): unknown fields are errors, so a
misspelt `notSelctor` is reported rather than silently widening a rule.

Selectors are parsed here (model/calico_selector.py): an invalid one is an error at its
field naming the character where it fails (code MS161, set by ingest/calico.py).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from microseg.ingest.k8s_schema import RawMetadata, RawNetworkPolicySpec
from microseg.model.calico_selector import parse_selector
from microseg.model.selectors import label_key_error, label_value_error

__all__ = [
    "PORT_PROTOCOLS",
    "PROTOCOL_NAMES",
    "SELECTOR_MARK",
    "RawCalicoPolicy",
    "RawEndpointPort",
    "RawEntityRule",
    "RawFelixConfiguration",
    "RawHostEndpoint",
    "RawNetworkSet",
    "RawProfile",
    "RawRule",
    "RawStagedKubernetesNetworkPolicy",
    "RawTier",
    "RawWorkloadEndpoint",
    "check_net",
]

# A selector error's message starts with this mark, so that the reader can give it its
# own code (MS161) whatever resource it sits in.
SELECTOR_MARK = "invalid selector "

PROTOCOL_NAMES = ("TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite")
# Protocols whose rules may name ports (Calico validator: "ports can only be used with
# TCP, UDP, SCTP or UDPLite"), by name and by number.
PORT_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP", "UDPLite", 6, 17, 132, 136})
_ICMP_PROTOCOLS = frozenset({"ICMP", "ICMPv6", 1, 58})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def check_selector(value: str | None) -> str | None:
    if value is not None:
        parse_selector(value)  # SelectorSyntaxError is a ValueError: pydantic reports it
    return value


def check_net(value: str) -> str:
    """A CIDR or a single address (Calico's ParseCIDROrIP takes both)."""
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"invalid network {value!r}: expected a CIDR such as 10.0.0.0/8 or an address"
        ) from None
    return value


def _labels(v: dict[str, str] | None) -> dict[str, str] | None:
    for key, value in (v or {}).items():
        err = label_key_error(key) or label_value_error(value)
        if err:
            raise ValueError(err)
    return v


def _protocol(v: str | int | None) -> str | int | None:
    if v is None:
        return None
    if isinstance(v, str) and v.isascii() and v.isdigit():
        v = int(v)
    if isinstance(v, int):
        if not 1 <= v <= 255:
            raise ValueError(f"protocol number must be 1-255, got {v}")
        return v
    if v not in PROTOCOL_NAMES:
        raise ValueError(
            f"invalid protocol {v!r}: expected one of {', '.join(PROTOCOL_NAMES)} or a number 1-255"
        )
    return v


_RANGE = re.compile(r"^(\d+):(\d+)$")
_PORT_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$")


def _port(v: int | str) -> int | str:
    if isinstance(v, int):
        if not 0 <= v <= 65535:
            raise ValueError(f"port must be 0-65535, got {v}")
        return v
    m = _RANGE.match(v.strip())
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if not (0 <= lo <= hi <= 65535):
            raise ValueError(
                f"invalid port range {v!r}: expected start:end with 0 <= start <= end <= 65535"
            )
        return v
    if v.isascii() and v.isdigit():
        return _port(int(v))
    if not _PORT_NAME.match(v) or len(v) > 63:
        raise ValueError(f"invalid port {v!r}: expected a number, a range start:end or a port name")
    return v


class RawIcmp(_Strict):
    type: StrictInt | None = Field(default=None, ge=0, le=254)
    code: StrictInt | None = Field(default=None, ge=0, le=255)

    @model_validator(mode="after")
    def _code_needs_type(self) -> RawIcmp:
        if self.code is not None and self.type is None:
            raise ValueError("an ICMP code needs a type")
        return self


class RawServiceAccountMatch(_Strict):
    names: list[StrictStr] | None = None
    selector: StrictStr | None = None

    @field_validator("selector")
    @classmethod
    def _sel(cls, v: str | None) -> str | None:
        return check_selector(v)


class RawServiceMatch(_Strict):
    name: StrictStr
    namespace: StrictStr | None = None


class RawEntityRule(_Strict):
    nets: list[StrictStr] | None = None
    notNets: list[StrictStr] | None = None
    selector: StrictStr | None = None
    notSelector: StrictStr | None = None
    namespaceSelector: StrictStr | None = None
    ports: list[StrictInt | StrictStr] | None = None
    notPorts: list[StrictInt | StrictStr] | None = None
    serviceAccounts: RawServiceAccountMatch | None = None
    services: RawServiceMatch | None = None

    @field_validator("nets", "notNets")
    @classmethod
    def _nets(cls, v: list[str] | None) -> list[str] | None:
        for net in v or []:
            check_net(net)
        return v

    @field_validator("selector", "notSelector", "namespaceSelector")
    @classmethod
    def _selectors(cls, v: str | None) -> str | None:
        return check_selector(v)

    @field_validator("ports", "notPorts")
    @classmethod
    def _ports(cls, v: list[int | str] | None) -> list[int | str] | None:
        return None if v is None else [_port(p) for p in v]

    @property
    def has_ports(self) -> bool:
        return bool(self.ports or self.notPorts)


class RawHttpPath(_Strict):
    exact: StrictStr | None = None
    prefix: StrictStr | None = None

    @model_validator(mode="after")
    def _one(self) -> RawHttpPath:
        if (self.exact is None) == (self.prefix is None):
            raise ValueError("an HTTP path sets exactly one of exact, prefix")
        return self


class RawHttp(_Strict):
    methods: list[StrictStr] | None = None
    paths: list[RawHttpPath] | None = None


class RawRuleMetadata(_Loose):
    annotations: dict[StrictStr, StrictStr] | None = None


class RawRule(_Strict):
    action: Literal["Allow", "Deny", "Log", "Pass"]
    protocol: StrictStr | StrictInt | None = None
    notProtocol: StrictStr | StrictInt | None = None
    icmp: RawIcmp | None = None
    notICMP: RawIcmp | None = None
    ipVersion: Literal[4, 6] | None = None
    source: RawEntityRule = RawEntityRule()
    destination: RawEntityRule = RawEntityRule()
    http: RawHttp | None = None
    metadata: RawRuleMetadata | None = None

    @field_validator("protocol", "notProtocol")
    @classmethod
    def _protocols(cls, v: str | int | None) -> str | int | None:
        return _protocol(v)

    @model_validator(mode="after")
    def _consistent(self) -> RawRule:
        if (self.source.has_ports or self.destination.has_ports) and (
            self.protocol not in PORT_PROTOCOLS
        ):
            raise ValueError(
                "ports and notPorts need protocol TCP, UDP, SCTP or UDPLite "
                f"(got {self.protocol if self.protocol is not None else 'no protocol'})"
            )
        if (self.icmp or self.notICMP) and self.protocol not in _ICMP_PROTOCOLS:
            raise ValueError("icmp and notICMP need protocol ICMP or ICMPv6")
        if self.http is not None and self.action != "Allow":
            raise ValueError("a rule with an http match must have action Allow")
        for side, where in ((self.source, "source"), (self.destination, "destination")):
            if side.services is not None:
                others = [
                    name
                    for name in ("nets", "notNets", "selector", "notSelector", "namespaceSelector")
                    if getattr(side, name) is not None
                ] + (["serviceAccounts"] if side.serviceAccounts is not None else [])
                if where == "destination":
                    others += [n for n in ("ports", "notPorts") if getattr(side, n) is not None]
                if others:
                    raise ValueError(
                        f"{where}.services cannot be combined with {', '.join(others)}"
                    )
        return self


_Order = StrictInt | StrictFloat


class RawPolicySpec(_Strict):
    tier: StrictStr | None = None
    order: _Order | None = None
    selector: StrictStr | None = None
    serviceAccountSelector: StrictStr | None = None
    types: list[Literal["Ingress", "Egress"]] | None = None
    ingress: list[RawRule] | None = None
    egress: list[RawRule] | None = None
    performanceHints: list[Literal["AssumeNeededOnEveryNode"]] | None = None
    stagedAction: Literal["Set", "Delete"] | None = None

    @field_validator("selector", "serviceAccountSelector")
    @classmethod
    def _selectors(cls, v: str | None) -> str | None:
        return check_selector(v)


class RawGlobalPolicySpec(RawPolicySpec):
    namespaceSelector: StrictStr | None = None
    doNotTrack: StrictBool | None = None
    preDNAT: StrictBool | None = None
    applyOnForward: StrictBool | None = None

    @field_validator("namespaceSelector")
    @classmethod
    def _ns(cls, v: str | None) -> str | None:
        return check_selector(v)

    @model_validator(mode="after")
    def _host_flags(self) -> RawGlobalPolicySpec:
        # GlobalNetworkPolicy reference: only one of doNotTrack and preDNAT; both need
        # applyOnForward; a pre-DNAT policy has ingress rules only.
        if self.doNotTrack and self.preDNAT:
            raise ValueError("doNotTrack and preDNAT cannot both be true")
        if (self.doNotTrack or self.preDNAT) and not self.applyOnForward:
            raise ValueError("doNotTrack and preDNAT need applyOnForward: true")
        if self.preDNAT and (self.egress or (self.types and "Egress" in self.types)):
            raise ValueError("a preDNAT policy applies to ingress only: no egress rules or type")
        return self


class RawCalicoMetadata(_Loose):
    name: StrictStr
    namespace: StrictStr | None = None
    labels: dict[StrictStr, StrictStr] | None = None

    @field_validator("labels")
    @classmethod
    def _l(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        return _labels(v)


class RawCalicoPolicy(_Loose):
    metadata: RawCalicoMetadata
    spec: RawPolicySpec = RawPolicySpec()


class RawCalicoGlobalPolicy(_Loose):
    metadata: RawCalicoMetadata
    spec: RawGlobalPolicySpec = RawGlobalPolicySpec()


class RawStagedKubernetesSpec(RawNetworkPolicySpec):
    stagedAction: Literal["Set", "Delete"] | None = None


class RawStagedKubernetesNetworkPolicy(_Loose):
    metadata: RawMetadata
    spec: RawStagedKubernetesSpec = RawStagedKubernetesSpec()


class RawTierSpec(_Strict):
    order: _Order | None = None
    defaultAction: Literal["Deny", "Pass"] | None = None


class RawTier(_Loose):
    metadata: RawCalicoMetadata
    spec: RawTierSpec = RawTierSpec()


class RawNetworkSetSpec(_Strict):
    nets: list[StrictStr] | None = None
    allowedEgressDomains: list[StrictStr] | None = None

    @field_validator("nets")
    @classmethod
    def _nets(cls, v: list[str] | None) -> list[str] | None:
        for net in v or []:
            check_net(net)
        return v


class RawNetworkSet(_Loose):
    metadata: RawCalicoMetadata
    spec: RawNetworkSetSpec = RawNetworkSetSpec()


class RawEndpointPort(_Strict):
    name: StrictStr
    port: StrictInt = Field(ge=1, le=65535)
    protocol: StrictStr | StrictInt = "TCP"
    hostPort: StrictInt | None = None
    hostIP: StrictStr | None = None

    @field_validator("protocol")
    @classmethod
    def _p(cls, v: str | int) -> str | int | None:
        return _protocol(v)


class RawHostEndpointSpec(_Strict):
    node: StrictStr
    interfaceName: StrictStr | None = None
    expectedIPs: list[StrictStr] | None = None
    profiles: list[StrictStr] | None = None
    ports: list[RawEndpointPort] | None = None

    @field_validator("expectedIPs")
    @classmethod
    def _ips(cls, v: list[str] | None) -> list[str] | None:
        for ip in v or []:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"expected an IP address, got {ip!r}") from None
        return v

    @model_validator(mode="after")
    def _interface_or_ips(self) -> RawHostEndpointSpec:
        # HostEndpoint reference: interfaceName or expectedIPs must be given.
        if not self.interfaceName and not self.expectedIPs:
            raise ValueError("a HostEndpoint needs interfaceName or expectedIPs")
        return self


class RawHostEndpoint(_Loose):
    metadata: RawCalicoMetadata
    spec: RawHostEndpointSpec


class RawWorkloadEndpointSpec(_Loose):
    orchestrator: StrictStr | None = None
    workload: StrictStr | None = None
    node: StrictStr | None = None
    pod: StrictStr | None = None
    endpoint: StrictStr | None = None
    serviceAccountName: StrictStr | None = None
    ipNetworks: list[StrictStr] | None = None
    profiles: list[StrictStr] | None = None
    ports: list[RawEndpointPort] | None = None
    interfaceName: StrictStr | None = None

    @field_validator("ipNetworks")
    @classmethod
    def _nets(cls, v: list[str] | None) -> list[str] | None:
        for net in v or []:
            check_net(net)
        return v


class RawWorkloadEndpoint(_Loose):
    metadata: RawCalicoMetadata
    spec: RawWorkloadEndpointSpec = RawWorkloadEndpointSpec()


class RawProfileSpec(_Strict):
    ingress: list[RawRule] | None = None
    egress: list[RawRule] | None = None
    labelsToApply: dict[StrictStr, StrictStr] | None = None

    @field_validator("labelsToApply")
    @classmethod
    def _l(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        return _labels(v)


class RawProfile(_Loose):
    metadata: RawCalicoMetadata
    spec: RawProfileSpec = RawProfileSpec()


class RawFailsafePort(_Strict):
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    port: StrictInt = Field(ge=0, le=65535)
    net: StrictStr | None = None

    @field_validator("net")
    @classmethod
    def _net(cls, v: str | None) -> str | None:
        return None if v is None else check_net(v)


class RawFelixSpec(_Loose):
    failsafeInboundHostPorts: list[RawFailsafePort] | None = None
    failsafeOutboundHostPorts: list[RawFailsafePort] | None = None


class RawFelixConfiguration(_Loose):
    metadata: RawCalicoMetadata
    spec: RawFelixSpec = RawFelixSpec()
