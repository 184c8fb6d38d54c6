"""`microseg schema NAME`: print a JSON Schema shipped with microseg (for editors and CI)."""

from __future__ import annotations

from typing import Annotated

import typer

from microseg.cli.common import emit, fail
from microseg.schemas import SCHEMAS, schema_text

__all__ = ["schema"]


def schema(
    name: Annotated[
        str, typer.Argument(help=f"Which schema: {', '.join(SCHEMAS)}.", show_default=False)
    ],
) -> None:
    """Print a JSON Schema shipped with microseg (e.g. `intent`, for editors and CI)."""
    if name not in SCHEMAS:
        fail(f"no schema {name!r}; expected one of: {', '.join(SCHEMAS)}")
    emit(schema_text(name))
