"""Graphviz rendering of the connectivity list: namespaces as clusters, external ranges apart."""

from __future__ import annotations

from collections import defaultdict

from microseg.render.escape import dot_quoted

__all__ = ["render_dot"]


_q = dot_quoted


def render_dot(rows: list[tuple[str, str, str]]) -> str:
    by_ns: dict[str, set[str]] = defaultdict(set)
    external: set[str] = set()
    for s, d, _ in rows:
        for peer in (s, d):
            if peer.endswith("[External]"):
                external.add(peer)
            elif "/" in peer:
                by_ns[peer.split("/", 1)[0]].add(peer)
            else:
                external.add(peer)
    out = [
        "digraph microseg {",
        '  rankdir=LR; node [shape=box, style="rounded,filled", fillcolor="#e8f0fe", fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];',
    ]
    for i, ns in enumerate(sorted(by_ns)):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f'    label={_q("namespace " + ns)}; style="rounded"; color="#5f6368";')
        for peer in sorted(by_ns[ns]):
            label = peer.split("/", 1)[1]
            out.append(f"    {_q(peer)} [label={_q(label)}];")
        out.append("  }")
    for peer in sorted(external):
        out.append(
            f'  {_q(peer)} [label={_q(peer.removesuffix("[External]"))}, shape=ellipse, fillcolor="#fde7e9"];'
        )
    for s, d, c in rows:
        out.append(f"  {_q(s)} -> {_q(d)} [label={_q(c)}];")
    out.append("}")
    return "\n".join(out) + "\n"
