"""Pydantic models of Linkerd's policy.linkerd.io documents and of the HTTPRoute/GRPCRoute
fields the inbound policy reads, validated as Linkerd's CRDs and its policy admission
controller do (linkerd2 charts/linkerd-crds, policy-controller/runtime/src/admission.rs).

Specs are open (`extra="ignore"`): Linkerd adds fields over releases (rate limits,
timeouts, filters) that do not change who may connect. What is checked is what the
authorization depends on, so that a bad value is a located error (MS190) rather than a
policy silently read another way.
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
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from microseg.ingest.k8s_schema import RawLabelSelector, RawMetadata, check_cidr, check_port_name
from microseg.model.linkerd import DefaultPolicy, ProxyProtocol

__all__ = [
    "RawAuthorizationPolicy",
    "RawMeshTLSAuthentication",
    "RawNetworkAuthentication",
    "RawRoute",
    "RawServer",
    "RawServerAuthorization",
    "canonical_group",
    "is_kind",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def canonical_group(group: str | None) -> str:
    """linkerd2 policy-controller/k8s/api/src/policy.rs `targets_kind`: an empty or absent
    group is the core group; groups and kinds compare case-insensitively."""
    return (group or "core").lower() or "core"


def is_kind(group: str | None, kind: str | None, want_group: str, want_kind: str) -> bool:
    return (
        kind is not None
        and canonical_group(group) == want_group
        and kind.lower() == want_kind.lower()
    )


LINKERD = "policy.linkerd.io"
GATEWAY = "gateway.networking.k8s.io"
# policy-controller/runtime/src/validation.rs: an identity is a SPIFFE ID or DNS-like.
_DNS_LIKE = re.compile(r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TD_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-._")
_PATH_CHARS = _TD_CHARS | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def check_identity(value: str) -> str:
    """validation.rs `validate_identity`: a SPIFFE ID (trust domain characters, path
    segments neither empty nor dots, no trailing slash) or a DNS-like name with an
    optional leading `*` label."""
    if value.startswith("spiffe://"):
        rest = value[len("spiffe://") :]
        domain, slash, path = rest.partition("/")
        if not domain:
            raise ValueError(f"identity {value!r}: the SPIFFE trust domain is missing")
        if not set(domain) <= _TD_CHARS:
            raise ValueError(f"identity {value!r}: invalid characters in the trust domain")
        if slash:
            segments = path.split("/")
            for seg in segments:
                if seg in ("", ".", ".."):
                    raise ValueError(f"identity {value!r}: empty, dot or trailing path segment")
                if not set(seg) <= _PATH_CHARS:
                    raise ValueError(f"identity {value!r}: invalid characters in the path")
        return value
    if not _DNS_LIKE.match(value):
        raise ValueError(
            f"identity {value!r}: expected a SPIFFE ID or a DNS-like name such as "
            "web.shop.serviceaccount.identity.linkerd.cluster.local, `*.shop.serviceaccount...` or `*`"
        )
    return value


class RawNetwork(_Open):
    cidr: StrictStr
    except_: list[StrictStr] | None = Field(default=None, alias="except")

    @model_validator(mode="after")
    def _check(self) -> RawNetwork:
        check_cidr(self.cidr)
        outer = ipaddress.ip_network(self.cidr.strip(), strict=False)
        for e in self.except_ or []:
            check_cidr(e)
            inner = ipaddress.ip_network(e.strip(), strict=False)
            # admission.rs validate_networks
            if inner.version != outer.version or not inner.subnet_of(outer):  # type: ignore[arg-type]
                raise ValueError(f"cidr {self.cidr!r} does not include exception {e!r}")
            if outer.subnet_of(inner):  # type: ignore[arg-type]
                raise ValueError(f"cidr {self.cidr!r} is completely negated by exception {e!r}")
        return self


# -- Server ------------------------------------------------------------------------------


class RawServerSpec(_Open):
    podSelector: RawLabelSelector | None = None
    externalWorkloadSelector: RawLabelSelector | None = None
    port: StrictInt | StrictStr
    proxyProtocol: StrictStr | None = None
    accessPolicy: StrictStr | None = None

    @model_validator(mode="after")
    def _check(self) -> RawServerSpec:
        chosen = [
            n for n in ("podSelector", "externalWorkloadSelector") if getattr(self, n) is not None
        ]
        if len(chosen) != 1:
            raise ValueError("set exactly one of podSelector and externalWorkloadSelector")
        return self

    # Field validators, so that an error is located at its field's line.
    @field_validator("port")
    @classmethod
    def _port(cls, port: int | str) -> int | str:
        if isinstance(port, int) and not 1 <= port <= 65535:
            raise ValueError(f"expected 1-65535, got {port}")
        if isinstance(port, str):
            check_port_name(port)
        return port

    @field_validator("proxyProtocol")
    @classmethod
    def _protocol(cls, value: str | None) -> str | None:
        allowed = [p.value for p in ProxyProtocol]
        if value is not None and value not in allowed:
            raise ValueError(f"{value!r}: expected one of {', '.join(allowed)}")
        return value

    @field_validator("accessPolicy")
    @classmethod
    def _access(cls, value: str | None) -> str | None:
        allowed = [p.value for p in DefaultPolicy]
        if value is not None and value not in allowed:
            raise ValueError(f"{value!r}: expected one of {', '.join(allowed)}")
        return value


class RawServer(_Open):
    metadata: RawMetadata
    spec: RawServerSpec


# -- ServerAuthorization -----------------------------------------------------------------


class RawServerRef(_Open):
    name: StrictStr | None = None
    selector: RawLabelSelector | None = None

    @model_validator(mode="after")
    def _one(self) -> RawServerRef:
        if (self.name is None) == (self.selector is None):
            raise ValueError("server: set exactly one of name and selector")
        return self


class RawAccountRef(_Open):
    name: StrictStr
    namespace: StrictStr | None = None


class RawMeshTLS(_Open):
    unauthenticatedTLS: StrictBool = False
    identities: list[StrictStr] | None = None
    serviceAccounts: list[RawAccountRef] | None = None

    @model_validator(mode="after")
    def _check(self) -> RawMeshTLS:
        if self.unauthenticatedTLS and (self.identities or self.serviceAccounts):
            raise ValueError(
                "unauthenticatedTLS must be false when identities or serviceAccounts are set"
            )
        for value in self.identities or []:
            check_identity(value)
        return self


class RawClient(_Open):
    meshTLS: RawMeshTLS | None = None
    unauthenticated: StrictBool = False
    networks: list[RawNetwork] | None = None

    @model_validator(mode="after")
    def _check(self) -> RawClient:
        if self.meshTLS is not None and self.unauthenticated:
            raise ValueError("unauthenticated must be false when meshTLS is set")
        if self.meshTLS is None and not self.unauthenticated:
            raise ValueError("client: set meshTLS or unauthenticated: true")
        return self


class RawServerAuthorizationSpec(_Open):
    server: RawServerRef
    client: RawClient


class RawServerAuthorization(_Open):
    metadata: RawMetadata
    spec: RawServerAuthorizationSpec


# -- AuthorizationPolicy and the authentications -----------------------------------------


class RawRef(_Open):
    group: StrictStr | None = None
    kind: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    namespace: StrictStr | None = None


_TARGETS = (
    (LINKERD, "Server"),
    (LINKERD, "HTTPRoute"),
    (GATEWAY, "HTTPRoute"),
    (GATEWAY, "GRPCRoute"),
    ("core", "Namespace"),
)
_AUTHNS = (
    (LINKERD, "MeshTLSAuthentication"),
    (LINKERD, "NetworkAuthentication"),
    ("core", "ServiceAccount"),
)


class RawAuthorizationPolicySpec(_Open):
    targetRef: RawRef
    requiredAuthenticationRefs: list[RawRef]

    @model_validator(mode="after")
    def _check(self) -> RawAuthorizationPolicySpec:
        t = self.targetRef
        if not any(is_kind(t.group, t.kind, g, k) for g, k in _TARGETS):
            raise ValueError(
                f"targetRef {t.group or 'core'}/{t.kind}: unsupported authorization target; "
                "expected a policy.linkerd.io Server or HTTPRoute, a gateway.networking.k8s.io "
                "HTTPRoute or GRPCRoute, or the Namespace"
            )
        counts = {k: 0 for _, k in _AUTHNS}
        for ref in self.requiredAuthenticationRefs:
            kind = next((k for g, k in _AUTHNS if is_kind(ref.group, ref.kind, g, k)), None)
            if kind is None:
                raise ValueError(
                    f"unsupported authentication kind {ref.group or 'core'}/{ref.kind}: expected "
                    "MeshTLSAuthentication or NetworkAuthentication (policy.linkerd.io) or "
                    "ServiceAccount"
                )
            counts[kind] += 1
        # policy-controller/runtime/src/admission.rs
        if counts["MeshTLSAuthentication"] > 1:
            raise ValueError("only a single MeshTLSAuthentication may be set")
        if counts["ServiceAccount"] > 1:
            raise ValueError("only a single ServiceAccount may be set")
        if counts["MeshTLSAuthentication"] and counts["ServiceAccount"]:
            raise ValueError("a MeshTLSAuthentication and a ServiceAccount may not be set together")
        if counts["NetworkAuthentication"] > 1:
            raise ValueError("only a single NetworkAuthentication may be set")
        return self


class RawAuthorizationPolicy(_Open):
    metadata: RawMetadata
    spec: RawAuthorizationPolicySpec

    @model_validator(mode="after")
    def _namespace(self) -> RawAuthorizationPolicy:
        t = self.spec.targetRef
        ns = self.metadata.namespace or "default"
        if is_kind(t.group, t.kind, "core", "Namespace") and t.name != ns:
            raise ValueError(f"cannot target another namespace: {t.name}")
        return self


class RawMeshTLSAuthenticationSpec(_Open):
    identities: list[StrictStr] | None = None
    identityRefs: list[RawRef] | None = None

    @model_validator(mode="after")
    def _check(self) -> RawMeshTLSAuthenticationSpec:
        for value in self.identities or []:
            check_identity(value)
        for ref in self.identityRefs or []:
            if is_kind(ref.group, ref.kind, "core", "ServiceAccount"):
                continue
            if is_kind(ref.group, ref.kind, "core", "Namespace"):
                if ref.namespace:
                    raise ValueError(
                        "a Namespace identityRef is cluster-scoped and cannot have a namespace"
                    )
                continue
            raise ValueError(
                f"identityRefs: invalid kind {ref.group or 'core'}/{ref.kind}; "
                "expected ServiceAccount or Namespace"
            )
        return self


class RawMeshTLSAuthentication(_Open):
    metadata: RawMetadata
    spec: RawMeshTLSAuthenticationSpec


class RawNetworkAuthenticationSpec(_Open):
    networks: list[RawNetwork] = Field(min_length=1)


class RawNetworkAuthentication(_Open):
    metadata: RawMetadata
    spec: RawNetworkAuthenticationSpec


# -- routes ----------------------------------------------------------------------------


class RawParentRef(_Open):
    group: StrictStr | None = None
    kind: StrictStr | None = None
    name: StrictStr = ""
    namespace: StrictStr | None = None
    sectionName: StrictStr | None = None
    port: StrictInt | None = None


class RawPathMatch(_Open):
    type: Literal["Exact", "PathPrefix", "RegularExpression"] = "PathPrefix"
    value: StrictStr = "/"


class RawNameMatch(_Open):
    type: StrictStr = "Exact"
    name: StrictStr
    value: StrictStr = ""


class RawGrpcMethod(_Open):
    type: StrictStr = "Exact"
    service: StrictStr | None = None
    method: StrictStr | None = None


class RawMatch(_Open):
    path: RawPathMatch | None = None
    method: RawGrpcMethod | StrictStr | None = None
    headers: list[RawNameMatch] | None = None
    queryParams: list[RawNameMatch] | None = None


class RawRouteRule(_Open):
    matches: list[RawMatch] | None = None


class RawRouteSpec(_Open):
    parentRefs: list[RawParentRef] | None = None
    hostnames: list[StrictStr] | None = None
    rules: list[RawRouteRule] | None = None


class RawRoute(_Open):
    metadata: RawMetadata
    spec: RawRouteSpec = RawRouteSpec()
