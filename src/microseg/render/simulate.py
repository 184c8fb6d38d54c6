"""A SimulationReport as text, JSON (kind SimulationReport) and JUnit XML.

Text leads with the answer (would anything observed break?), then the denied flows with
the engine's explanation, what a proposal changes, the disagreements with the recorded
verdicts, rule hits and rules never hit, unobserved workloads and unresolved endpoints.
JSON: `breaks`, `keys`, `records`, `replayed`, `skipped` ({reason: keys}), `denied`,
`newlyDenied`, `newlyAllowed`, `disagreements` ({total, items: flow}), a flow being
{src, dst, protocol, port, recorded, count, decision?: a ReachDecision}, `ruleHits`
({kind, policy, direction, rule, name, hits}), `rulesNeverHit`, `hitsSampled`,
`hitCells`, `unobservedWorkloads`, `unresolvedEndpoints`.
JUnit: one failing testcase per flow that would break (as listed), one passing testcase
for the rest, so CI shows the broken flows by name.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from microseg.analyses.simulate import RuleHit, SimFlow, SimulationReport, recorded_class
from microseg.render.escape import visible
from microseg.render.reach import decision_json, decision_text
from microseg.render.shape import envelope

__all__ = ["report_json", "report_junit", "report_text"]

SHOWN = 50


def _flow(f: SimFlow) -> str:
    return (
        f"{visible(f.src)} -> {visible(f.dst)}  {f.protocol} {f.port}  "
        f"x{f.count:,} [recorded {visible(f.recorded)}]"
    )


def _rule(h: RuleHit) -> str:
    name = f" ({visible(h.name)})" if h.name else ""
    return f"{h.kind} {visible(h.policy)} {h.direction} rule {h.rule}{name}"


def _section(title: str, flows: tuple[SimFlow, ...], total: int, explain: bool) -> list[str]:
    if not total:
        return []
    out = [f"{title} ({total:,} keys):"]
    for f in flows[:SHOWN]:
        out.append(f"  {_flow(f)}")
        if explain and f.decision is not None:
            out += ["      " + line for line in decision_text(f.decision).splitlines()]
    if total > min(len(flows), SHOWN):
        out.append(f"  ... {total - min(len(flows), SHOWN):,} more (-o json lists {len(flows):,})")
    return out


def report_text(r: SimulationReport) -> str:
    against = "the proposal" if r.proposal else "the policies"
    deny, allow = ("denies", "allows") if r.proposal else ("deny", "allow")
    if r.breaks:
        head = f"WOULD BREAK {r.breaking_total:,} observed flow keys: {against} {deny} them"
    else:
        head = f"OK: {against} {allow} every observed flow not recorded as denied"
    out = [head, f"replayed {r.replayed:,} of {r.keys:,} flow keys ({r.records:,} records)"]
    out += [f"  skipped {n:,}: {why}" for why, n in r.skipped]
    out += _section(f"Denied by {against}", r.denied, r.denied_total, True)
    out += _section("Newly denied by the proposal", r.newly_denied, r.newly_denied_total, False)
    out += _section("Newly allowed by the proposal", r.newly_allowed, r.newly_allowed_total, False)
    if r.disagreements_total:
        out.append(f"Disagreements with the recorded verdict ({r.disagreements_total:,} keys):")
        for f in r.disagreements[:SHOWN]:
            ours = "deny" if recorded_class(f.recorded).value == "allowed" else "allow"
            out.append(f"  {_flow(f)}, the current policies {ours}")
    sample = " (a sample: the heaviest cells)" if r.hits_sampled else ""
    out.append(f"Rule hits, from explaining {r.hit_cells:,} distinct flow cells{sample}:")
    out += [f"  {h.hits:>10,}  {_rule(h)}" for h in r.hits[:SHOWN]] or ["  none"]
    if r.never_hit:
        word = "not hit in the sample" if r.hits_sampled else "never hit"
        out.append(f"Rules {word} ({len(r.never_hit):,}):")
        out += [f"  {_rule(h)}" for h in r.never_hit[:SHOWN]]
    if r.unobserved:
        out.append(f"Workloads in no observed flow ({len(r.unobserved):,}):")
        out += [f"  {visible(w)}" for w in r.unobserved[:SHOWN]]
    if r.unresolved:
        out.append(f"Unresolved endpoints ({len(r.unresolved):,}), their keys skipped:")
        out += [f"  {visible(w)}" for w in r.unresolved[:SHOWN]]
    return "\n".join(out) + "\n"


def _flow_json(f: SimFlow) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "src": f.src,
        "dst": f.dst,
        "protocol": f.protocol,
        "port": f.port,
        "recorded": f.recorded,
        "count": f.count,
    }
    if f.decision is not None:
        doc["decision"] = json.loads(decision_json(f.decision))
    return doc


def _hit_json(h: RuleHit) -> dict[str, Any]:
    return {
        "kind": h.kind,
        "policy": h.policy,
        "direction": h.direction,
        "rule": h.rule,
        "name": h.name or None,
        "hits": h.hits,
    }


def report_json(r: SimulationReport) -> str:
    def part(flows: tuple[SimFlow, ...], total: int) -> dict[str, Any]:
        return {"total": total, "items": [_flow_json(f) for f in flows]}

    doc = envelope(
        "SimulationReport",
        breaks=r.breaks,
        proposal=r.proposal,
        keys=r.keys,
        records=r.records,
        replayed=r.replayed,
        skipped=dict(r.skipped),
        breaking=r.breaking_total,
        denied=part(r.denied, r.denied_total),
        newlyDenied=part(r.newly_denied, r.newly_denied_total),
        newlyAllowed=part(r.newly_allowed, r.newly_allowed_total),
        disagreements=part(r.disagreements, r.disagreements_total),
        ruleHits=[_hit_json(h) for h in r.hits],
        rulesNeverHit=[_hit_json(h) for h in r.never_hit],
        hitsSampled=r.hits_sampled,
        hitCells=r.hit_cells,
        unobservedWorkloads=list(r.unobserved),
        unresolvedEndpoints=list(r.unresolved),
    )
    return json.dumps(doc, indent=2) + "\n"


def report_junit(r: SimulationReport) -> str:
    breaking = [f for f in r.denied if recorded_class(f.recorded).value != "denied"]
    root = ET.Element(
        "testsuites",
        name="microseg simulate",
        tests=str(len(breaking) + 1),
        failures=str(len(breaking)),
        errors="0",
        time="0",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name="observed flows",
        tests=str(len(breaking) + 1),
        failures=str(len(breaking)),
        errors="0",
        skipped="0",
        time="0",
    )
    for f in breaking:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="microseg.simulate.denied",
            name=visible(f"{f.src} -> {f.dst} {f.protocol} {f.port}"),
            time="0",
        )
        failure = ET.SubElement(
            case, "failure", message=f"observed x{f.count} ({f.recorded}), now denied"
        )
        if f.decision is not None:
            failure.text = "\n".join(visible(x) for x in decision_text(f.decision).splitlines())
    ET.SubElement(
        suite,
        "testcase",
        classname="microseg.simulate.allowed",
        name=visible(f"{r.replayed - r.denied_total:,} replayed flow keys allowed"),
        time="0",
    )
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
