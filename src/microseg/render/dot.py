"""Graphviz rendering of the connectivity list: namespaces as clusters, external ranges apart.

A graph names its nodes before its edges, so the streamed list (render/connlist.py) is
read twice: once for the nodes, once for the edges, never held whole."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from microseg.render.escape import dot_quoted

__all__ = ["render_dot", "write_dot"]


_q = dot_quoted
Row = tuple[str, str, str]


def render_dot(rows: list[Row]) -> str:
    parts: list[str] = []
    write_dot(lambda: [rows], parts.append)
    return "".join(parts)


def write_dot(chunks: Callable[[], Iterable[list[Row]]], write: Callable[[str], object]) -> None:
    """`chunks()` gives the sorted rows afresh on each call (two passes)."""
    by_ns: dict[str, set[str]] = defaultdict(set)
    external: set[str] = set()
    for rows in chunks():
        for s, d, _ in rows:
            for peer in (s, d):
                if peer.endswith("[External]"):
                    external.add(peer)
                elif "/" in peer:
                    by_ns[peer.split("/", 1)[0]].add(peer)
                else:
                    external.add(peer)
    # newrank: one global ranking across the namespace clusters. Dot's default ranking is
    # recursive on clusters and, on dense graphs with many edges between clusters, Graphviz
    # 2.43 (Debian's) stops with "trouble in init_rank" and writes nothing (found by the fuzz
    # suite on the peer corpus); https://graphviz.org/docs/attrs/newrank/
    out = [
        "digraph microseg {",
        '  rankdir=LR; newrank=true; node [shape=box, style="rounded,filled", fillcolor="#e8f0fe", fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];',
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
    write("\n".join(out) + "\n")
    for rows in chunks():
        write("".join([f"  {_q(s)} -> {_q(d)} [label={_q(c)}];\n" for s, d, c in rows]))
    write("}\n")
