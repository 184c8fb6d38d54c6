"""Pydantic models of Istio's security.istio.io v1/v1beta1 PeerAuthentication and
AuthorizationPolicy specs, with the validation istio.io's reference and istioctl apply.

The specs are closed APIs, so unknown fields are errors (`extra="forbid"`); metadata is
Kubernetes' and stays open. An explicit `null` where a value is expected is an error, as
the Istio validation webhook (and network-config-analyzer's istio_testcases/testcase3)
reject it, rather than being read as "absent".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from microseg.ingest.k8s_schema import RawMetadata, check_cidr

__all__ = ["RawAuthorizationPolicy", "RawPeerAuthentication"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fields = cls.model_fields
            names = set(fields) | {f.alias for f in fields.values() if f.alias}
            for key, value in data.items():
                if value is None and key in names:
                    raise ValueError(f"{key}: expected a value, got null")
        return data


def _nonempty(model: BaseModel, what: str) -> None:
    if all(getattr(model, name) is None for name in type(model).model_fields):
        raise ValueError(f"{what} cannot be empty: set at least one field")


Mode = Literal["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]
Strings = list[StrictStr]


class RawWorkloadSelector(_Closed):
    matchLabels: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class RawMtls(_Closed):
    mode: Mode = "UNSET"


def _port_number(value: object) -> int:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"expected a port number 1-65535, got {value!r}")
    return int(text)


class RawPeerAuthenticationSpec(_Closed):
    selector: RawWorkloadSelector | None = None
    mtls: RawMtls | None = None
    portLevelMtls: dict[StrictInt | StrictStr, RawMtls] | None = None

    @model_validator(mode="after")
    def _ports(self) -> RawPeerAuthenticationSpec:
        for key in self.portLevelMtls or {}:
            _port_number(key)
        # Istio's validation: "portLevelMtls requires selector" (pkg/config/validation).
        if self.portLevelMtls and self.selector is None:
            raise ValueError("portLevelMtls requires a workload selector")
        return self


class RawPeerAuthentication(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    metadata: RawMetadata
    spec: RawPeerAuthenticationSpec = RawPeerAuthenticationSpec()


class RawSource(_Closed):
    principals: Strings | None = Field(None, min_length=1)
    notPrincipals: Strings | None = Field(None, min_length=1)
    requestPrincipals: Strings | None = Field(None, min_length=1)
    notRequestPrincipals: Strings | None = Field(None, min_length=1)
    namespaces: Strings | None = None
    notNamespaces: Strings | None = None
    ipBlocks: Strings | None = Field(None, min_length=1)
    notIpBlocks: Strings | None = Field(None, min_length=1)
    remoteIpBlocks: Strings | None = Field(None, min_length=1)
    notRemoteIpBlocks: Strings | None = Field(None, min_length=1)
    serviceAccounts: Strings | None = Field(None, min_length=1)
    notServiceAccounts: Strings | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RawSource:
        _nonempty(self, "from.source")
        for name in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
            for value in getattr(self, name) or ():
                # Istio accepts a bare address as a /32 (or /128) block.
                check_cidr(value if "/" in value else value + ("/128" if ":" in value else "/32"))
        for value in (self.serviceAccounts or []) + (self.notServiceAccounts or []):
            if value.count("/") != 1:
                raise ValueError(f"service account {value!r}: expected ns/name")
        return self


class RawFrom(_Closed):
    source: RawSource


class RawOperation(_Closed):
    hosts: Strings | None = Field(None, min_length=1)
    notHosts: Strings | None = Field(None, min_length=1)
    ports: list[StrictStr | StrictInt] | None = Field(None, min_length=1)
    notPorts: list[StrictStr | StrictInt] | None = Field(None, min_length=1)
    methods: Strings | None = Field(None, min_length=1)
    notMethods: Strings | None = Field(None, min_length=1)
    paths: Strings | None = Field(None, min_length=1)
    notPaths: Strings | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RawOperation:
        _nonempty(self, "to.operation")
        for value in (self.ports or []) + (self.notPorts or []):
            _port_number(value)
        return self


class RawTo(_Closed):
    operation: RawOperation


class RawCondition(_Closed):
    key: StrictStr = Field(min_length=1)
    values: Strings | None = None
    notValues: Strings | None = None

    @model_validator(mode="after")
    def _check(self) -> RawCondition:
        if not self.values and not self.notValues:
            raise ValueError(f"condition {self.key!r}: set values or notValues (non-empty)")
        return self


class RawRule(_Closed):
    from_: list[RawFrom] | None = Field(None, alias="from", min_length=1)
    to: list[RawTo] | None = Field(None, min_length=1)
    when: list[RawCondition] | None = Field(None, min_length=1)


class RawTargetRef(_Closed):
    group: StrictStr = ""
    kind: StrictStr
    name: StrictStr
    namespace: StrictStr = ""


class RawProvider(_Closed):
    name: StrictStr


class RawAuthorizationPolicySpec(_Closed):
    selector: RawWorkloadSelector | None = None
    targetRef: RawTargetRef | None = None
    targetRefs: list[RawTargetRef] | None = None
    rules: list[RawRule] | None = None
    action: Literal["ALLOW", "DENY", "AUDIT", "CUSTOM"] = "ALLOW"
    provider: RawProvider | None = None

    @model_validator(mode="after")
    def _check(self) -> RawAuthorizationPolicySpec:
        # istio.io reference: selector, targetRef and targetRefs are mutually exclusive;
        # CUSTOM needs a provider and only CUSTOM may name one.
        chosen = [n for n in ("selector", "targetRef", "targetRefs") if getattr(self, n)]
        if len(chosen) > 1:
            raise ValueError(f"set only one of selector, targetRef, targetRefs; found {chosen}")
        if self.action == "CUSTOM" and self.provider is None:
            raise ValueError("a CUSTOM policy needs a provider")
        if self.action != "CUSTOM" and self.provider is not None:
            raise ValueError(f"provider is only allowed with action CUSTOM, not {self.action}")
        if self.action in ("DENY", "AUDIT") and not self.rules:
            # A DENY/AUDIT policy without rules never matches anything: a mistake, which
            # network-config-analyzer rejects as meaningless (istio_testcases/testcase3).
            raise ValueError(f"a {self.action} policy without rules never matches; add rules")
        return self


class RawAuthorizationPolicy(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    metadata: RawMetadata
    spec: RawAuthorizationPolicySpec = RawAuthorizationPolicySpec()
