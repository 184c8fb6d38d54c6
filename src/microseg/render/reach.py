"""A reach Decision for people (answer first, then why) and for programs (JSON)."""

from __future__ import annotations

import json
from typing import Any

from microseg.engine import (
    Decision,
    Layer,
    MeshCause,
    NetworkSide,
    NetworkSplit,
    Step,
    StepKind,
    Tier,
    Trace,
    Verdict,
)
from microseg.model.netpol import Direction
from microseg.model.sets import ConnSet
from microseg.render.conns import condition_label, format_conditional, format_conns
from microseg.render.shape import envelope
from microseg.render.steps import step_json, step_label, step_origin, tier_suffix

LINKERD_CAUSES = frozenset(
    (
        MeshCause.LINKERD_SERVER,
        MeshCause.LINKERD_SKIPPED,
        MeshCause.LINKERD_AUTHZ,
        MeshCause.LINKERD_DENIED,
    )
)

__all__ = [
    "chains",
    "decision_json",
    "decision_text",
    "network_label",
    "network_lines",
]


def _mesh_lines(d: Decision) -> list[str]:
    """The destination's mesh steps, then one chain per connection subset that links the
    network steps and the mesh steps (`[NP ...] + [mTLS STRICT shop] + [AuthZ ...]`)."""
    head = f"  {'mesh':<7} {d.dst}: "
    if all(s.kind is StepKind.MESH for s in d.mesh):
        return [head + "outside the mesh; no mesh policy applies"]
    if d.requested is not None:
        want = d.requested
    elif d.layer is Layer.BOTH:
        want = d.egress.allowed & d.ingress.allowed  # what the network lets reach the mesh
    else:
        want = ConnSet.all()
    linkerd = any(s.mesh is not None and s.mesh.cause in LINKERD_CAUSES for s in d.mesh)
    proxy = "Linkerd's proxy" if linkerd else "Istio sidecar or ztunnel"
    lines = [head + proxy + " at the destination"]
    for step in d.mesh:
        part = step.conns & want
        if part:
            verb = "passes"
            if step.effect is Verdict.DENY:
                when = step.mesh is not None and step.mesh.cause is MeshCause.DENY_WHEN
                verb = "denies when" if when else "denies"
            lines.append(
                f"      {verb} {format_conns(part)} by {step_label(step)}{step_origin(step)}"
            )
    for conns, verdict in d.conditions:
        lines.append(f"      {format_conns(conns)} only {condition_label(verdict)}")
    if d.layer is not Layer.BOTH:
        return lines
    network = [
        s
        for t in (d.egress, d.ingress)
        for s in t.steps
        if s.tier is not Tier.DEFAULT or s.effect is not Verdict.ALLOW
    ]
    for conns, chain in chains((*network, *d.mesh), want):
        if any(s.tier is Tier.MESH and s.kind is not StepKind.MESH for s in chain):
            labels = " + ".join(step_label(s) for s in chain)
            lines.append(f"      chain {format_conns(conns)}: {labels}")
    return lines


def chains(steps: tuple[Step, ...], scope: ConnSet) -> list[tuple[ConnSet, list[Step]]]:
    """`scope` split into pieces that the same sequence of steps touched, in order."""
    pieces: list[tuple[ConnSet, list[Step]]] = [(scope, [])]
    for step in steps:
        nxt: list[tuple[ConnSet, list[Step]]] = []
        for conns, chain in pieces:
            inside, outside = conns & step.conns, conns - step.conns
            if inside:
                nxt.append((inside, [*chain, step]))
            if outside:
                nxt.append((outside, chain))
        pieces = nxt
    return [(c, chain) for c, chain in pieces if chain]


_VERB = {
    Verdict.ALLOW: "allows",
    Verdict.DENY: "denies",
    Verdict.PASS: "passes",
    Verdict.LOG: "logs",
}


def _calico_lines(trace: Trace, requested: ConnSet | None) -> list[str]:
    """A direction decided by Calico's tiers: the policies that apply, then each step with
    its tier, the end-of-tier actions and the profiles."""
    head = f"  {trace.direction.value.lower():<7} {trace.endpoint}: "
    if trace.policies:
        head += "policies " + ", ".join(trace.policies)
    else:
        head += "no Calico tier applies"
    lines = [head]
    for step in trace.steps:
        part = step.conns if requested is None else step.conns & requested
        if not part:
            continue
        if step.kind is StepKind.TIER_END:
            verb = "passes" if step.effect is Verdict.PASS else "denies"
            lines.append(
                f"      {verb} {format_conns(part)}: no rule of tier {step.tier_name} matched "
                f"(defaultAction {step.effect.value}){tier_suffix(step).replace(' in tier ' + step.tier_name, '')}"
            )
        elif step.tier is Tier.DEFAULT:
            lines.append(
                f"      allows {format_conns(part)}: not a Calico endpoint, no policy applies"
            )
        elif step.tier is Tier.PROFILE and step.policy is None:
            lines.append(f"      denies {format_conns(part)}: no profile allowed it")
        elif step.effect is Verdict.PASS and step.rule_name:
            lines.append(
                f"      needs HTTP {step.rule_name} for {format_conns(part)}: "
                f"{step_label(step)}{tier_suffix(step)}{step_origin(step)} (an L7 condition, "
                "not counted)"
            )
        else:
            lines.append(
                f"      {_VERB[step.effect]} {format_conns(part)} by {step_label(step)}"
                f"{tier_suffix(step)}{step_origin(step)}"
            )
    return lines


def _trace_lines(trace: Trace, requested: ConnSet | None) -> list[str]:
    head = f"  {trace.direction.value.lower():<7} {trace.endpoint}: "
    if trace.external:
        return [head + "external address; no cluster policy applies"]
    if any(s.tier in (Tier.CALICO, Tier.PROFILE) for s in trace.steps):
        return _calico_lines(trace, requested)
    kind = "ingress" if trace.direction is Direction.INGRESS else "egress"
    parts = []
    if trace.guardrails:
        parts.append("guarded by " + ", ".join(trace.guardrails))
    if trace.isolated:
        parts.append("isolated by " + ", ".join(f"NP {p}" for p in trace.policies))
    else:
        parts.append(f"not isolated for {kind} by any NetworkPolicy")
    lines = [head + "; ".join(parts)]
    want = requested if requested is not None else ConnSet.all()
    for step in trace.steps:
        part = step.conns & want
        if step.effect is Verdict.DENY and step.policy is None:
            part = part - trace.allowed  # a fallback covers only what nothing allowed
        if not part:
            continue
        if step.tier is Tier.NETPOL and step.policy is None:
            lines.append(f"      no NetworkPolicy rule allows {trace.peer} on {format_conns(part)}")
        elif step.tier is Tier.DEFAULT and step.effect is Verdict.DENY:
            lines.append(f"      no rule allows {trace.peer} on {format_conns(part)}")
        elif step.tier is Tier.DEFAULT:
            lines.append(
                f"      {_VERB[step.effect]} {format_conns(part)} by default (no rule decided it)"
            )
        else:
            lines.append(
                f"      {_VERB[step.effect]} {format_conns(part)} by {step_label(step)}{step_origin(step)}"
            )
    if any(s.tier in (Tier.ADMIN, Tier.BASELINE) for s in trace.steps if s.conns & want):
        for conns, chain in chains(trace.steps, want):
            if len(chain) > 1:
                lines.append(
                    f"      chain {format_conns(conns)}: "
                    + " -> ".join(step_label(s) for s in chain)
                )
    return lines


def network_label(side: NetworkSide) -> str:
    """`UDN blue/net-a (Primary, Layer2)`, or `the default network`."""
    if not side.kind:
        return "the default network"
    return f"{side.kind} {side.name} ({side.role}, {side.topology})"


def network_lines(d: Decision) -> list[str]:
    """Why nothing connects two pods on different primary networks."""
    if d.networks is None:
        return []
    src, dst = network_label(d.networks.src), network_label(d.networks.dst)
    lines = [f"  networks differ: {d.src} is on {src}, {d.dst} on {dst}"]
    lines += [
        f"      {network_label(side)} declared at {side.origin.location()}"
        for side in (d.networks.src, d.networks.dst)
        if side.origin is not None
    ]
    return lines


def _network_json(split: NetworkSplit) -> dict[str, Any]:
    def side(s: NetworkSide) -> dict[str, Any]:
        if not s.kind:
            return {"kind": "default"}
        out: dict[str, Any] = {
            "kind": s.kind,
            "name": s.name,
            "role": s.role,
            "topology": s.topology,
        }
        if s.origin is not None:
            out["origin"] = {"file": s.origin.file, "line": s.origin.line}
        return out

    return {"src": side(split.src), "dst": side(split.dst), "label": "networks differ"}


def _entry_lines(d: Decision) -> list[str]:
    """From the ingress controller: the Ingress and Route objects that open ports to the
    destination; the policies below then decide those ports only."""
    if d.entries is None:
        return []
    head = f"  {'entry':<7} {d.dst}: "
    if not d.entries:
        return [head + "no Ingress or Route exposes it through a Service"]
    lines = [head + "exposed through " + ", ".join(f"{e.kind} {e.ref}" for e in d.entries)]
    for e in d.entries:
        where = f" ({e.origin.location()})" if e.origin is not None and e.origin.file else ""
        lines.append(
            f"      opens {format_conns(e.conns)} by {e.kind} {e.ref} -> Service {e.service}{where}"
        )
    return lines


def decision_text(d: Decision) -> str:
    word = "ALLOWED" if d.verdict is Verdict.ALLOW else "DENIED"
    conns = format_conns(d.requested if d.requested is not None else d.allowed)
    if d.requested is None and not d.allowed:
        conns = "no connections"
    if d.conditions and d.requested is None:
        conns = format_conditional(d.allowed, d.conditions)
    elif d.conditions and d.requested is not None and d.verdict is Verdict.ALLOW:
        conns = format_conditional(d.requested, [(c & d.requested, v) for c, v in d.conditions])
    lines = [f"{word:<8}{d.src} -> {d.dst}  {conns}"]
    if d.requested is not None and d.verdict is Verdict.DENY and d.allowed:
        lines.append(f"  (allowed between them: {format_conns(d.allowed)})")
    if d.partial:
        lines.append(
            "  (some addresses in the range are allowed more; shown is what every address gets)"
        )
    lines += network_lines(d)
    lines += _entry_lines(d)
    if d.layer is not Layer.MESH:
        lines += _trace_lines(d.egress, d.requested)
        lines += _trace_lines(d.ingress, d.requested)
    if d.mesh:
        lines += _mesh_lines(d)
    return "\n".join(lines) + "\n"


def staged_text(now: Decision, staged: Decision) -> str:
    """What Calico's staged policies would change for this pair: the verdict with them
    enforced, and the steps of the directions that change (`reach` prints it after the
    enforced answer when the input has staged policies)."""
    if staged.allowed == now.allowed:
        return "  staged policies change nothing here\n"
    conns = format_conns(staged.allowed) if staged.allowed else "no connections"
    head = f"  STAGED  with the staged policies enforced: {conns}"
    if staged.requested is not None:  # the verdict on the port asked about, then the rest
        verdict = "ALLOWED" if staged.verdict is Verdict.ALLOW else "DENIED"
        head = (
            f"  STAGED  {verdict} {format_conns(staged.requested)} with the staged policies "
            f"enforced (allowed between them: {conns})"
        )
    lines = [head]
    for before, after in ((now.egress, staged.egress), (now.ingress, staged.ingress)):
        if before.allowed != after.allowed:
            lines += ["  " + line for line in _trace_lines(after, staged.requested)]
    return "\n".join(lines) + "\n"


def _trace_json(t: Trace) -> dict[str, Any]:
    return {
        "endpoint": t.endpoint,
        "external": t.external,
        "isolated": t.isolated,
        "policies": list(t.policies),
        "guardrails": list(t.guardrails),
        "allowed": format_conns(t.allowed),
        "steps": [step_json(s) for s in t.steps],
    }


def decision_json(d: Decision, staged: Decision | None = None) -> str:
    """The decision; `staged`, the same query with Calico's staged policies enforced
    (`staged`: its verdict, connections and traces)."""
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
    if d.networks is not None:
        doc["networks"] = _network_json(d.networks)
    if d.entries is not None:
        doc["entries"] = [
            {
                "kind": e.kind,
                "ref": e.ref,
                "service": e.service,
                "conn": format_conns(e.conns),
                **(
                    {"origin": {"file": e.origin.file, "line": e.origin.line}}
                    if e.origin is not None and e.origin.file
                    else {}
                ),
            }
            for e in d.entries
        ]
    if d.layer is not Layer.NETWORK or d.mesh:
        doc["layer"] = d.layer.value
        doc["mesh"] = [step_json(s) for s in d.mesh]
        doc["conditions"] = [
            {
                "conn": format_conns(c),
                "requires": list(v.requires),
                "unless": list(v.unless),
                "label": condition_label(v),
            }
            for c, v in d.conditions
        ]
    if staged is not None:
        doc["staged"] = {
            "verdict": staged.verdict.value,
            "allowed": format_conns(staged.allowed),
            "changes": staged.allowed != d.allowed,
            "egress": _trace_json(staged.egress),
            "ingress": _trace_json(staged.ingress),
        }
    return json.dumps(doc, indent=2) + "\n"
