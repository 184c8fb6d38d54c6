"""The audit report's pictures as inline SVG, laid out here in Python (no script runs in
the report): the namespace segmentation graph, isolation coverage per namespace, and the
most powerful RBAC subjects.

The graph: namespaces on a circle (in name order, so a picture is stable from run to run),
the internet on the left; an arrow per pair of namespaces with an allowed connection, its
width growing with the number of workload pairs; red arrows are paths a finding condemns
(cross-tenant, intent violations); orange arrows come in from the internet, dashed ones go
out to it. A namespace's ring says how much of it is isolated: green all its workloads
both ways, amber some, red none. Beyond `MAX_NODES` namespaces the busiest are drawn and the
rest counted in the caption.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from microseg.analyses.audit import AuditReport

__all__ = ["coverage_svg", "namespace_graph_svg", "power_svg"]

MAX_NODES = 24
RED, AMBER, GREEN, GREY, ORANGE, BLUE = (
    "#c62828",
    "#ef8f00",
    "#2e7d32",
    "#9e9e9e",
    "#e65100",
    "#1565c0",
)


def _t(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _ring(ingress: int, egress: int, total: int) -> str:
    """Green: every workload isolated both ways; red: none isolated either way; else amber."""
    if total == 0:
        return GREY
    if ingress >= total and egress >= total:
        return GREEN
    return AMBER if ingress or egress else RED


def namespace_graph_svg(report: AuditReport) -> tuple[str, str]:
    """The SVG and its caption."""
    g = report.graph
    n = len(g.namespaces)
    degree = [0] * n
    for a, b, _ in g.edges:
        degree[a] += 1
        degree[b] += 1
    keep = sorted(
        range(n),
        key=lambda i: (
            -degree[i] - g.internet_in[i] if g.internet_in else -degree[i],
            g.namespaces[i],
        ),
    )[:MAX_NODES]
    keep.sort(key=lambda i: g.namespaces[i])
    pos: dict[int, tuple[float, float]] = {}
    w, h = 900, 620
    cx, cy, r = 520, 310, 230 if len(keep) > 2 else 150
    for k, i in enumerate(keep):
        angle = -math.pi / 2 + 2 * math.pi * k / max(1, len(keep))
        pos[i] = (cx + r * math.cos(angle), cy + r * math.sin(angle))
    inet = (70.0, cy)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="Namespace segmentation graph" class="nsgraph">',
        "<defs>",
    ]
    for name, colour in (("g", "#607d8b"), ("r", RED), ("o", ORANGE), ("b", BLUE)):
        out.append(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" '
            f'markerHeight="11" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    node_r = 30
    biggest = max((c for _, _, c in g.edges), default=1)

    def edge(
        p: tuple[float, float],
        q: tuple[float, float],
        colour: str,
        marker: str,
        width: float,
        dash: str = "",
        title: str = "",
    ) -> None:
        (x1, y1), (x2, y2) = p, q
        dx, dy = x2 - x1, y2 - y1
        dist = math.hypot(dx, dy) or 1.0
        ux, uy = dx / dist, dy / dist
        sx, sy = x1 + ux * node_r, y1 + uy * node_r
        ex, ey = x2 - ux * (node_r + 4), y2 - uy * (node_r + 4)
        # a gentle curve, so that a -> b and b -> a stay apart
        mx, my = (sx + ex) / 2 - uy * 18, (sy + ey) / 2 + ux * 18
        style = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<path d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}" fill="none" '
            f'stroke="{colour}" stroke-width="{width:.1f}"{style} marker-end="url(#arrow-{marker})">'
            f"<title>{_t(title)}</title></path>"
        )

    for a, b, count in g.edges:
        if a == b or a not in pos or b not in pos:
            continue
        bad = (a, b) in g.violations
        width = 1.2 + 3.5 * math.log1p(count) / math.log1p(biggest)
        edge(
            pos[a],
            pos[b],
            RED if bad else "#607d8b",
            "r" if bad else "g",
            width + (1.5 if bad else 0),
            title=f"{g.namespaces[a]} -> {g.namespaces[b]}: {count} workload pair(s)"
            + (" — violation" if bad else ""),
        )
    for i in keep:
        if g.internet_in and g.internet_in[i]:
            edge(
                inet,
                pos[i],
                ORANGE,
                "o",
                2.5,
                title=f"internet -> {g.namespaces[i]}: {g.internet_in[i]} workload(s) reachable",
            )
        if g.internet_out and g.internet_out[i]:
            edge(
                pos[i],
                inet,
                BLUE,
                "b",
                1.2,
                "5,4",
                f"{g.namespaces[i]} -> internet: {g.internet_out[i]} workload(s)",
            )
    out.append(
        f'<g><circle cx="{inet[0]}" cy="{inet[1]}" r="{node_r + 6}" fill="#fff3e0" stroke="{ORANGE}" stroke-width="3"/>'
        f'<text x="{inet[0]}" y="{inet[1] + 5}" text-anchor="middle" font-size="14" font-weight="bold">internet</text></g>'
    )
    for i in keep:
        x, y = pos[i]
        total = g.workloads[i]
        colour = _ring(g.isolated_in[i], g.isolated_out[i], total)
        name = g.namespaces[i]
        label = name if len(name) <= 18 else name[:17] + "…"
        out.append(
            f"<g><title>{_t(name)}: {total} workload(s), {g.isolated_in[i]} isolated for ingress, "
            f"{g.isolated_out[i]} for egress</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{node_r}" fill="#ffffff" stroke="{colour}" stroke-width="6"/>'
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" font-size="13" font-weight="bold">{total}</text>'
            f'<text x="{x:.1f}" y="{y + node_r + 18:.1f}" text-anchor="middle" font-size="13" '
            f'stroke="#ffffff" stroke-width="4" paint-order="stroke">{_t(label)}</text></g>'
        )
    legend = [
        (GREEN, "ring: every workload isolated both ways"),
        (AMBER, "ring: some isolated, or one way only"),
        (RED, "ring: none isolated / path a finding condemns"),
        (ORANGE, "reached from the internet"),
        (BLUE, "reaches the internet (dashed)"),
    ]
    for k, (colour, text) in enumerate(legend):
        y = 20 + 20 * k
        out.append(
            f'<rect x="12" y="{y - 10}" width="14" height="10" fill="{colour}"/>'
            f'<text x="32" y="{y}" font-size="12">{_t(text)}</text>'
        )
    out.append("</svg>")
    hidden = n - len(keep)
    caption = (
        f"{n} namespace(s), {len(g.edges)} namespace-to-namespace path(s); the number in a "
        "circle is its workload count; an arrow's width grows with the workload pairs it carries"
    )
    if hidden:
        caption += f"; the {len(keep)} busiest namespaces are drawn, {hidden} more are not"
    return "\n".join(out), caption


def coverage_svg(report: AuditReport) -> str:
    """Per namespace, two bars: the share of its workloads isolated for ingress and for
    egress."""
    g = report.graph
    rows = list(range(len(g.namespaces)))[:60]
    bar_w, left, row_h = 420, 190, 30
    h = 40 + row_h * len(rows)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 {h}" width="100%" role="img" '
        'aria-label="Isolation coverage per namespace" class="coverage">',
        f'<text x="{left}" y="16" font-size="12">0%</text>'
        f'<text x="{left + bar_w - 30}" y="16" font-size="12">100%</text>',
        f'<rect x="10" y="6" width="12" height="10" fill="{GREEN}"/>'
        f'<text x="26" y="15" font-size="12">ingress</text>'
        f'<rect x="90" y="6" width="12" height="10" fill="{BLUE}"/>'
        f'<text x="106" y="15" font-size="12">egress</text>',
    ]
    for k, i in enumerate(rows):
        y = 30 + row_h * k
        total = max(1, g.workloads[i])
        fin, fout = g.isolated_in[i] / total, g.isolated_out[i] / total
        name = g.namespaces[i]
        out.append(
            f'<text x="{left - 8}" y="{y + 16}" font-size="13" text-anchor="end">{_t(name[:26])}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{bar_w}" height="11" fill="#eceff1"/>'
            f'<rect x="{left}" y="{y + 2}" width="{bar_w * fin:.1f}" height="11" fill="{GREEN}">'
            f"<title>{_t(name)}: {g.isolated_in[i]}/{g.workloads[i]} isolated for ingress</title></rect>"
            f'<rect x="{left}" y="{y + 15}" width="{bar_w}" height="11" fill="#eceff1"/>'
            f'<rect x="{left}" y="{y + 15}" width="{bar_w * fout:.1f}" height="11" fill="{BLUE}">'
            f"<title>{_t(name)}: {g.isolated_out[i]}/{g.workloads[i]} isolated for egress</title></rect>"
            f'<text x="{left + bar_w + 8}" y="{y + 17}" font-size="12">'
            f"{round(100 * fin)}% / {round(100 * fout)}%</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def power_svg(report: AuditReport, top: int = 10) -> str:
    """The subjects with the most dangerous permissions, as bars of their power score (each
    capability weighs its severity, doubled when held cluster-wide)."""
    rows = report.power[:top]
    if not rows:
        return ""
    most = max(p.score for p in rows) or 1
    left, bar_w, row_h = 320, 220, 34
    h = 20 + row_h * len(rows)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 900 {h}" width="100%" role="img" '
        'aria-label="Most powerful RBAC subjects" class="power">'
    ]
    for k, p in enumerate(rows):
        y = 10 + row_h * k
        width = bar_w * p.score / most
        held = sorted({c.removeprefix("AUD-RBAC-") for c, _ in p.capabilities})
        caps = ", ".join(held[:4]) + (f" +{len(held) - 4}" if len(held) > 4 else "")
        wide = any(s == "cluster" for _, s in p.capabilities)
        out.append(
            f'<text x="{left - 8}" y="{y + 16}" font-size="13" text-anchor="end">{_t(p.subject[:44])}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{width:.1f}" height="16" fill="{RED if wide else AMBER}">'
            f"<title>{_t(p.subject)}: score {p.score}</title></rect>"
            f'<text x="{left + width + 6:.1f}" y="{y + 16}" font-size="12">{p.score} · RBAC {_t(caps)}'
            f"{' · cluster-wide' if wide else ''}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
