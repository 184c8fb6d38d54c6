"""Pydantic models of ClusterNetworkPolicy, policy.networking.k8s.io/v1alpha2
(kubernetes-sigs/network-policy-api, apis/v1alpha2 and its CRD): `tier` Admin|Baseline,
`priority` 0-1000, the AdminNetworkPolicy subject and peers, actions Accept|Deny|Pass,
at most 25 rules a direction and 25 peers a rule, and ports in the `protocols` form.
"""

from __future__ import annotations

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

from microseg.ingest.admin_schema import RawEgressPeer, RawIngressPeer, RawSubject
from microseg.ingest.k8s_schema import RawMetadata, check_port_name

__all__ = ["RawClusterNetworkPolicy", "RawProtocolPort"]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


class RawRange(_Raw):
    start: StrictInt = Field(ge=1, le=65535)
    end: StrictInt = Field(ge=1, le=65535)

    @model_validator(mode="after")
    def _order(self) -> RawRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is less than start {self.start}: empty range")
        return self


class RawDestinationPort(_Raw):
    number: StrictInt | None = Field(default=None, ge=1, le=65535)
    range: RawRange | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RawDestinationPort:
        if (self.number is None) == (self.range is None):
            raise ValueError("destinationPort must set exactly one of number, range")
        return self


class RawProtocolMatch(_Raw):
    destinationPort: RawDestinationPort | None = None  # absent: every port of the protocol


class RawProtocolPort(_Raw):
    tcp: RawProtocolMatch | None = None
    udp: RawProtocolMatch | None = None
    sctp: RawProtocolMatch | None = None
    destinationNamedPort: StrictStr | None = None

    @field_validator("destinationNamedPort")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return check_port_name(v)

    @model_validator(mode="after")
    def _exactly_one(self) -> RawProtocolPort:
        found = [
            k
            for k in ("tcp", "udp", "sctp", "destinationNamedPort")
            if getattr(self, k) is not None
        ]
        if len(found) != 1:
            raise ValueError(
                "each protocols entry must set exactly one of tcp, udp, sctp, destinationNamedPort; "
                f"found {', '.join(found) or 'none'}"
            )
        return self


class RawCNPIngressRule(_Raw):
    name: StrictStr = Field(default="", max_length=100)
    action: Literal["Accept", "Deny", "Pass"]
    from_: list[RawIngressPeer] = Field(alias="from", min_length=1, max_length=25)
    protocols: list[RawProtocolPort] | None = Field(default=None, min_length=1, max_length=25)


class RawCNPEgressRule(_Raw):
    name: StrictStr = Field(default="", max_length=100)
    action: Literal["Accept", "Deny", "Pass"]
    to: list[RawEgressPeer] = Field(min_length=1, max_length=25)
    protocols: list[RawProtocolPort] | None = Field(default=None, min_length=1, max_length=25)

    @model_validator(mode="after")
    def _named_ports_need_pods(self) -> RawCNPEgressRule:
        named = any(p.destinationNamedPort for p in self.protocols or [])
        outside = any(p.networks or p.nodes or p.domainNames for p in self.to)
        if named and outside:
            raise ValueError(
                "destinationNamedPort cannot be combined with networks, nodes or domainNames peers"
            )
        return self


class RawCNPSpec(_Raw):
    tier: Literal["Admin", "Baseline"]
    priority: StrictInt = Field(ge=0, le=1000)
    subject: RawSubject
    ingress: list[RawCNPIngressRule] | None = Field(default=None, max_length=25)
    egress: list[RawCNPEgressRule] | None = Field(default=None, max_length=25)


class RawClusterNetworkPolicy(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    metadata: RawMetadata
    spec: RawCNPSpec
