"""A blast radius for people (answer, table by hop count, why each hop is allowed), for
programs (JSON, kind BlastRadius) and as a Graphviz attack tree.

Each distinct hop is explained once, however many paths go through it: the paths of a
blast radius form a tree, so the explanations stay as long as the table.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from microseg.analyses.blast import BlastHit, BlastRadius, Hop
from microseg.engine import Decision, Step, StepKind, Tier, Trace, Verdict
from microseg.model.sets import ConnSet
from microseg.render.conns import condition_label, format_conns
from microseg.render.shape import envelope
from microseg.render.steps import step_json, step_label, step_origin

__all__ = ["BlastQuery", "blast_dot", "blast_json", "blast_text"]


@dataclass(frozen=True, slots=True)
class BlastQuery:
    """What was asked, for the headline and the JSON: how the sources were chosen (`from_`,
    e.g. `shop/cart` or `internet-exposed workloads`), the hop limit, the port filter, and
    the crown jewels asked for with --to (their node names)."""

    from_: str
    hops: int | None = None
    conns: ConnSet | None = None
    targets: tuple[str, ...] | None = None
    named: str | None = None
    """A named port asked for (`TCP/http`): resolved per destination, so not a ConnSet."""

    def port(self) -> str | None:
        if self.named is not None:
            return self.named
        return format_conns(self.conns) if self.conns is not None else None


def _hops_word(n: int) -> str:
    return f"{n} hop" if n == 1 else f"{n} hops"


def _names_workload(label: str, node: str) -> bool:
    """Whether the --from label is the node itself (`ns/name`, `ns/name[Kind]`)."""
    return label == node or node.startswith(label + "[")


def _headline(result: BlastRadius, q: BlastQuery) -> str:
    n = len(result.reachable)
    port = q.port()
    over = f" over {port}" if port is not None else ""
    if not result.sources:
        return f"{q.from_}: no workloads to start from"
    if len(result.sources) == 1 and _names_workload(q.from_, result.sources[0]):
        who = f"{result.sources[0]} compromised"
    elif len(result.sources) == 1:
        # An address, group or namespace that resolved to one workload: say what was asked.
        who = f"{q.from_} compromised (1 workload: {result.sources[0]})"
    else:
        who = f"{q.from_} compromised ({len(result.sources)} workloads)"
    if q.targets is not None:
        return f"{who}: {n} of {len(q.targets)} crown jewels reachable{over}" + (
            "; shortest paths below" if n else ""
        )
    if not n:
        return f"{who}: no workload reachable{over}"
    bound = q.hops if q.hops is not None else max(h.hops for h in result.reachable)
    noun = "workload" if n == 1 else "workloads"
    return f"{who}: {n} {noun} reachable in ≤ {_hops_word(bound)}{over}"


def _table(hits: tuple[BlastHit, ...]) -> list[str]:
    rows = [("HOPS", "WORKLOAD", "PATH")]
    rows += [(str(h.hops), h.workload, " -> ".join(h.path)) for h in hits]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return [f"{a.rjust(w0)}  {b.ljust(w1)}  {c}".rstrip() for a, b, c in rows]


def _why(trace: Trace, conns: ConnSet) -> list[str]:
    """The steps of one direction that let (part of) `conns` through, in evaluation order:
    admin Pass steps hand a port down, Allow steps (any tier, or the default) admit it. The
    head says what governs the endpoint, as `reach` does."""
    head = f"    {trace.direction.value.lower():<7} {trace.endpoint}: "
    if trace.external:
        return [head + "external address; no cluster policy applies"]
    parts = []
    if any(s.tier in (Tier.CALICO, Tier.PROFILE) for s in trace.steps):
        # Calico's tiers: `policies` names them with their kind (GNP, CalicoNP, NP), as reach
        parts.append("policies " + ", ".join(trace.policies) if trace.policies else "no tier")
    elif trace.isolated:
        parts.append("isolated by " + ", ".join(f"NP {p}" for p in trace.policies))
    else:
        parts.append("not isolated")
    if trace.guardrails:
        parts.append("guarded by " + ", ".join(trace.guardrails))
    lines = [head + "; ".join(parts)]
    if not trace.isolated and not trace.guardrails:
        return lines  # the default allows everything: nothing more to say
    for step in trace.steps:
        part = step.conns & conns
        if not part or step.effect not in (Verdict.ALLOW, Verdict.PASS):
            continue
        lines.append(f"      {format_conns(part)} {step_label(step)}{step_origin(step)}")
    return lines


def _mesh_steps(d: Decision, conns: ConnSet) -> list[Step]:
    """The destination's mesh steps that let part of `conns` through; none when the
    destination is outside the mesh (only `mesh`-kind notes)."""
    if all(s.kind is StepKind.MESH for s in d.mesh):
        return []
    return [s for s in d.mesh if s.effect is not Verdict.DENY and s.conns & conns]


def _mesh_why(d: Decision, conns: ConnSet) -> list[str]:
    """The Istio layer at the destination (when it counts): the steps that admit the hop and
    the L7 conditions an attacker's requests must meet."""
    steps = _mesh_steps(d, conns)
    if not steps and not d.conditions:
        return []
    lines = [f"    {'mesh':<7} {d.dst}:"]
    for step in steps:
        lines.append(
            f"      {format_conns(step.conns & conns)} {step_label(step)}{step_origin(step)}"
        )
    for part, verdict in d.conditions:
        if part & conns:
            lines.append(f"      {format_conns(part & conns)} only {condition_label(verdict)}")
    return lines


def _distinct_hops(hits: tuple[BlastHit, ...]) -> list[Hop]:
    seen: dict[tuple[str, str], Hop] = {}
    for hit in hits:
        for hop in hit.steps:
            seen.setdefault((hop.src, hop.dst), hop)
    return list(seen.values())


def _unreachable(result: BlastRadius, targets: tuple[str, ...]) -> list[str]:
    """Crown jewels neither reached nor held from the start."""
    done = {h.workload for h in result.reachable} | set(result.sources)
    return [t for t in targets if t not in done]


def _summary(hits: tuple[BlastHit, ...]) -> str:
    counts = Counter(h.hops for h in hits)
    parts = [f"{counts[k]} at {_hops_word(k)}" for k in sorted(counts)]
    return f"{len(hits)} reachable: " + ", ".join(parts) if hits else "0 reachable"


def blast_text(result: BlastRadius, q: BlastQuery) -> str:
    lines = [_headline(result, q)]
    if q.targets is not None:
        missing = _unreachable(result, q.targets)
        held = [t for t in q.targets if t in result.sources]
        if held:
            lines.append("  already compromised: " + ", ".join(held))
        if missing:
            within = f" in ≤ {_hops_word(q.hops)}" if q.hops is not None else ""
            lines.append(f"  not reachable{within}: " + ", ".join(missing))
    if len(result.sources) > 1:
        lines.append("  from: " + ", ".join(result.sources))
    if not result.reachable:
        return "\n".join(lines) + "\n"
    lines += ["", *_table(result.reachable)]
    hops = _distinct_hops(result.reachable)
    if any(h.decision is not None for h in hops):
        lines += ["", "Why each hop is allowed:"]
        for hop in hops:
            lines.append(f"  {hop.src} -> {hop.dst}  {format_conns(hop.conns)}")
            if hop.decision is not None:
                lines += _why(hop.decision.egress, hop.conns)
                lines += _why(hop.decision.ingress, hop.conns)
                lines += _mesh_why(hop.decision, hop.conns)
    lines += ["", _summary(result.reachable)]
    return "\n".join(lines) + "\n"


def _permits(trace: Trace, conns: ConnSet) -> list[dict[str, Any]]:
    return [
        step_json(s, conns, brief=True)
        for s in trace.steps
        if s.effect in (Verdict.ALLOW, Verdict.PASS) and s.conns & conns
    ]


def _hop_json(hop: Hop) -> dict[str, Any]:
    out: dict[str, Any] = {"src": hop.src, "dst": hop.dst, "conn": format_conns(hop.conns)}
    if hop.decision is not None:
        out["egress"] = _permits(hop.decision.egress, hop.conns)
        out["ingress"] = _permits(hop.decision.ingress, hop.conns)
        mesh = _mesh_steps(hop.decision, hop.conns)
        if mesh:
            out["mesh"] = [step_json(s, hop.conns, brief=True) for s in mesh]
        conditions = [
            {"conn": format_conns(c & hop.conns), "only": condition_label(v)}
            for c, v in hop.decision.conditions
            if c & hop.conns
        ]
        if conditions:
            out["conditions"] = conditions
    return out


def blast_json(result: BlastRadius, q: BlastQuery) -> str:
    """`from` and `reachable` (workload, hops, path) as the issue specifies; `edges`, each
    distinct hop of those paths once (src, dst, conn, and per direction the steps that let
    it through; with the Istio layer, `mesh` steps and L7 `conditions`); the query
    (`maxHops`, `port`); with crown jewels, `unreachable`."""
    fields: dict[str, Any] = {
        "from": list(result.sources),
        "maxHops": q.hops,
        "port": q.port(),
        "reachable": [
            {
                "workload": h.workload,
                "hops": h.hops,
                "path": list(h.path),
            }
            for h in result.reachable
        ],
        "edges": [_hop_json(hop) for hop in _distinct_hops(result.reachable)],
    }
    if q.targets is not None:
        fields["unreachable"] = _unreachable(result, q.targets)
    return json.dumps(envelope("BlastRadius", **fields), indent=2) + "\n"


def _q(text: str) -> str:
    """A quoted dot string; a newline in `text` becomes dot's line break `\\n`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def blast_dot(result: BlastRadius, q: BlastQuery) -> str:
    """The attack tree: sources in red, each reachable node with its hop count, one edge per
    hop of the shortest paths, labelled with what the attacker may use on it."""
    out = [
        "digraph blast_radius {",
        '  rankdir=LR; node [shape=box, style="rounded,filled", fillcolor="#e8f0fe", fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];',
    ]
    for s in result.sources:
        label = _q(f"{s}\ncompromised")
        out.append(f'  {_q(s)} [label={label}, fillcolor="#f8d7da"];')
    for h in result.reachable:
        label = _q(f"{h.workload}\n{_hops_word(h.hops)}")
        out.append(f"  {_q(h.workload)} [label={label}];")
    for hop in _distinct_hops(result.reachable):
        out.append(f"  {_q(hop.src)} -> {_q(hop.dst)} [label={_q(format_conns(hop.conns))}];")
    out.append("}")
    return "\n".join(out) + "\n"
