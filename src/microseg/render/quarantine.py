"""Quarantine plans as the objects applied (manifests), as the YAML a dry run writes, and as
JSON; the action log and `quarantine list` in text and JSON."""

from __future__ import annotations

import json
from typing import Any

import yaml

from microseg.analyses.runtime.quarantine import QUARANTINE_LABEL, Plan, Proof, Residual
from microseg.analyses.synth.types import MANAGED_BY, Generated
from microseg.render.conns import format_conns
from microseg.render.policy_yaml import manifest

__all__ = ["label_command", "manifests", "plan_json", "plan_yaml", "proof_json", "residual_text"]


def _object(kind: str, plan: Plan, policy: Any) -> dict[str, Any]:
    g = Generated(
        kind,
        plan.namespace if kind == "NetworkPolicy" else "",
        plan.name,
        policy,
        "",
        annotations=(("microseg.dev/pod", f"{plan.namespace}/{plan.pod}"),),
    )
    # Plain dicts: the manifest's parts are memoising dict subclasses.
    out: dict[str, Any] = json.loads(json.dumps(manifest(g)))
    out["metadata"]["labels"] = {MANAGED_BY[0]: MANAGED_BY[1], QUARANTINE_LABEL: plan.id}
    return out


def manifests(plan: Plan) -> list[dict[str, Any]]:
    """The policies to apply, NetworkPolicy first."""
    out = [_object("NetworkPolicy", plan, plan.policy)]
    if plan.admin is not None:
        out.append(_object("AdminNetworkPolicy", plan, plan.admin))
    return out


def label_command(plan: Plan) -> str:
    removed = [k for k in sorted(plan.labels_before) if k not in plan.labels_after]
    parts = [f"{QUARANTINE_LABEL}={plan.id}", *(f"{k}-" for k in removed)]
    return f"kubectl label pod -n {plan.namespace} {plan.pod} --overwrite " + " ".join(parts)


def residual_text(r: Residual) -> str:
    arrow = "->" if r.direction == "egress" else "<-"
    return f"{arrow} {r.peer} {format_conns(r.conns)}"


def plan_yaml(plan: Plan, title: str) -> str:
    head = [
        f"microseg quarantine {plan.id}: {title}",
        f"pod {plan.namespace}/{plan.pod}; apply the policies first, then label the pod:",
        "  kubectl apply --server-side --field-manager=microseg -f <this file>",
        f"  {label_command(plan)}",
        "proof: "
        + ("holds" if plan.proof.holds else "does NOT hold")
        + " (what stays reachable once applied):",
        *(f"  kept {residual_text(k)}" for k in plan.proof.kept),
        *(f"  OPEN {residual_text(r)}" for r in plan.proof.residual),
    ]
    if plan.detached:
        head.append("the pod's other labels are removed (detached): with them it would stay open:")
        head.extend(f"  {residual_text(r)}" for r in plan.attached)
    text = "".join(f"# {line}\n" for line in head)
    for obj in manifests(plan):
        text += "---\n" + yaml.safe_dump(obj, sort_keys=False)
    return text


def _residual(r: Residual) -> dict[str, Any]:
    out: dict[str, Any] = {"direction": r.direction, "peer": r.peer, "conns": format_conns(r.conns)}
    if r.decision is not None:
        policies = sorted(
            {
                f"{s.policy}"
                for t in (r.decision.egress, r.decision.ingress)
                for s in t.steps
                if s.policy
            }
        )
        out["policies"] = policies
    return out


def proof_json(proof: Proof) -> dict[str, Any]:
    return {
        "holds": proof.holds,
        "kept": [_residual(k) for k in proof.kept],
        "open": [_residual(r) for r in proof.residual],
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "pod": f"{plan.namespace}/{plan.pod}",
        "labelsBefore": dict(sorted(plan.labels_before.items())),
        "labelsAfter": dict(sorted(plan.labels_after.items())),
        "detached": plan.detached,
        "openWithLabels": [_residual(r) for r in plan.attached],
        "networkPolicy": f"{plan.namespace}/{plan.name}",
        "adminNetworkPolicy": (
            {"name": plan.name, "priority": plan.admin.priority} if plan.admin is not None else None
        ),
        "proof": proof_json(plan.proof),
        "notes": list(plan.notes),
    }
