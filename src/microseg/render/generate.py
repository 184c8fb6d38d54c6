"""A Generation (`microseg generate --intents`) as text and JSON (kind GenerationReport).

JSON: `holds`, `format`, `files` [{path, objects}], `namespaces`, `verification`
({summary, findings} as `verify -o json` gives them), `excess` ({total, items: [{src, dst,
conn}]}: what the scope allows beyond the allow intents), `selectors`, `findings`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from microseg.analyses.synth import Generated
from microseg.analyses.synth.intents import Generation
from microseg.render.conns import format_conns
from microseg.render.escape import visible
from microseg.render.shape import envelope
from microseg.render.verify import endpoint_label, finding_json, summary_line, violation_lines

__all__ = ["generation_json", "generation_text"]

SHOWN = 50


def generation_text(
    g: Generation, out_dir: str, files: list[tuple[str, str, list[Generated]]]
) -> str:
    n_allow = sum(1 for f in g.report.findings if f.kind == "allow")
    if g.holds:
        head = (
            f"PROVEN {len(g.generated):,} objects in {len(files):,} files written to {visible(out_dir)}: "
            f"every intent holds, and nothing beyond the {n_allow} allow intents is allowed in "
            f"or out of the {len(g.covered)} namespaces they cover"
        )
    else:
        head = f"FAILED {len(g.generated):,} objects written to {visible(out_dir)}: the proof does not hold"
    out = [head, f"verify: {summary_line(g.report)}"]
    for v in g.report.violations:
        out += ["  " + line for line in violation_lines(v)]
    if g.excess.total:
        out.append(
            f"excess: {g.excess.total:,} flows in or out of the scope that no allow intent covers "
            "(existing policies kept beside the set, or selectors shared with neighbours):"
        )
        for row in g.excess.rows[:SHOWN]:
            out.append(
                f"  {visible(endpoint_label(row.src))} -> {visible(endpoint_label(row.dst))}  {format_conns(row.conns)}"
            )
    else:
        out.append("excess: none (the scope allows exactly the allow intents)")
    out.append("Files:")
    for name, _, objs in files:
        kinds: dict[str, int] = defaultdict(int)
        for o in objs:
            kinds[o.kind] += 1
        out.append(f"  {name}: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    if g.findings:
        out.append("Findings:")
        for f in g.findings:
            out.append(f"  {f.severity}[{f.code}] {visible(f.subject)}: {visible(f.message)}")
    return "\n".join(out) + "\n"


def generation_json(
    g: Generation, out_dir: str, files: list[tuple[str, str, list[Generated]]]
) -> str:
    rep = g.report
    doc: dict[str, Any] = envelope(
        "GenerationReport",
        holds=g.holds,
        format=g.format.value,
        out=out_dir,
        files=[
            {
                "path": name,
                "objects": [
                    {"kind": o.kind, "namespace": o.namespace, "name": o.name} for o in objs
                ],
            }
            for name, _, objs in files
        ],
        namespaces=list(g.covered),
        verification={
            "summary": {
                "intents": len(rep.findings),
                "violated": len(rep.violations),
                "holds": len(rep.findings) - len(rep.violations),
            },
            "findings": [finding_json(f) for f in rep.findings],
            "notes": list(rep.notes),
        },
        excess={
            "total": g.excess.total,
            "items": [
                {
                    "src": endpoint_label(r.src),
                    "dst": endpoint_label(r.dst),
                    "conn": format_conns(r.conns),
                }
                for r in g.excess.rows
            ],
        },
        selectors=[
            {
                "workload": w,
                "selector": str(c.selector),
                "source": c.source,
                "neighbours": list(c.neighbours),
            }
            for w, c in g.selectors
        ],
        findings=[
            {"code": f.code, "severity": f.severity, "subject": f.subject, "message": f.message}
            for f in g.findings
        ],
    )
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
