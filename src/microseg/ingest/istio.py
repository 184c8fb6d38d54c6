"""Istio security documents (security.istio.io v1 and v1beta1) to model values.

Both versions share one schema (v1 is v1beta1 promoted unchanged). Errors are located
diagnostics (MS140); things microseg reads but cannot evaluate statically (targetRefs to
gateways, `when` keys) are notices or conditions on the verdict, never silently dropped.
"""

from __future__ import annotations

from pydantic import ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.documents import Document
from microseg.ingest.istio_schema import (
    RawAuthorizationPolicy,
    RawCondition,
    RawOperation,
    RawPeerAuthentication,
    RawSource,
    RawWorkloadSelector,
)
from microseg.ingest.validation import diagnostics_from
from microseg.model.labels import FrozenLabels
from microseg.model.mesh import (
    AuthorizationPolicy,
    AuthzAction,
    AuthzRule,
    Condition,
    MtlsMode,
    Operation,
    PeerAuthentication,
    Source,
    TargetRef,
)

__all__ = ["ISTIO_KINDS", "parse_istio"]

ISTIO_KINDS = ("PeerAuthentication", "AuthorizationPolicy")
_VERSIONS = ("security.istio.io/v1", "security.istio.io/v1beta1")


def _t(values: list[str] | list[str | int] | None) -> tuple[str, ...] | None:
    """Protobuf semantics: an empty list is an absent field."""
    return tuple(str(v) for v in values) if values else None


def _accounts(values: list[str] | None, namespace: str) -> tuple[str, ...] | None:
    """`<sa>` alone names an account of the policy's namespace (istio.io reference)."""
    return _t([v if "/" in v else f"{namespace}/{v}" for v in values or []])


def _source(raw: RawSource, namespace: str) -> Source:
    return Source(
        _t(raw.principals),
        _t(raw.notPrincipals),
        _t(raw.namespaces),
        _t(raw.notNamespaces),
        _t(raw.ipBlocks),
        _t(raw.notIpBlocks),
        _t(raw.remoteIpBlocks),
        _t(raw.notRemoteIpBlocks),
        _t(raw.requestPrincipals),
        _t(raw.notRequestPrincipals),
        _accounts(raw.serviceAccounts, namespace),
        _accounts(raw.notServiceAccounts, namespace),
    )


def _operation(raw: RawOperation) -> Operation:
    return Operation(
        _t(raw.ports),
        _t(raw.notPorts),
        _t(raw.methods),
        _t(raw.notMethods),
        _t(raw.paths),
        _t(raw.notPaths),
        _t(raw.hosts),
        _t(raw.notHosts),
    )


def _condition(raw: RawCondition) -> Condition:
    return Condition(raw.key, _t(raw.values), _t(raw.notValues))


def _origin(doc: Document, kind: str, namespace: str, name: str) -> Origin:
    base = doc.origin()
    return Origin(base.file, base.document, base.line, kind, namespace, name)


def _version_note(doc: Document) -> list[Diagnostic]:
    version = str(doc.data.get("apiVersion", ""))
    if version in _VERSIONS:
        return []
    return [
        Diagnostic(
            Severity.WARNING,
            "MS141",
            f"apiVersion {version!r}: expected {' or '.join(_VERSIONS)}; read as security.istio.io/v1",
            doc.origin(),
            "apiVersion",
        )
    ]


def _selector(raw: RawWorkloadSelector | None) -> FrozenLabels | None:
    """`selector: {}` and `selector: {matchLabels: {}}` read as no selector: istio.io
    PeerAuthentication and AuthorizationPolicy references ("if not set, ... all workloads
    in the same namespace") and Istio's policy composition, where an empty label set
    selects the whole namespace (the mesh, in the root namespace)."""
    if raw is None or not raw.matchLabels:
        return None
    return FrozenLabels(raw.matchLabels)


def _peer_authentication(doc: Document) -> tuple[PeerAuthentication | None, list[Diagnostic]]:
    try:
        raw = RawPeerAuthentication.model_validate(doc.data)
    except ValidationError as exc:
        return None, diagnostics_from(exc, doc, "MS140")
    spec = raw.spec
    namespace = raw.metadata.namespace or "default"
    selector = _selector(spec.selector)
    mode = MtlsMode(spec.mtls.mode) if spec.mtls is not None else MtlsMode.UNSET
    ports = tuple(
        sorted((int(str(k)), MtlsMode(v.mode)) for k, v in (spec.portLevelMtls or {}).items())
    )
    origin = _origin(doc, "PeerAuthentication", namespace, raw.metadata.name)
    pa = PeerAuthentication(namespace, raw.metadata.name, selector, mode, ports, origin)
    return pa, _version_note(doc)


def _authorization_policy(
    doc: Document,
) -> tuple[AuthorizationPolicy | None, list[Diagnostic]]:
    try:
        raw = RawAuthorizationPolicy.model_validate(doc.data)
    except ValidationError as exc:
        return None, diagnostics_from(exc, doc, "MS140")
    spec = raw.spec
    namespace = raw.metadata.namespace or "default"
    origin = _origin(doc, "AuthorizationPolicy", namespace, raw.metadata.name)
    rules = []
    for i, r in enumerate(spec.rules or []):
        rules.append(
            AuthzRule(
                i,
                None if r.from_ is None else tuple(_source(f.source, namespace) for f in r.from_),
                None if r.to is None else tuple(_operation(t.operation) for t in r.to),
                tuple(_condition(c) for c in r.when or []),
                origin.with_rule(i, doc.line_of(("spec", "rules", i))),
            )
        )
    refs = [spec.targetRef] if spec.targetRef is not None else list(spec.targetRefs or [])
    targets = tuple(TargetRef(t.kind, t.name, t.group, t.namespace) for t in refs)
    selector = _selector(spec.selector)
    policy = AuthorizationPolicy(
        namespace,
        raw.metadata.name,
        AuthzAction(spec.action),
        selector,
        tuple(rules),
        targets,
        spec.provider.name if spec.provider is not None else "",
        origin,
    )
    notes = _version_note(doc)
    # istio.io AuthorizationPolicy reference (targetRef): a Service target is supported only
    # for waypoints, other kinds for gateways; sidecars and ztunnel enforce only selector
    # and namespace-wide policies, so no analysed workload enforces this one.
    for t in targets:
        notes.append(
            Diagnostic(
                Severity.NOTICE,
                "MS142",
                f"targetRef {t.kind}/{t.name}: targetRef policies are enforced by "
                "waypoints/gateways, not modelled; this policy applies to no workload "
                "in the analysis",
                origin,
                "spec.targetRefs",
            )
        )
    return policy, notes


def parse_istio(
    doc: Document,
) -> tuple[PeerAuthentication | AuthorizationPolicy | None, list[Diagnostic]]:
    """One PeerAuthentication or AuthorizationPolicy document, with its diagnostics."""
    if doc.data.get("kind") == "PeerAuthentication":
        return _peer_authentication(doc)
    return _authorization_policy(doc)
