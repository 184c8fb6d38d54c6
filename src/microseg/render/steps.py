"""The one formatter for explanation steps, shared by every command that shows a reason.

The engine hands over `Step`s as data (engine/query.py: tier, effect, policy, rule, origin,
policy kind, and for the mesh a `MeshDetail`); this module alone words them, as chain links
(`[NP shop/allow-api#0 Allow]`, `[ANP tenant-guard/r0 Pass]`, `[mTLS STRICT shop]`) and
as JSON objects.
"""

from __future__ import annotations

from typing import Any

from microseg.engine import MeshCause, MeshDetail, PolicyKind, Step, StepKind, Tier, Verdict
from microseg.model.sets import ConnSet
from microseg.render.conns import format_conns

__all__ = ["mesh_detail_text", "step_json", "step_label", "step_origin", "tier_suffix"]


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def tier_suffix(step: Step) -> str:
    """` in tier security (order 100)` for a step of a Calico tier."""
    if step.tier is not Tier.CALICO or not step.tier_name or step.tier_name == "failsafe":
        return ""
    order = "no order" if step.tier_order is None else f"order {_number(step.tier_order)}"
    return f" in tier {step.tier_name} ({order})"


def _calico_label(step: Step) -> str:
    """`[GNP security/deny-pci-egress#2 Deny]`, `[tier security: defaultAction Deny]`,
    `[Profile kns.shop Allow]`, `[failsafe Allow]`."""
    if step.kind is StepKind.TIER_END:
        what = "Pass" if step.effect is Verdict.PASS else "Deny"
        return f"[tier {step.tier_name}: no rule matched, defaultAction {what}]"
    if step.tier is Tier.PROFILE:
        if step.policy is None:
            return "[profiles: none allowed, Deny]"
        rule = "" if step.rule is None else f"#{step.rule}"
        return f"[Profile {step.policy}{rule} {step.effect.value}]"
    if step.policy_kind is PolicyKind.FAILSAFE:
        return f"[failsafe {step.effect.value}]"
    kind = step.policy_kind.value if step.policy_kind is not None else "policy"
    if step.rule_name and step.policy_kind in (PolicyKind.ANP, PolicyKind.BANP, PolicyKind.CNP):
        return f"[{kind} {step.policy}/{step.rule_name} {step.effect.value}]"
    http = f" if HTTP {step.rule_name}" if step.rule_name else ""
    return f"[{kind} {step.policy}#{step.rule} {step.effect.value}{http}]"


def step_label(step: Step) -> str:
    """One link of a chain."""
    if step.tier is Tier.MESH:
        return _mesh_label(step)
    if step.tier in (Tier.CALICO, Tier.PROFILE):
        return _calico_label(step)
    if step.kind is StepKind.ISOLATION:
        return "[NP isolated: no rule allows]"
    if step.policy is None:
        return f"[{step.tier.value} {step.effect.value}]"
    if step.tier is Tier.NETPOL:
        return f"[NP {step.policy}#{step.rule} {step.effect.value}]"
    rule = step.rule_name or f"r{step.rule}"
    if step.policy_kind is PolicyKind.CNP:  # its own words: the tier, and Accept for Allow
        effect = "Accept" if step.effect is Verdict.ALLOW else step.effect.value
        tier = "Admin" if step.tier is Tier.ADMIN else "Baseline"
        return f"[CNP {tier} {step.policy}/{rule} {effect}]"
    return f"[{step.tier.value} {step.policy}/{rule} {step.effect.value}]"


_MESH_EFFECT = {Verdict.ALLOW: "ALLOW", Verdict.DENY: "DENY", Verdict.PASS: "CUSTOM"}


def _mesh_label(step: Step) -> str:
    """`[mTLS STRICT shop]`, `[AuthZ shop/api-allow rule 0 ALLOW principal ...]`."""
    detail = mesh_detail_text(step.mesh) if step.mesh is not None else ""
    if step.policy_kind is PolicyKind.LINKERD and step.mesh is not None:
        return f"[AuthZ {step.mesh.authz} {step.policy} {step.effect.value.upper()} {detail}]"
    if step.kind is StepKind.AUTHZ and step.policy is not None:
        effect = _MESH_EFFECT.get(step.effect, step.effect.value)
        return f"[AuthZ {step.policy} rule {step.rule} {effect} {detail}]"
    return f"[{step.kind.value} {detail}]"


def mesh_detail_text(d: MeshDetail) -> str:
    """What decided a mesh step, in words."""
    match d.cause:
        case MeshCause.NOT_GOVERNED:
            return f"{d.protocol} is not governed"
        case MeshCause.OUTSIDE_MESH:
            return "destination outside the mesh"
        case MeshCause.PLAINTEXT_REJECTED:
            return f"{d.mode} {d.scope}: plaintext rejected"
        case MeshCause.MTLS_MODE:
            return f"{d.mode} {d.scope}"
        case MeshCause.AMBIENT_L4:
            return "ambient: L4 authorization only"
        case MeshCause.TCP_ONLY:
            return "governs TCP only"
        case MeshCause.PEER:
            who = f"principal {d.principal}" if d.principal is not None else "plaintext peer"
            return who + "".join(f" {c}" for c in d.conditions)
        case MeshCause.DENY_WHEN:
            return " or ".join(d.conditions)
        case MeshCause.EXT_AUTHZ:
            texts = [f"ext-authz {d.provider} denies {c}".strip() for c in d.conditions]
            return " or ".join(sorted(texts))
        case MeshCause.SNIFFED:
            return "protocol detected at run time: no Service port declares it"
        case MeshCause.NO_ALLOW_MATCH:
            return f"no ALLOW rule matches ({', '.join(d.policies)})"
        case MeshCause.LINKERD_SERVER | MeshCause.LINKERD_SKIPPED | MeshCause.LINKERD_AUTHZ:
            return _linkerd_text(d)
        case MeshCause.LINKERD_DENIED:
            return _linkerd_text(d)
    raise AssertionError(d.cause)  # pragma: no cover - every cause is worded above


def step_origin(step: Step) -> str:
    """` (file:line)` where the step's rule is written, or nothing."""
    return f" ({step.origin.location()})" if step.origin is not None else ""


def step_json(step: Step, within: ConnSet | None = None, brief: bool = False) -> dict[str, Any]:
    """A step as JSON. `within` keeps only that part of its connections; `brief` is the
    blast-radius hop form (label first, no rule name or mesh detail)."""
    conns = step.conns if within is None else step.conns & within
    if brief:
        out: dict[str, Any] = {
            "label": step_label(step),
            "tier": step.tier.value,
            "effect": step.effect.value,
            "conn": format_conns(conns),
        }
    else:
        out = {
            "tier": step.tier.value,
            "effect": step.effect.value,
            "conn": format_conns(conns),
            "label": step_label(step),
        }
    if step.policy is not None:
        out["policy"] = step.policy
        out["rule"] = step.rule
        if step.rule_name and not brief:
            out["ruleName"] = step.rule_name
    if step.origin is not None:
        out["origin"] = {"file": step.origin.file, "line": step.origin.line}
    if step.tier is Tier.MESH and not brief:
        out["kind"] = step.kind.value
        out["detail"] = mesh_detail_text(step.mesh) if step.mesh is not None else ""
    if step.tier in (Tier.CALICO, Tier.PROFILE) and not brief:
        out["kind"] = step.kind.value
        if step.policy_kind is not None:
            out["policyKind"] = step.policy_kind.value
        if step.tier_name:
            out["calicoTier"] = step.tier_name
            out["calicoTierOrder"] = step.tier_order
    return out


_LINKERD_SOURCE = {
    "default": "default policy",
    "accessPolicy": "the Server's accessPolicy",
    "probe": "probe route",
}


def _linkerd_text(d: MeshDetail) -> str:
    """Linkerd's steps: `Server shop/web (HTTP/1)`, `no Server: default deny (namespace)`,
    `principal web.shop.serviceaccount.identity.linkerd.cluster.local`."""
    who = f"principal {d.principal}" if d.principal is not None else "unauthenticated client"
    match d.cause:
        case MeshCause.LINKERD_SKIPPED:
            return "skip-inbound-ports: the port bypasses Linkerd's proxy"
        case MeshCause.LINKERD_SERVER if d.server:
            access = f", accessPolicy {d.mode}" if d.mode else ""
            return f"{d.server} ({d.protocol}{access})"
        case MeshCause.LINKERD_SERVER:
            where = {"pod": "the pod's", "namespace": "the namespace's"}.get(d.scope, "cluster")
            opaque = ", opaque port" if d.protocol == "opaque" else ""
            return f"none: {where} default {d.mode}{opaque}"
        case MeshCause.LINKERD_AUTHZ:
            text = (
                who
                if d.authz in ("AuthorizationPolicy", "ServerAuthorization")
                else (
                    f"{_LINKERD_SOURCE.get(d.authz, d.authz)} {d.mode}".strip() + f" admits {who}"
                )
            )
            if d.network:
                text += f" from {d.network}"
            return text + "".join(f" {c}" for c in d.conditions)
    if d.policies:
        return f"no authorization admits {who} ({', '.join(d.policies)})"
    if d.server:
        return f"Server {d.server} authorizes no client ({who} denied)"
    return f"default {d.mode}: {who} denied"
