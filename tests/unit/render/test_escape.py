"""Names from the input cannot break an output format or reach a terminal as escapes."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from microseg.render.connlist import render_connlist
from microseg.render.dot import render_dot
from microseg.render.escape import csv_cell, dot_quoted, md_cell, visible

EVIL = "shop/p\x1b[2J\x1b]8;;http://x\x07[Pod]"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain/name[Pod]", "plain/name[Pod]"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("line\nbreak", "line\\nbreak"),
        ("tab\there", "tab\\there"),
        ("del\x7f", "del\\x7f"),
        ("c1\x9b", "c1\\x9b"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("lone\ud800", "lone\\ud800"),
        ("caf\u00e9", "caf\u00e9"),  # printable non-ASCII stays as it is
    ],
)
def test_visible_shows_every_control_character(raw: str, shown: str) -> None:
    assert visible(raw) == shown
    assert visible(raw).encode("utf-8")  # always encodable


def test_md_cell_keeps_the_columns() -> None:
    assert md_cell("a|b\nc") == "a\\|b\\nc"


@pytest.mark.parametrize("lead", ["=", "+", "-", "@"])
def test_csv_cell_defuses_formulas(lead: str) -> None:
    assert csv_cell(f"{lead}cmd|' /C calc'!A0") == f"'{lead}cmd|' /C calc'!A0"
    assert csv_cell("shop/api[Deployment]") == "shop/api[Deployment]"


def test_dot_quoted_escapes_quotes_backslashes_and_controls() -> None:
    assert dot_quoted('a"b\\c\x1b') == '"a\\"b\\\\c\\\\x1b"'


ROWS = [(EVIL, "shop/db|x[Pod]", "TCP 80"), ("shop/a[Pod]", "shop/b[Pod]", "TCP 443")]


def test_connlist_txt_has_no_raw_escape() -> None:
    out = render_connlist(ROWS, "txt")
    assert "\x1b" not in out
    assert "\x07" not in out
    assert out.count("\n") == len(ROWS)


def test_connlist_md_keeps_three_columns() -> None:
    out = render_connlist(ROWS, "md")
    for line in out.splitlines():
        assert line.replace("\\|", "").count("|") == 4, line


def test_connlist_csv_round_trips_without_controls() -> None:
    out = render_connlist([*ROWS, ("=HYPERLINK(1)", "shop/b[Pod]", "TCP 1")], "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["src", "dst", "conn"]
    assert all(len(r) == 3 for r in rows)
    assert "\x1b" not in out
    assert rows[-1][0] == "'=HYPERLINK(1)"


def test_dot_output_stays_one_statement_per_line_and_printable() -> None:
    out = render_dot(ROWS)
    assert "\x1b" not in out
    assert "\x07" not in out
    assert out.startswith("digraph microseg {")
    assert out.rstrip().endswith("}")


def test_junit_is_well_formed_xml_with_hostile_names() -> None:
    # The attribute and text values go through visible(): an XML parser accepts the file.
    root = ET.Element("testcase", name=visible(EVIL))
    root.text = visible("explanation \x1b[0m")
    body = ET.tostring(root, encoding="unicode")
    assert ET.fromstring(body).get("name") == visible(EVIL)
