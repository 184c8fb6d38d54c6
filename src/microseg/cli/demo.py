"""`microseg demo`: the bundled shop, summarised for people, with the gap explained."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from rich.table import Table

from microseg.analyses.blast import blast_radius, sources_of
from microseg.analyses.verify import verify
from microseg.cli import demo_mesh
from microseg.cli.common import Session
from microseg.cli.demo_paths import find_demo
from microseg.cli.intent_files import load_intent_files
from microseg.engine import Connectivity, WorkloadGraph
from microseg.model.sets import ConnSet, Protocol
from microseg.render.blast import BlastQuery, blast_text
from microseg.render.conns import format_conns
from microseg.render.escape import terminal_safe
from microseg.render.reach import decision_text
from microseg.render.text import keep_words, plain, print_text
from microseg.render.verify import report_text

__all__ = ["run"]

GAP = ("frontend/webapp", "shop/postgres", ConnSet.single(Protocol.TCP, 5432))
BLAST_FROM = "frontend/webapp"
INTENTS = "intents.yaml"
GUARDRAILS = (
    ("shop/cart", "payments/payment-service", ConnSet.single(Protocol.TCP, 8443)),
    ("payments/payment-service", "payments/fraud-check", ConnSet.single(Protocol.TCP, 8080)),
)


def run(session: Session, path: Path | None) -> None:
    folder = find_demo(path)
    conn = session.connectivity([str(folder)])
    graph = WorkloadGraph.build(conn)
    out = session.out
    out.rule(f"[bold]microseg demo[/bold]: {folder}")

    workloads = Table(title="Workloads and isolation", title_justify="left")
    for col in ("workload", "pods", "ingress", "egress"):
        workloads.add_column(col)
    pods_per = Counter(p.workload for p in conn.cluster.pods)
    both = 0
    for w in conn.cluster.workloads:
        idx = next(i for i, p in enumerate(conn.cluster.pods) if p.workload == w.key)
        c = int(conn.classes.pod_class[idx])
        ing, eg = bool(conn.ingress.isolated[c]), bool(conn.egress.isolated[c])
        both += ing and eg
        n = pods_per[w.key]
        pods = "template" if conn.cluster.pods[idx].from_template else str(n)
        workloads.add_row(plain(str(w.key)), pods, _iso(ing), _iso(eg))
    print_text(out, keep_words(workloads))

    edges = Table(title="Allowed connections between workloads", title_justify="left")
    for col in ("from", "to", "connections"):
        edges.add_column(col)
    for s, d, k in zip(graph.src.tolist(), graph.dst.tolist(), graph.conn_id.tolist(), strict=True):
        edges.add_row(plain(graph.nodes[s]), plain(graph.nodes[d]), format_conns(graph.conns[k]))
    print_text(out, keep_words(edges))
    n_ext = len({(e.node, e.outbound) for e in graph.external})
    out.print(
        f"{len(conn.cluster.workloads)} workloads, {both} isolated both ways, "
        f"{len(graph.src)} allowed edges between workloads, {n_ext} workload-direction pairs open to external addresses"
    )
    out.rule("[bold red]The gap[/bold red]: can the frontend reach the database directly?")
    src, dst, conns = GAP
    decision = conn.reach(src, dst, conns)
    sys.stdout.flush()
    out.print(terminal_safe(decision_text(decision)), end="", markup=False)
    out.print(
        "\nWhy: namespace 'frontend' carries the label tenant=shop, and the postgres policy admits "
        "every pod of any namespace with that label. Fix it with a podSelector on the postgres rule.",
        markup=False,
    )
    out.rule("[bold]Guardrails[/bold]: the platform team's AdminNetworkPolicy and baseline")
    for src, dst, conns in GUARDRAILS:
        out.print(terminal_safe(decision_text(conn.reach(src, dst, conns))), end="", markup=False)
    _verify(session, folder, conn, graph)
    out.rule(f"[bold]Blast radius[/bold]: what an attacker holding {BLAST_FROM} can reach")
    radius = blast_radius(conn, graph, sources_of(conn, graph, BLAST_FROM), explain=False)
    out.print(terminal_safe(blast_text(radius, BlastQuery(BLAST_FROM))), end="", markup=False)
    if conn.cluster.has_mesh:
        demo_mesh.run(session, folder, conn)


def _verify(session: Session, folder: Path, conn: Connectivity, graph: WorkloadGraph) -> None:
    """The teams' segmentation intents (intents.yaml beside the manifests), checked."""
    path = folder / INTENTS
    if not path.is_file():
        return
    intents = load_intent_files([str(path)], session.quiet)
    session.out.rule(f"[bold]Verify[/bold]: the segmentation intents in {path}")
    report = verify(conn, intents, graph)
    session.out.print(terminal_safe(report_text(report)), end="", markup=False)


def _iso(isolated: bool) -> str:
    return "[green]isolated[/green]" if isolated else "[red]open[/red]"
