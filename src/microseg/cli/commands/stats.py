"""`microseg stats`: the size of the problem (workloads, classes, atoms, isolation, allowed
pairs) and where the time went, for sizing and benchmarks."""

from __future__ import annotations

from typing import Annotated

from rich.table import Table

from microseg.analyses.stats import compute_stats
from microseg.cli.common import FILES, Inputs, emit
from microseg.cli.mesh_session import mesh_connectivity, reading_session
from microseg.cli.options import (
    AssumeMesh,
    AssumeSystemPods,
    HostNet,
    HostNetworkChoice,
    IstioRoot,
    LayerOpt,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    TextOrJson,
    TrustDomain,
    output_option,
    reads_inputs,
)
from microseg.render.stats import stats_json, stats_rows
from microseg.render.text import keep_words, print_text

__all__ = ["StatsFormat", "stats"]


StatsFormat = TextOrJson


@reads_inputs
def stats(
    paths: Paths,
    output: Annotated[StatsFormat, output_option(StatsFormat)] = StatsFormat.TEXT,
    host_network: HostNet = HostNetworkChoice.NODE,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    assume_mesh: AssumeMesh = False,
    layer: LayerOpt = None,
    trust_domain: TrustDomain = "cluster.local",
    istio_root_namespace: IstioRoot = "istio-system",
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Counts: workloads, classes, atoms, isolation, allowed pairs, and time per stage."""
    session = reading_session(
        inputs, quiet, no_color, host_network, namespace, assume_system_pods, assume_mesh
    )
    conn = mesh_connectivity(session, paths, layer, trust_domain, istio_root_namespace)
    result = session.stage("counting", lambda: compute_stats(conn))
    if output is StatsFormat.JSON:
        emit(stats_json(result, session.timings))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    for name, value in stats_rows(result):
        table.add_row(name, value)
    for stage, seconds in session.timings.items():
        table.add_row(f"time: {stage}", f"{seconds:.3f} s")
    print_text(session.out, keep_words(table))
