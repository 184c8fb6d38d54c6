"""A Recommendation as text and JSON (kind RecommendationReport), and the files it writes.

Text leads with the answer (is the set proven? how much more does it allow than was
observed?), then the files, over-permission per workload, the selectors chosen, the
findings and the rollout steps. JSON carries the same numbers (README, "Recommend and
generate").
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from microseg.analyses.synth import CLUSTER_GROUP, Generated, Proof, Recommendation
from microseg.render.conns import format_conns as conn_text
from microseg.render.escape import visible
from microseg.render.policy_yaml import file_text
from microseg.render.reach import decision_json, decision_text
from microseg.render.shape import envelope

__all__ = ["plan_files", "proof_json", "proof_text", "report_json", "report_text"]

SHOWN = 50
_SAFE = re.compile(r"[^a-z0-9.-]")


def _file_name(group: str) -> str:
    name = _SAFE.sub("_", group.lower()) or "_"
    return "cluster-guardrails" if group == CLUSTER_GROUP else name


def plan_files(
    generated: tuple[Generated, ...], order: list[str] | None = None, header: str = ""
) -> list[tuple[str, str, list[Generated]]]:
    """(file name, text, objects) per group: `<namespace>.yaml`, or `NN-<namespace>.yaml`
    in rollout `order`."""
    groups: dict[str, list[Generated]] = defaultdict(list)
    for g in generated:
        groups[g.group].append(g)
    names = order or sorted(groups, key=lambda n: (n == CLUSTER_GROUP, n))
    width = len(str(len(names)))
    out = []
    for k, group in enumerate(names, 1):
        objs = groups.get(group, [])
        base = _file_name(group)
        name = f"{k:0{width}d}-{base}.yaml" if order else f"{base}.yaml"
        out.append((name, file_text(objs, header), objs))
    return out


def proof_text(p: Proof) -> list[str]:
    out = []
    if not p.holds:
        out.append(
            f"FAILED: the generated set denies {p.failures:,} observed flow keys it learnt "
            "(a bug in microseg: please report it with this output)"
        )
    other = p.denied_total - p.failures
    if other:
        out.append(
            f"{other:,} observed flow keys stay denied by what the set cannot change "
            "(guardrail tiers, primary networks, the mesh, namespaces left out):"
        )
    for d in p.denied[:SHOWN]:
        out.append(
            f"  {visible(d.src)} -> {visible(d.dst)}  {d.protocol} {d.port}  x{d.count:,} [{d.cause}]"
        )
        if d.decision is not None and d.cause == "policy":
            out += ["      " + line for line in decision_text(d.decision).splitlines()]
    return out


def _score(observed: int, allowed: int) -> str:
    return f"{observed / allowed:.2f}" if allowed else "1.00"


def _excess_line(e: Any) -> str:
    arrow = "->" if e.direction == "egress" else "<-"
    return f"{arrow} {visible(e.peer)} {conn_text(e.conns)}"


def over_permission_text(p: Proof) -> list[str]:
    out = [
        f"Over-permission per workload (allowed, never observed; units: peer workload x port; "
        f"layer {p.layer}):"
    ]
    for w in p.workloads:
        head = f"  {visible(w.workload)}: {w.observed:,} observed of {w.allowed:,} allowed, score {_score(w.observed, w.allowed)}"
        if w.external_allowed:
            head += f"; external {w.external_observed:,} of {w.external_allowed:,} address-ports"
        out.append(head)
        for e in w.excess[:6]:
            out.append(f"      {_excess_line(e)}")
        if w.excess_peers > len(w.excess[:6]):
            out.append(f"      ... {w.excess_peers - len(w.excess[:6]):,} more peers (-o json)")
    return out


def report_text(
    r: Recommendation, out_dir: str, files: list[tuple[str, str, list[Generated]]]
) -> str:
    p = r.proof
    n = len(r.generated)
    if p.holds:
        head = (
            f"PROVEN {n:,} objects in {len(files):,} files written to {visible(out_dir)}: "
            f"all {p.checked_keys:,} observed flow keys learnt ({p.checked_records:,} records) "
            f"{'stay' if p.denied_total == p.failures else 'that the set governs stay'} allowed"
        )
    else:
        head = f"FAILED {n:,} objects written to {visible(out_dir)}: {p.failures:,} observed flow keys denied"
    out = [head]
    out.append(
        f"least privilege: {p.observed:,} of {p.allowed:,} allowed (workload pair, port) units "
        f"were observed (score {_score(p.observed, p.allowed)})"
        + (
            f"; external: {p.external_observed:,} of {p.external_allowed:,} address-ports"
            if p.external_allowed
            else ""
        )
    )
    s = r.stats
    first, last, cutoff = r.window
    span = f"{first or 'unknown'} to {last or 'unknown'}"
    out.append(
        f"learnt from {s.learnt_keys:,} of {s.keys:,} flow keys ({span}"
        + (f", since {cutoff}" if cutoff else "")
        + ")"
    )
    for n_, why in (
        (s.recorded_denied, "recorded as denied, not learnt"),
        (s.other_verdict, "with a verdict neither allowed nor denied, not learnt"),
        (s.below_min_count, "under --min-count, not learnt"),
    ):
        if n_:
            out.append(f"  {n_:,} keys {why}")
    out += [f"  {k:,} keys skipped: {why}" for why, k in s.skipped]
    if r.resolvers:
        out.append("DNS resolvers observed: " + ", ".join(visible(x) for x in r.resolvers))
    out += proof_text(p)
    out.append("Files:")
    for name, _, objs in files:
        kinds: dict[str, int] = defaultdict(int)
        for g in objs:
            kinds[g.kind] += 1
        out.append(f"  {name}: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    out += over_permission_text(p)
    if r.selectors:
        out.append("Selectors:")
        for w, c in r.selectors:
            out.append(f"  {visible(w)}: {visible(str(c.selector))} ({c.source})")
    if r.rollout:
        out.append("Rollout (apply in this order; each step replayed on the learnt flows):")
        for st, (name, _, _) in zip(r.rollout, files, strict=False):
            out.append(
                f"  {st.step}. {name}: {st.objects} objects, {st.records:,} records touch it, "
                f"{st.breaks:,} learnt keys would break"
            )
    if r.findings:
        out.append("Findings:")
        for f in r.findings:
            out.append(f"  {f.severity}[{f.code}] {visible(f.subject)}: {visible(f.message)}")
    return "\n".join(out) + "\n"


def proof_json(p: Proof) -> dict[str, Any]:
    return {
        "holds": p.holds,
        "layer": p.layer,
        "checkedKeys": p.checked_keys,
        "checkedRecords": p.checked_records,
        "denied": {
            "total": p.denied_total,
            "failures": p.failures,
            "items": [
                {
                    "src": d.src,
                    "dst": d.dst,
                    "protocol": d.protocol,
                    "port": d.port,
                    "count": d.count,
                    "cause": d.cause,
                    **(
                        {"decision": json.loads(decision_json(d.decision))}
                        if d.decision is not None
                        else {}
                    ),
                }
                for d in p.denied
            ],
        },
        "observed": p.observed,
        "allowed": p.allowed,
        "score": round(p.score, 6),
        "external": {"observed": p.external_observed, "allowed": p.external_allowed},
        "workloads": [
            {
                "workload": w.workload,
                "observed": w.observed,
                "allowed": w.allowed,
                "score": round(w.score, 6),
                "external": {"observed": w.external_observed, "allowed": w.external_allowed},
                "excess": {
                    "peers": w.excess_peers,
                    "items": [
                        {
                            "peer": e.peer,
                            "direction": e.direction,
                            "conn": conn_text(e.conns),
                            "units": e.units,
                        }
                        for e in w.excess
                    ],
                },
            }
            for w in p.workloads
        ],
    }


def report_json(
    r: Recommendation, out_dir: str, files: list[tuple[str, str, list[Generated]]]
) -> str:
    s = r.stats
    doc = envelope(
        "RecommendationReport",
        format=r.format.value,
        granularity=r.granularity,
        window={"firstSeen": r.window[0], "lastSeen": r.window[1], "since": r.window[2]},
        flows={
            "keys": s.keys,
            "records": s.records,
            "learntKeys": s.learnt_keys,
            "recordedDenied": s.recorded_denied,
            "otherVerdict": s.other_verdict,
            "belowMinCount": s.below_min_count,
            "edges": s.edges,
            "skipped": dict(s.skipped),
            "unresolvedEndpoints": list(s.unresolved),
        },
        out=out_dir,
        files=[
            {
                "path": name,
                "objects": [
                    {"kind": g.kind, "namespace": g.namespace, "name": g.name} for g in objs
                ],
            }
            for name, _, objs in files
        ],
        namespaces=list(r.covered),
        unseenWorkloads=list(r.unseen),
        dnsResolvers=list(r.resolvers),
        selectors=[
            {
                "workload": w,
                "selector": str(c.selector),
                "source": c.source,
                "neighbours": list(c.neighbours),
            }
            for w, c in r.selectors
        ],
        proof=proof_json(r.proof),
        rollout=[
            {
                "step": st.step,
                "file": name,
                "group": st.group,
                "objects": st.objects,
                "records": st.records,
                "breaks": st.breaks,
            }
            for st, (name, _, _) in zip(r.rollout, files, strict=False)
        ],
        findings=[
            {"code": f.code, "severity": f.severity, "subject": f.subject, "message": f.message}
            for f in r.findings
        ],
    )
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
