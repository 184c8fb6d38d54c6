"""`microseg simulate`: replay the observed flow keys of a flow store against the policies
(or the policies with a proposal), say what would break and why. A check: exit 0 when
nothing observed would be denied, 1 when something would break, 2 on bad input.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from microseg.cli.commands.flows import open_store
from microseg.cli.common import EXIT_VIOLATION, FILES, Inputs, Session, fail
from microseg.cli.mesh_session import parse_layer
from microseg.cli.options import (
    HostNet,
    HostNetworkChoice,
    LayerOpt,
    NoColor,
    Paths,
    Quiet,
    output_option,
    reads_inputs,
)
from microseg.engine import Connectivity
from microseg.model import Cluster
from microseg.model.staged import enforce_staged

__all__ = ["SimulateFormat", "merge_proposal", "simulate"]


class SimulateFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"


def merge_proposal(base: Cluster, proposal: Cluster) -> Cluster:
    """The base cluster with the proposal's NetworkPolicies, guardrail policies and Calico
    policies, tiers and network sets added, each replacing the base's object of the same
    kind, namespace and name."""
    mine = {(p.namespace, p.name) for p in proposal.policies}
    admins = {(a.kind, a.name) for a in proposal.admin_policies}
    out = replace(
        base,
        policies=tuple(p for p in base.policies if (p.namespace, p.name) not in mine)
        + proposal.policies,
        admin_policies=tuple(a for a in base.admin_policies if (a.kind, a.name) not in admins)
        + proposal.admin_policies,
    )
    if not proposal.has_calico:
        return out
    new, old = proposal.calico, base.calico
    calico_keys = {(p.kind, p.namespace, p.name) for p in new.policies}
    tiers = {t.name for t in new.tiers}
    sets = {(s.namespace, s.name) for s in new.network_sets}
    calico = replace(
        old,
        present=True,
        policies=tuple(p for p in old.policies if (p.kind, p.namespace, p.name) not in calico_keys)
        + new.policies,
        tiers=tuple(t for t in old.tiers if t.name not in tiers) + new.tiers,
        network_sets=tuple(s for s in old.network_sets if (s.namespace, s.name) not in sets)
        + new.network_sets,
    )
    return replace(out, calico=calico)


@reads_inputs
def simulate(
    paths: Paths,
    flows: Annotated[
        str,
        typer.Option(
            "--flows", help="The flow store written by `microseg flows import`.", show_default=False
        ),
    ],
    proposal: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Proposed policies (file or folder, repeatable): added, or replacing the "
            "policies of the same kind, namespace and name.",
            show_default=False,
        ),
    ] = None,
    staged: Annotated[
        bool,
        typer.Option(
            "--staged",
            help="Replay against Calico's staged policies enforced (with --with: after "
            "the proposal): what they would break or open.",
        ),
    ] = False,
    output: Annotated[SimulateFormat, output_option(SimulateFormat)] = SimulateFormat.TEXT,
    host_network: HostNet = HostNetworkChoice.NODE,
    layer: LayerOpt = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Replay observed flows against the policies (or a proposal). Exit 0 nothing breaks, 1 something would."""
    from microseg.analyses.simulate import simulate as run
    from microseg.model.flows import EndpointResolver
    from microseg.render.simulate import report_json, report_junit, report_text

    if not Path(flows).exists():
        fail(f"--flows {flows}: no such flow store (create one with `microseg flows import`)")
    chosen = parse_layer(layer)
    session = Session(quiet, no_color, host_network.value, inputs=inputs)
    with open_store(flows) as store:
        keys = session.stage("reading flow keys", store.key_arrays)
    with session.progress():
        cluster = session.load(paths)
        current = session.stage(
            "computing connectivity", lambda: Connectivity.build(cluster, session.options)
        )
        after = None
        if proposal or staged:
            merged = (
                merge_proposal(cluster, session.load(proposal, files=True)) if proposal else cluster
            )
            merged = enforce_staged(merged) if staged else merged
            after = session.stage(
                "computing the proposal", lambda: Connectivity.build(merged, session.options)
            )
        if chosen is not None:
            current = current.with_layer(chosen)
            after = after.with_layer(chosen) if after is not None else None
        resolver = EndpointResolver(cluster, host_network is HostNetworkChoice.NODE)
        report = session.stage("replaying flows", lambda: run(current, keys, after, resolver))
    if output is SimulateFormat.JSON:
        sys.stdout.write(report_json(report))
    elif output is SimulateFormat.JUNIT:
        sys.stdout.write(report_junit(report))
    else:
        sys.stdout.write(report_text(report))
    raise typer.Exit(EXIT_VIOLATION if report.breaks else 0)
