"""A reach Decision for people (answer first, then why) and for programs (JSON)."""

from __future__ import annotations

import json
from typing import Any

from microseg.engine.query import Decision, Step, Tier, Trace, Verdict
from microseg.model.netpol import Direction
from microseg.model.sets import ConnSet
from microseg.render.conns import format_conns
from microseg.render.shape import envelope

__all__ = ["decision_json", "decision_text", "step_label"]


def step_label(step: Step) -> str:
    """`[NP shop/allow-api#0 Allow]`: the chain element for one step."""
    if step.policy is None:
        return f"[{step.tier.value} {step.effect.value}]"
    return f"[{step.tier.value} {step.policy}#{step.rule} {step.effect.value}]"


def _where(step: Step) -> str:
    return f" ({step.origin.location()})" if step.origin is not None else ""


def _trace_lines(trace: Trace, requested: ConnSet | None) -> list[str]:
    head = f"  {trace.direction.value.lower():<7} {trace.endpoint}: "
    if trace.external:
        return [head + "external address; no cluster policy applies"]
    if not trace.isolated:
        kind = "ingress" if trace.direction is Direction.INGRESS else "egress"
        return [
            head
            + f"not isolated for {kind} (no NetworkPolicy selects it), so everything is allowed"
        ]
    policies = ", ".join(f"NP {p}" for p in trace.policies)
    lines = [head + f"isolated by {policies}"]
    want = requested if requested is not None else ConnSet.all()
    for step in trace.steps:
        if step.tier is Tier.DEFAULT:
            continue
        part = step.conns & want
        if part:
            lines.append(
                f"      allows {format_conns(part)} by {step.tier.value} {step.policy} rule {step.rule}{_where(step)}"
            )
    missing = want - trace.allowed
    if missing and requested is None:
        lines.append(
            "      no other rule allows anything"
            if trace.allowed
            else f"      no rule allows {trace.peer}"
        )
    elif missing:
        lines.append(f"      no rule allows {trace.peer} on {format_conns(missing)}")
    return lines


def decision_text(d: Decision) -> str:
    word = "ALLOWED" if d.verdict is Verdict.ALLOW else "DENIED"
    conns = format_conns(d.requested if d.requested is not None else d.allowed)
    if d.requested is None and not d.allowed:
        conns = "no connections"
    lines = [f"{word:<8}{d.src} -> {d.dst}  {conns}"]
    if d.requested is not None and d.verdict is Verdict.DENY and d.allowed:
        lines.append(f"  (allowed between them: {format_conns(d.allowed)})")
    if d.partial:
        lines.append(
            "  (some addresses in the range are allowed more; shown is what every address gets)"
        )
    lines += _trace_lines(d.egress, d.requested)
    lines += _trace_lines(d.ingress, d.requested)
    return "\n".join(lines) + "\n"


def _step_json(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tier": step.tier.value,
        "effect": step.effect.value,
        "conn": format_conns(step.conns),
    }
    if step.policy is not None:
        out["policy"] = step.policy
        out["rule"] = step.rule
    if step.origin is not None:
        out["origin"] = {"file": step.origin.file, "line": step.origin.line}
    return out


def _trace_json(t: Trace) -> dict[str, Any]:
    return {
        "endpoint": t.endpoint,
        "external": t.external,
        "isolated": t.isolated,
        "policies": list(t.policies),
        "allowed": format_conns(t.allowed),
        "steps": [_step_json(s) for s in t.steps],
    }


def decision_json(d: Decision) -> str:
    doc = envelope(
        "ReachDecision",
        src=d.src,
        dst=d.dst,
        verdict=d.verdict.value,
        requested=format_conns(d.requested) if d.requested is not None else None,
        allowed=format_conns(d.allowed),
        partial=d.partial,
        egress=_trace_json(d.egress),
        ingress=_trace_json(d.ingress),
    )
    return json.dumps(doc, indent=2) + "\n"
