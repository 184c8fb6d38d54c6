"""`microseg demo` (and `make demo`): the bundled shop analysed end to end. The tour itself
lives in microseg.cli.demo and demo_mesh; this module is only the command's options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from microseg.cli.common import Session
from microseg.cli.options import NoColor, Quiet

__all__ = ["demo"]


def demo(
    path: Annotated[
        Path | None, typer.Option("--path", help="The demo folder (default: examples/demo).")
    ] = None,
    quiet: Quiet = False,
    no_color: NoColor = False,
) -> None:
    """Analyse the bundled demo shop: workloads, isolation, allowed edges, and the gap."""
    from microseg.cli import demo as demo_cmd  # only this command needs the whole tour

    demo_cmd.run(Session(quiet, no_color), path)
