"""Text output for people, on a terminal or not.

Off a terminal (a pipe, a file, CI logs) rich assumes 80 columns, so wide tables squeezed
their columns until header words broke ("Rou/ted/por/ts") and identifiers were cut in the
middle; giving the table a huge width instead made 1,000-character lines. The rule here:
off a terminal the width is fixed (``TEXT_WIDTH``), and tables wrap only between words: every column is at least as wide as
its longest word, so a line may run past the width when the words demand it, but no word
is ever split.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from microseg.render.escape import visible
from microseg.render.width import TEXT_WIDTH, text_width

__all__ = ["TEXT_WIDTH", "keep_words", "plain", "print_text", "text_console", "text_width"]


def text_console(no_color: bool, file: IO[str] | None = None) -> Console:
    """The console of a command's result: rich's own sizing on a terminal, a fixed width
    otherwise (see the module docstring)."""
    stream = file if file is not None else sys.stdout
    terminal = stream.isatty() if hasattr(stream, "isatty") else False
    width = None if terminal else text_width()
    return Console(file=file, width=width, no_color=no_color, highlight=False, soft_wrap=True)


def plain(text: str) -> Text:
    """A table cell from the input (a name, a label): shown as the characters it has, never
    read as rich markup (a pod named `p[/]` would otherwise crash the table, `[bold]x` lose
    its brackets) and with control characters visible."""
    return Text(visible(text))


def _longest(cell: object, whole_lines: bool) -> int:
    if isinstance(cell, Text):
        plain = cell.plain
    elif isinstance(cell, str):
        plain = Text.from_markup(cell).plain
    else:  # another renderable: rich measures it itself
        return 0
    parts = plain.splitlines() if whole_lines else plain.split()
    return max((len(part) for part in parts), default=0)


def keep_words(table: Table) -> Table:
    """Each column at least as wide as its longest word (header included; a no_wrap
    column: its longest line), so rich wraps cells between words and never inside one;
    returns the table for chaining."""
    for column in table.columns:
        cells = [column.header, *column.cells]
        longest = max(_longest(c, column.no_wrap) for c in cells)
        if longest and (column.min_width is None or column.min_width < longest):
            column.min_width = longest
    return table


def print_text(console: Console, renderable: RenderableType) -> None:
    """Print tables (built with keep_words) without splitting words. On a terminal rich
    sizes them to the screen; off one, the console's width grows for this renderable when
    its words need more (each column at its minimum), and nothing is cropped."""
    if console.is_terminal:
        console.print(renderable)
        return
    wide = console.options.update_width(1_000_000)
    need = Measurement.get(console, wide, renderable).minimum
    width = console.width
    console.width = max(width, need)
    try:
        console.print(renderable, crop=False)
    finally:
        console.width = width
