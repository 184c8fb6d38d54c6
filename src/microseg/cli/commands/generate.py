"""`microseg generate`: NetworkPolicies (and, with --format adminnetworkpolicy, namespace
guardrails) from segmentation intents, written to `--out DIR` and proven: `verify` passes
on the cluster plus the set, and nothing beyond the allow intents is allowed in their
scope. Exit 0 proven, 1 not (the report says why), 2 on bad input.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from microseg.cli.commands.recommend import bad_option
from microseg.cli.common import EXIT_VIOLATION, FILES, Inputs, Session, emit
from microseg.cli.intent_files import load_intent_files
from microseg.cli.options import (
    AssumeSystemPods,
    HostNet,
    HostNetworkChoice,
    NamespaceOpt,
    NoColor,
    Paths,
    Quiet,
    TextOrJson,
    output_option,
    reads_inputs,
)
from microseg.cli.policy_files import write_files

__all__ = ["GenerateFormat", "generate"]


class GenerateFormat(StrEnum):
    NETWORKPOLICY = "networkpolicy"
    ADMINNETWORKPOLICY = "adminnetworkpolicy"
    ISTIO = "istio"


@reads_inputs
def generate(
    paths: Paths,
    intents: Annotated[
        list[str],
        typer.Option(
            "--intents",
            help="SegmentationIntent files or folders (repeatable).",
            show_default=False,
        ),
    ],
    out: Annotated[
        str, typer.Option("--out", help="Folder to write the policy files to.", show_default=False)
    ],
    policy_format: Annotated[
        GenerateFormat,
        typer.Option(
            "--format",
            help="networkpolicy, or adminnetworkpolicy (the NetworkPolicies plus namespace guardrails).",
        ),
    ] = GenerateFormat.NETWORKPOLICY,
    replace_existing: Annotated[
        bool,
        typer.Option(
            "--replace-existing",
            help="Prove the set as a replacement of the NetworkPolicies of the namespaces it covers, not an addition.",
        ),
    ] = False,
    anp_priority: Annotated[
        int, typer.Option("--anp-priority", help="First AdminNetworkPolicy priority to use.")
    ] = 500,
    output: Annotated[TextOrJson, output_option(TextOrJson)] = TextOrJson.TEXT,
    namespace: NamespaceOpt = "default",
    assume_system_pods: AssumeSystemPods = False,
    host_network: HostNet = HostNetworkChoice.NODE,
    quiet: Quiet = False,
    no_color: NoColor = False,
    inputs: Inputs = FILES,
) -> None:
    """Policies from segmentation intents, proven by verify. Exit 0 proven, 1 not, 2 bad input."""
    from microseg.analyses.synth import PolicyFormat
    from microseg.analyses.synth.intents import generate as run
    from microseg.render.generate import generation_json, generation_text
    from microseg.render.recommend import plan_files

    if not 0 <= anp_priority <= 1000:
        bad_option("--anp-priority", f"{anp_priority}: expected 0-1000")
    session = Session(
        quiet,
        no_color,
        host_network.value,
        namespace=namespace,
        assume_system_pods=assume_system_pods,
        inputs=inputs,
    )
    chosen = load_intent_files(intents, quiet)
    with session.progress():
        cluster = session.load(paths)
        result = session.stage(
            "generating",
            lambda: run(
                cluster,
                chosen,
                PolicyFormat(policy_format.value),
                replace_existing,
                session.options,
                anp_priority,
            ),
        )
    header = result.generated[0].header if result.generated else ""
    files = plan_files(result.generated, None, header)
    write_files(out, [(name, text) for name, text, _ in files])
    if not quiet:
        for f in result.findings:
            if f.severity == "warning":
                sys.stderr.write(f"warning[{f.code}]: {f.subject}: {f.message}\n")
    if output is TextOrJson.JSON:
        emit(generation_json(result, out, files), escaped=True)
    else:
        emit(generation_text(result, out, files))
    raise typer.Exit(0 if result.holds else EXIT_VIOLATION)
