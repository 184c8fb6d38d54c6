"""The mesh's reasons for one request, from the model: what explanations print.

A request is (source, destination pod, protocol, port), evaluated through the helpers the
fast table uses (engine/mesh/match.py) and the AuthorizationPolicy reference's five steps,
keeping every rule that took part as a MeshReason. The verdict it reaches is held equal to
the fast table by tests/property/test_mesh_reference.py (and both to the independent
reference evaluator, engine/spec/mesh.py, which reads the raw documents).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from microseg.engine.mesh.match import (
    STATIC_KEYS,
    applies_to,
    clause_text,
    condition_holds,
    condition_text,
    declared_ports,
    effective_mode,
    http_ports,
    is_http_key,
    istio_match,
    mode_source,
    operation_l7,
    pod_mesh_mode,
    rule_has_http,
    sniffs,
    source_l7,
)
from microseg.engine.query import (
    MeshCause,
    MeshDetail,
    MeshVerdict,
    PolicyKind,
    Verdict,
    ext_authz_condition,
    http_condition,
)
from microseg.errors import Origin
from microseg.model.cluster import Cluster
from microseg.model.mesh import (
    AuthorizationPolicy,
    AuthzAction,
    AuthzRule,
    Condition,
    MeshMode,
    MtlsMode,
    Operation,
    Source,
    principal,
)
from microseg.model.objects import Pod
from microseg.model.sets import Protocol

__all__ = ["ALLOWED", "MeshReason", "Request", "evaluate"]


DENIED = MeshVerdict(False)
ALLOWED = MeshVerdict(True)


@dataclass(frozen=True, slots=True)
class MeshReason:
    """One link of a mesh explanation: its effect and why, as data (engine/query.py)."""

    effect: Verdict
    detail: MeshDetail
    policy: str | None = None
    rule: int | None = None
    origin: Origin | None = None
    kind: PolicyKind | None = None
    """The kind of policy `policy` names (None: an Istio AuthorizationPolicy)."""


@dataclass(frozen=True, slots=True)
class Request:
    """The peer's identity as the destination's proxy sees it."""

    mtls: bool
    principal: str
    namespace: str
    account: str
    address: str | None
    port: int
    http: bool


def _ip_in(address: str | None, blocks: tuple[str, ...]) -> bool:
    if address is None:
        return False  # an unknown address (a pod template) is in no block
    ip = ipaddress.ip_address(address)
    for block in blocks:
        net = ipaddress.ip_network(block if "/" in block else address_block(block), strict=False)
        if ip.version == net.version and ip in net:
            return True
    return False


def address_block(address: str) -> str:
    return address + ("/128" if ":" in address else "/32")


def _any(patterns: tuple[str, ...], value: str) -> bool:
    return any(istio_match(p, value) for p in patterns)


def source_l4(s: Source, req: Request) -> bool:
    """Every set field must match; `not...` fields must not. remoteIpBlocks read the
    original client address, which for a direct connection is the peer address."""

    def test(field: str, values: tuple[str, ...]) -> bool:
        if field == "principal":
            return _any(values, req.principal)
        if field == "namespace":
            return _any(values, req.namespace)
        if field == "account":
            return req.account in values
        return _ip_in(req.address, values)

    checks = (
        (s.principals, s.not_principals, "principal"),
        (s.namespaces, s.not_namespaces, "namespace"),
        (s.service_accounts, s.not_service_accounts, "account"),
        (s.ip_blocks, s.not_ip_blocks, "ip"),
        (s.remote_ip_blocks, s.not_remote_ip_blocks, "ip"),
    )
    for positive, negative, field in checks:
        if positive is not None and not test(field, positive):
            return False
        if negative is not None and test(field, negative):
            return False
    return True


def operation_l4(o: Operation, port: int) -> bool:
    if o.ports is not None and str(port) not in o.ports:
        return False
    return not (o.not_ports is not None and str(port) in o.not_ports)


def _static_holds(c: Condition, req: Request) -> bool:
    if c.key == "destination.port":
        return condition_holds(c, req.port)
    if c.key == "source.namespace":
        return condition_holds(c, req.namespace)
    if c.key == "source.principal":
        return condition_holds(c, req.principal)
    return condition_holds(c, req.address, ip=True)


def rule_clauses(rule: AuthzRule, action: AuthzAction, req: Request) -> set[str] | None:
    """The alternatives under which `rule` matches the request ("" = unconditionally), or
    None when it cannot match.

    istio.io AuthorizationPolicy reference (Rule, Source, Operation): the `from` entries
    are ORed, the `to` entries are ORed, `from`, `to` and `when` are ANDed. HTTP-only
    fields on plain TCP (the same reference, and the "TCP Traffic" task): an ALLOW rule
    that uses them never matches, while a DENY or CUSTOM rule is applied with them ignored,
    which denies more, never less.
    """
    if not req.http and action is AuthzAction.ALLOW and rule_has_http(rule):
        return None
    out: set[str] = set()
    for c in rule.conditions:
        if c.key in STATIC_KEYS and not _static_holds(c, req):
            return None
    when = [
        condition_text(c)
        for c in rule.conditions
        if c.key not in STATIC_KEYS and (req.http or not is_http_key(c.key))
    ]
    for s in rule.sources if rule.sources is not None else (None,):
        if s is not None and not source_l4(s, req):
            continue
        s_parts = source_l7(s) if s is not None and req.http else []
        for o in rule.operations if rule.operations is not None else (None,):
            if o is not None and not operation_l4(o, req.port):
                continue
            o_parts = operation_l7(o) if o is not None and req.http else []
            out.add(clause_text(s_parts + o_parts + when))
    return out or None


def _policies(cluster: Cluster, dst: Pod) -> list[AuthorizationPolicy]:
    chosen = [p for p in cluster.authorization_policies if applies_to(cluster, p, dst)]
    return sorted(chosen, key=lambda p: p.ref)


def request_for(
    cluster: Cluster, src: Pod | str, dst: Pod, port: int, http: bool | None = None
) -> tuple[Request, bool]:
    """The request's identity, and whether the destination rejects it as plaintext.
    `http`: whether the request is HTTP (None: as the destination's Services declare)."""
    dst_mode = pod_mesh_mode(cluster, dst)
    mode = effective_mode(cluster, dst, port, dst_mode)
    if isinstance(src, Pod):
        src_in = pod_mesh_mode(cluster, src) is not MeshMode.NONE
        address = src.ips[0] if src.ips else None
    else:
        src_in, address = False, src
    # Auto mTLS: a mesh client speaks mTLS to a mesh server unless the server DISABLEs it;
    # ambient servers always receive mTLS (HBONE) from mesh clients.
    mtls = src_in and mode is not MtlsMode.DISABLE
    if http is None:
        http = dst_mode is MeshMode.SIDECAR and port in http_ports(cluster, dst)
    if mtls and isinstance(src, Pod):
        td = cluster.mesh.trust_domain
        req = Request(
            True,
            principal(td, src.namespace, src.service_account),
            src.namespace,
            f"{src.namespace}/{src.service_account}",
            address,
            port,
            http,
        )
    else:
        req = Request(False, "", "", "", address, port, http)
    return req, mode is MtlsMode.STRICT and not mtls


def _scope(cluster: Cluster, dst: Pod, port: int) -> str:
    _, ref = mode_source(cluster, dst, port, pod_mesh_mode(cluster, dst))
    if not ref:
        return "(Istio default)"
    ns = ref.split("/", 1)[0]
    if ns == cluster.mesh.root_namespace:
        return "mesh"
    pa = next(p for p in cluster.peer_authentications if p.ref == ref)
    return ref if pa.selector else ns


def evaluate(
    cluster: Cluster, src: Pod | str, dst: Pod, protocol: Protocol, port: int
) -> tuple[MeshVerdict, list[MeshReason]]:
    """The mesh's verdict on one request from `src` (a pod, or an external IP address)."""
    if protocol is not Protocol.TCP:
        return ALLOWED, [
            MeshReason(Verdict.ALLOW, MeshDetail(MeshCause.NOT_GOVERNED, protocol=protocol.value))
        ]
    dst_mode = pod_mesh_mode(cluster, dst)
    if dst_mode is MeshMode.NONE:
        if cluster.has_linkerd:
            # Imported here: linkerd_reasons builds on this module's MeshReason.
            from microseg.engine.explain.linkerd_reasons import linkerd_evaluate, linkerd_index

            index = linkerd_index(cluster)
            if index.member(dst):
                return linkerd_evaluate(index, src, dst, port)
        return ALLOWED, [MeshReason(Verdict.ALLOW, MeshDetail(MeshCause.OUTSIDE_MESH))]
    if not sniffs(dst_mode, port, http_ports(cluster, dst), declared_ports(cluster, dst)):
        return _evaluate(cluster, src, dst, port, dst_mode, None)
    # The sidecar detects the protocol: plain TCP, or HTTP. What TCP traffic gets, HTTP
    # traffic gets too (an ALLOW rule without HTTP fields matches both; DENY rules match
    # TCP with their HTTP fields ignored, so at least as often); what only HTTP traffic
    # gets is conditional on the traffic being HTTP.
    tcp = _evaluate(cluster, src, dst, port, dst_mode, False)
    if tcp[0].allowed:
        return tcp
    web, reasons = _evaluate(cluster, src, dst, port, dst_mode, True)
    if not web.allowed:
        return tcp
    requires = tuple(http_condition(c) for c in (web.requires or ("",)))
    sniffed = MeshReason(Verdict.ALLOW, MeshDetail(MeshCause.SNIFFED))
    return MeshVerdict(True, requires, web.unless), [*reasons, sniffed]


def _evaluate(
    cluster: Cluster, src: Pod | str, dst: Pod, port: int, dst_mode: MeshMode, http: bool | None
) -> tuple[MeshVerdict, list[MeshReason]]:
    req, rejected = request_for(cluster, src, dst, port, http)
    mode = effective_mode(cluster, dst, port, dst_mode)
    reasons: list[MeshReason] = []
    scope = _scope(cluster, dst, port)
    if rejected:
        return DENIED, [
            MeshReason(
                Verdict.DENY, MeshDetail(MeshCause.PLAINTEXT_REJECTED, mode="STRICT", scope=scope)
            )
        ]
    reasons.append(
        MeshReason(Verdict.ALLOW, MeshDetail(MeshCause.MTLS_MODE, mode=mode.value, scope=scope))
    )
    if dst_mode is MeshMode.AMBIENT:
        reasons.append(MeshReason(Verdict.ALLOW, MeshDetail(MeshCause.AMBIENT_L4)))
    policies = _policies(cluster, dst)
    unless: set[str] = set()
    for action in (AuthzAction.CUSTOM, AuthzAction.DENY):
        for policy in (p for p in policies if p.action is action):
            for rule in policy.rules:
                clauses = rule_clauses(rule, action, req)
                if clauses is None:
                    continue
                if action is AuthzAction.CUSTOM:
                    detail = MeshDetail(
                        MeshCause.EXT_AUTHZ,
                        conditions=tuple(sorted(clauses)),
                        provider=policy.provider,
                    )
                    clauses = {ext_authz_condition(policy.provider, c) for c in clauses}
                    effect = Verdict.PASS
                elif "" in clauses:
                    why = MeshReason(Verdict.DENY, _who(req), policy.ref, rule.index)
                    return DENIED, [*reasons, _located(why, rule)]
                else:
                    detail = MeshDetail(MeshCause.DENY_WHEN, conditions=tuple(sorted(clauses)))
                    effect = Verdict.DENY
                unless |= clauses
                why = MeshReason(effect, detail, policy.ref, rule.index)
                reasons.append(_located(why, rule))
    allows = [p for p in policies if p.action is AuthzAction.ALLOW]
    if not allows:
        return MeshVerdict(True, (), tuple(sorted(unless))), reasons
    requires: set[str] = set()
    for policy in allows:
        for rule in policy.rules:
            clauses = rule_clauses(rule, AuthzAction.ALLOW, req)
            if clauses is None:
                continue
            who = _who(req, tuple(c for c in sorted(clauses) if c))
            reasons.append(_located(MeshReason(Verdict.ALLOW, who, policy.ref, rule.index), rule))
            requires |= clauses
    if not requires:
        names = tuple(p.ref for p in allows)
        reasons.append(
            MeshReason(Verdict.DENY, MeshDetail(MeshCause.NO_ALLOW_MATCH, policies=names))
        )
        return DENIED, reasons
    if "" in requires:
        return MeshVerdict(True, (), tuple(sorted(unless))), reasons
    return MeshVerdict(True, tuple(sorted(requires)), tuple(sorted(unless))), reasons


def _who(req: Request, conditions: tuple[str, ...] = ()) -> MeshDetail:
    principal = req.principal if req.mtls else None
    return MeshDetail(MeshCause.PEER, principal=principal, conditions=conditions)


def _located(reason: MeshReason, rule: AuthzRule) -> MeshReason:
    return MeshReason(reason.effect, reason.detail, reason.policy, reason.rule, rule.origin)
