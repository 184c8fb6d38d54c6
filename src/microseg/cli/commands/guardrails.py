"""`microseg guardrails export`: the pod rules of a guardrail file as ValidatingAdmissionPolicy
(+ binding) or Kyverno ClusterPolicy objects (YAML on stdout, or one file per object with
--out). Exit 0; 2 on bad guardrail files. Rules that need the engine (ingress isolation,
intents, label keys from policies) cannot be exported and are named in a notice."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from microseg.cli.common import EXIT_BAD_INPUT, emit
from microseg.cli.guardrail_files import load_guardrail_files
from microseg.cli.options import Quiet
from microseg.cli.usage import MicrosegCommand, MicrosegGroup, choice

__all__ = ["ExportTarget", "app", "export"]

app = typer.Typer(
    name="guardrails",
    cls=MicrosegGroup,
    rich_markup_mode="markdown",
    help="Guardrail files: export their pod rules to Kubernetes-native or Kyverno policies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ExportTarget(StrEnum):
    VAP = "validating-admission-policy"
    KYVERNO = "kyverno"


@app.command("export", cls=MicrosegCommand)
def export(
    guardrails: Annotated[
        list[str],
        typer.Option(
            "--guardrails", help="Guardrails file or folder (repeatable).", show_default=False
        ),
    ],
    to: Annotated[
        ExportTarget,
        typer.Option(
            "--to",
            parser=choice("--to", ExportTarget),
            help="validating-admission-policy or kyverno.",
        ),
    ],
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Folder to write one YAML file per object into.", show_default=False
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Write the pod rules as ValidatingAdmissionPolicies (CEL) or Kyverno ClusterPolicies."""
    from microseg.render.guardrails_export import kyverno_objects, vap_objects
    from microseg.render.webhook_install import install_yaml

    rules = load_guardrail_files(guardrails, quiet)
    objects, skipped = (vap_objects if to is ExportTarget.VAP else kyverno_objects)(rules)
    if skipped and not quiet:
        sys.stderr.write(
            f"notice: not exported (they need the engine and a cluster snapshot; use the "
            f"webhook): {', '.join(skipped)}\n"
        )
    if out is None:
        emit(install_yaml(objects))
        return
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for obj in objects:
            name = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            (folder / name).write_text(install_yaml([obj]), encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(f"error: --out {out}: {exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
