"""Untrusted text made safe for each output format, one function per format.

Names, labels and messages come from manifests anyone can write. Kubernetes accepts many
characters in some of them, and microseg keeps names as given, so every renderer passes
them through here: a terminal must never receive an escape sequence from the input (an
`ESC[2J` or an OSC 8 hyperlink), a Markdown table must keep its columns, DOT and XML must
stay well-formed (XML 1.0 forbids most control characters outright), and a spreadsheet
must not run a cell as a formula (OWASP "CSV Injection"). JSON needs nothing: the encoder
escapes control characters and lone surrogates itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = [
    "csv_cell",
    "dot_quoted",
    "escape_rows",
    "md_cell",
    "needs_escape",
    "terminal_safe",
    "visible",
]

# C0 and C1 controls and DEL; line and paragraph separators; the bidirectional overrides
# and isolates ("Trojan Source", CVE-2021-42574); lone surrogates (not encodable as UTF-8).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every control or invisible-direction character shown as an escape
    (`\\x1b`, `\\n`, `\\u202e`), so that it prints as what it is."""
    return _UNSAFE.sub(_shown, text) if _UNSAFE.search(text) else text


_UNSAFE_IN_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def terminal_safe(text: str) -> str:
    """A whole block of text output (lines, indentation and all) made safe to print: every
    control or invisible-direction character but newline and tab shown as an escape. For
    text renderers' finished output and diagnostics; single names go through `visible`."""
    return _UNSAFE_IN_TEXT.sub(_shown, text) if _UNSAFE_IN_TEXT.search(text) else text


def md_cell(text: str) -> str:
    """A Markdown table cell: visible, and `|` escaped so it cannot end the cell."""
    return visible(text).replace("|", "\\|")


_FORMULA = ("=", "+", "-", "@")


def csv_cell(text: str) -> str:
    """A CSV field: visible, and a leading formula character defused with a quote."""
    shown = visible(text)
    return "'" + shown if shown.startswith(_FORMULA) else shown


def dot_quoted(text: str) -> str:
    """A Graphviz quoted string (an ID or a label)."""
    return '"' + visible(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def needs_escape(cells: Iterable[str], cell: Callable[[str], str]) -> bool:
    """Whether any distinct cell changes under `cell` (the common case is none: renderers
    then keep their fast path)."""
    return any(cell(x) != x for x in set(cells))


def escape_rows(
    rows: list[tuple[str, str, str]], cell: Callable[[str], str]
) -> list[tuple[str, str, str]]:
    """`rows` with every cell through `cell`, each distinct cell escaped once."""
    memo: dict[str, str] = {}

    def one(x: str) -> str:
        y = memo.get(x)
        if y is None:
            y = memo[x] = cell(x)
        return y

    return [(one(s), one(d), one(c)) for s, d, c in rows]
