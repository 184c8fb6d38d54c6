"""render/text.py: a fixed width off a terminal, and tables that never split a word."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from microseg.render.text import TEXT_WIDTH, keep_words, print_text, text_console, text_width


def test_width_off_a_terminal_is_fixed() -> None:
    assert text_width() == TEXT_WIDTH
    assert text_console(no_color=True, file=io.StringIO()).width == TEXT_WIDTH


def test_a_wide_first_column_does_not_squeeze_header_words() -> None:
    # An entry point named after a long Helm release, as in public charts.
    table = Table()
    table.add_column("Entry -> workload", no_wrap=True)
    table.add_column("Routed ports")
    table.add_column("Status")
    table.add_row(
        "LoadBalancer my-release-ingress-nginx-controller-admission -> "
        "ingress-nginx/my-release-ingress-nginx-controller[Deployment]",
        "TCP 443 -> https -> 8443",
        "blocked by [NP isolated: no rule allows] (isolated by ingress-nginx/default-deny)",
    )
    console = Console(file=io.StringIO(), width=80, no_color=True, record=True)
    print_text(console, keep_words(table))
    text = console.export_text()
    assert "Routed" in text
    assert "ports" in text
    assert "ingress-nginx/default-deny)" in text
    assert "Rou" not in text.replace("Routed", "")
