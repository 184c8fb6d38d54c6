"""Pydantic models of the raw NetworkPolicy document, validated as the API server would.

Only the edge uses pydantic: a bad field comes back with its path
(`spec.ingress[0].from[1].ipBlock.cidr`) and a message that says what was expected.
Rules follow k8s.io/api networking/v1 and its apiserver validation.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from microseg.model.netpol import port_name_error
from microseg.model.selectors import label_key_error, label_value_error

__all__ = [
    "RawIPBlock",
    "RawLabelSelector",
    "RawMetadata",
    "RawNetworkPolicy",
    "RawPeer",
    "RawPort",
    "check_cidr",
    "check_port_name",
    "port_name_error",
]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


def check_cidr(value: str) -> str:
    """The value if it is a CIDR the API server accepts; else a ValueError that says why."""
    # Go's net.ParseCIDR, which the API server uses: address "/" decimal prefix length;
    # Python would also take a netmask (10.0.0.0/255.0.0.0) or a bare address.
    _, slash, prefix = value.strip().partition("/")
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"invalid CIDR {value!r}: expected an address/prefix such as 10.0.0.0/8"
        ) from None
    if not slash:
        raise ValueError(f"invalid CIDR {value!r}: a prefix length is required (e.g. {value}/32)")
    if not (prefix.isdigit() and prefix.isascii()):
        raise ValueError(
            f"invalid CIDR {value!r}: the prefix length must be a number such as /8, not a netmask"
        )
    return value


def check_port_name(value: str | None) -> str | None:
    """The value if absent or an IANA_SVC_NAME; else a ValueError that says why."""
    err = port_name_error(value) if value is not None else None
    if err:
        raise ValueError(err)
    return value


class RawRequirement(_Raw):
    key: StrictStr
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[StrictStr] | None = None

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        err = label_key_error(v)
        if err:
            raise ValueError(err)
        return v

    @model_validator(mode="after")
    def _values(self) -> RawRequirement:
        if self.operator in ("In", "NotIn"):
            if not self.values:
                raise ValueError(f"operator {self.operator} needs a non-empty 'values' list")
            for v in self.values:
                err = label_value_error(v)
                if err:
                    raise ValueError(err)
        elif self.values:
            raise ValueError(f"operator {self.operator} takes no 'values'")
        return self


class RawLabelSelector(_Raw):
    matchLabels: dict[StrictStr, StrictStr] | None = None
    matchExpressions: list[RawRequirement] | None = None

    @field_validator("matchLabels")
    @classmethod
    def _labels(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (v or {}).items():
            err = label_key_error(key) or label_value_error(value)
            if err:
                raise ValueError(err)
        return v


class RawIPBlock(_Raw):
    cidr: StrictStr
    except_: list[StrictStr] | None = Field(default=None, alias="except")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        return check_cidr(v)

    @model_validator(mode="after")
    def _excepts(self) -> RawIPBlock:
        outer = ipaddress.ip_network(self.cidr.strip(), strict=False)
        for e in self.except_ or []:
            check_cidr(e)
            inner = ipaddress.ip_network(e.strip(), strict=False)
            if inner.version != outer.version or not inner.subnet_of(outer):  # type: ignore[arg-type]
                raise ValueError(f"except {e!r} must be within cidr {self.cidr!r}")
        return self


class RawPeer(_Raw):
    podSelector: RawLabelSelector | None = None
    namespaceSelector: RawLabelSelector | None = None
    ipBlock: RawIPBlock | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RawPeer:
        if self.ipBlock is not None and (
            self.podSelector is not None or self.namespaceSelector is not None
        ):
            raise ValueError("a peer may set ipBlock or podSelector/namespaceSelector, not both")
        if self.ipBlock is None and self.podSelector is None and self.namespaceSelector is None:
            raise ValueError("empty peer: set podSelector, namespaceSelector or ipBlock")
        return self


class RawPort(_Raw):
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    # Strict: 80.0 or "80" is not a port number (the API server refuses both).
    port: StrictInt | StrictStr | None = None
    endPort: StrictInt | None = None

    @field_validator("port")
    @classmethod
    def _port(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and not 1 <= v <= 65535:
            raise ValueError(f"expected 1-65535, got {v}")
        if isinstance(v, str):
            check_port_name(v)
        return v

    @model_validator(mode="after")
    def _range(self) -> RawPort:
        if self.endPort is None:
            return self
        if not isinstance(self.port, int):
            raise ValueError("endPort needs a numeric port")
        if not 1 <= self.endPort <= 65535:
            raise ValueError(f"endPort: expected 1-65535, got {self.endPort}")
        if self.endPort < self.port:
            raise ValueError(f"endPort {self.endPort} is less than port {self.port}: empty range")
        return self


class RawIngressRule(_Raw):
    from_: list[RawPeer] | None = Field(default=None, alias="from")
    ports: list[RawPort] | None = None


class RawEgressRule(_Raw):
    to: list[RawPeer] | None = None
    ports: list[RawPort] | None = None

    @model_validator(mode="after")
    def _named_port_to_ip(self) -> RawEgressRule:
        named = [p.port for p in self.ports or [] if isinstance(p.port, str)]
        if named and any(peer.ipBlock is not None for peer in self.to or []):
            raise ValueError(
                f"named port {named[0]!r} with an ipBlock peer: addresses outside the cluster "
                "have no named ports, so this rule could never match them; use a port number"
            )
        return self


class RawNetworkPolicySpec(_Raw):
    podSelector: RawLabelSelector | None = None  # null or absent: {} (every pod)
    policyTypes: list[Literal["Ingress", "Egress"]] | None = None
    ingress: list[RawIngressRule] | None = None
    egress: list[RawEgressRule] | None = None


class RawMetadata(_Raw):
    name: StrictStr
    namespace: StrictStr | None = None
    labels: dict[StrictStr, StrictStr] | None = None


class RawNetworkPolicy(_Raw):
    metadata: RawMetadata
    spec: RawNetworkPolicySpec = RawNetworkPolicySpec()
