"""Pydantic models of AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1), with the
validation the CRDs declare (kubernetes-sigs/network-policy-api, apis/v1alpha1):
priority 0-1000, a subject of exactly one kind, rules with a name, an action and 1-100
peers of exactly one kind each, ports of exactly one form, at most 100 rules a direction.
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

from microseg.ingest.k8s_schema import RawLabelSelector, RawMetadata, check_cidr, check_port_name

__all__ = ["RawAdminNetworkPolicy", "RawBaselineAdminNetworkPolicy"]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)


def _one_of(model: BaseModel, what: str) -> BaseModel:
    set_fields = [name for name in type(model).model_fields if getattr(model, name) is not None]
    if len(set_fields) != 1:
        found = ", ".join(set_fields) or "none"
        raise ValueError(
            f"{what} must set exactly one of {', '.join(type(model).model_fields)}; found {found}"
        )
    return model


class RawPodsSelector(_Raw):
    # The CRD requires both; an absent one is read as the empty selector (everything),
    # as the Go types deserialise it and as netpol-analyzer does.
    namespaceSelector: RawLabelSelector = RawLabelSelector()
    podSelector: RawLabelSelector = RawLabelSelector()


class RawSubject(_Raw):
    namespaces: RawLabelSelector | None = None
    pods: RawPodsSelector | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RawSubject:
        _one_of(self, "subject")
        return self


class RawIngressPeer(_Raw):
    namespaces: RawLabelSelector | None = None
    pods: RawPodsSelector | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RawIngressPeer:
        _one_of(self, "peer")
        return self


class RawEgressPeer(_Raw):
    namespaces: RawLabelSelector | None = None
    pods: RawPodsSelector | None = None
    networks: list[StrictStr] | None = Field(default=None, min_length=1, max_length=25)
    nodes: RawLabelSelector | None = None
    domainNames: list[StrictStr] | None = Field(default=None, min_length=1, max_length=25)

    @field_validator("networks")
    @classmethod
    def _networks(cls, v: list[str] | None) -> list[str] | None:
        for cidr in v or []:
            check_cidr(cidr)
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> RawEgressPeer:
        _one_of(self, "peer")
        return self


class RawPortNumber(_Raw):
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    port: StrictInt = Field(ge=1, le=65535)


class RawPortRange(_Raw):
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    start: StrictInt = Field(ge=1, le=65535)
    end: StrictInt = Field(ge=1, le=65535)

    @model_validator(mode="after")
    def _order(self) -> RawPortRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is less than start {self.start}: empty range")
        return self


class RawAdminPort(_Raw):
    portNumber: RawPortNumber | None = None
    portRange: RawPortRange | None = None
    namedPort: StrictStr | None = None

    @field_validator("namedPort")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return check_port_name(v)

    @model_validator(mode="after")
    def _exactly_one(self) -> RawAdminPort:
        _one_of(self, "port")
        return self


class RawAdminIngressRule(_Raw):
    name: StrictStr = Field(default="", max_length=100)
    action: Literal["Allow", "Deny", "Pass"]
    from_: list[RawIngressPeer] = Field(alias="from", min_length=1, max_length=100)
    ports: list[RawAdminPort] | None = Field(default=None, min_length=1, max_length=100)


class RawAdminEgressRule(_Raw):
    name: StrictStr = Field(default="", max_length=100)
    action: Literal["Allow", "Deny", "Pass"]
    to: list[RawEgressPeer] = Field(min_length=1, max_length=100)
    ports: list[RawAdminPort] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _domain_names_allow_only(self) -> RawAdminEgressRule:
        if self.action != "Allow" and any(p.domainNames for p in self.to):
            raise ValueError("domainNames peers are allowed only in rules whose action is Allow")
        return self


class RawAdminSpec(_Raw):
    priority: StrictInt = Field(ge=0, le=1000)
    subject: RawSubject
    ingress: list[RawAdminIngressRule] | None = Field(default=None, max_length=100)
    egress: list[RawAdminEgressRule] | None = Field(default=None, max_length=100)


class RawAdminNetworkPolicy(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    metadata: RawMetadata
    spec: RawAdminSpec


class RawBaselineIngressRule(RawAdminIngressRule):
    action: Literal["Allow", "Deny"]


class RawBaselineEgressRule(RawAdminEgressRule):
    action: Literal["Allow", "Deny"]


class RawBaselineSpec(_Raw):
    subject: RawSubject
    ingress: list[RawBaselineIngressRule] | None = Field(default=None, max_length=100)
    egress: list[RawBaselineEgressRule] | None = Field(default=None, max_length=100)


class RawBaselineAdminNetworkPolicy(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    metadata: RawMetadata
    spec: RawBaselineSpec

    @field_validator("metadata")
    @classmethod
    def _singleton(cls, v: RawMetadata) -> RawMetadata:
        if v.name != "default":
            raise ValueError(
                f"the BaselineAdminNetworkPolicy is a singleton that must be named 'default', got {v.name!r}"
            )
        return v
