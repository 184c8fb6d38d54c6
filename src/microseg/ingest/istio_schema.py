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
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

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
    """Istio's API is protobuf, where an empty list is the same as an absent field; a
    source or operation with nothing set matches everything by accident, so Istio's
    validation (and network-config-analyzer, testcase3) rejects it."""
    if all(not getattr(model, name) for name in type(model).model_fields):
        raise ValueError(f"{what} cannot be empty: set at least one field to a non-empty list")


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
        # An empty selector is no selector (see ingest.istio._selector).
        if self.portLevelMtls and (self.selector is None or not self.selector.matchLabels):
            raise ValueError("portLevelMtls requires a workload selector")
        return self


class RawPeerAuthentication(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    metadata: RawMetadata
    spec: RawPeerAuthenticationSpec = RawPeerAuthenticationSpec()


class RawSource(_Closed):
    principals: Strings | None = None
    notPrincipals: Strings | None = None
    requestPrincipals: Strings | None = None
    notRequestPrincipals: Strings | None = None
    namespaces: Strings | None = None
    notNamespaces: Strings | None = None
    ipBlocks: Strings | None = None
    notIpBlocks: Strings | None = None
    remoteIpBlocks: Strings | None = None
    notRemoteIpBlocks: Strings | None = None
    serviceAccounts: Strings | None = None
    notServiceAccounts: Strings | None = None

    @model_validator(mode="after")
    def _check(self) -> RawSource:
        _nonempty(self, "from.source")
        for name in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
            for value in getattr(self, name) or ():
                # Istio accepts a bare address as a /32 (or /128) block.
                check_cidr(value if "/" in value else value + ("/128" if ":" in value else "/32"))
        # istio.io AuthorizationPolicy reference (Source.serviceAccounts): `<ns>/<sa>`, or
        # `<sa>` alone for the policy's namespace; no wildcard; never with principals or
        # namespaces (the CRD's validation rule).
        accounts = (self.serviceAccounts or []) + (self.notServiceAccounts or [])
        for value in accounts:
            if value.count("/") > 1 or "*" in value or not value.strip("/"):
                raise ValueError(
                    f"service account {value!r}: expected <namespace>/<name> or <name>, no wildcard"
                )
        if accounts and (
            self.principals or self.notPrincipals or self.namespaces or self.notNamespaces
        ):
            raise ValueError("serviceAccounts cannot be set with principals or namespaces")
        return self


class RawFrom(_Closed):
    source: RawSource


class RawOperation(_Closed):
    hosts: Strings | None = None
    notHosts: Strings | None = None
    ports: list[StrictStr | StrictInt] | None = None
    notPorts: list[StrictStr | StrictInt] | None = None
    methods: Strings | None = None
    notMethods: Strings | None = None
    paths: Strings | None = None
    notPaths: Strings | None = None

    @model_validator(mode="after")
    def _check(self) -> RawOperation:
        _nonempty(self, "to.operation")
        for value in (self.ports or []) + (self.notPorts or []):
            _port_number(value)
        return self


class RawTo(_Closed):
    operation: RawOperation


# istio.io "Authorization Policy Conditions" (reference/config/security/conditions): the
# supported `when` keys. Istio's validation rejects any other key, so a typo is an error
# here too rather than a condition that silently never matches.
_CONDITION_KEYS = (
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.principal",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "destination.ip",
    "destination.port",
    "connection.sni",
)


def _known_condition_key(key: str) -> bool:
    if key in _CONDITION_KEYS or key.startswith("experimental.envoy.filters."):
        return True
    for prefix in ("request.headers[", "request.auth.claims["):
        if key.startswith(prefix) and key.endswith("]") and len(key) > len(prefix) + 1:
            return True
    return False


class RawCondition(_Closed):
    key: StrictStr = Field(min_length=1)
    values: Strings | None = None
    notValues: Strings | None = None

    @model_validator(mode="after")
    def _check(self) -> RawCondition:
        if not self.values and not self.notValues:
            raise ValueError(f"condition {self.key!r}: set values or notValues (non-empty)")
        if not _known_condition_key(self.key):
            raise ValueError(
                f"condition key {self.key!r} is not one Istio supports; expected one of "
                + ", ".join(_CONDITION_KEYS)
                + ", request.headers[NAME], request.auth.claims[NAME], experimental.envoy.filters.*"
            )
        # istio.io "Authorization Policy Conditions": address keys take IPs or CIDRs and
        # destination.port takes port numbers.
        for value in (self.values or []) + (self.notValues or []):
            if self.key in ("source.ip", "remote.ip", "destination.ip"):
                check_cidr(value if "/" in value else value + ("/128" if ":" in value else "/32"))
            elif self.key == "destination.port":
                _port_number(value)
        return self


class RawRule(_Closed):
    from_: list[RawFrom] | None = Field(None, alias="from", min_length=1)
    to: list[RawTo] | None = Field(None, min_length=1)
    when: list[RawCondition] | None = None  # `when: []` is valid (NCA testcase3)


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
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    metadata: RawMetadata
    spec: RawAuthorizationPolicySpec = RawAuthorizationPolicySpec()
