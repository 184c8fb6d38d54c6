"""netpol-analyzer's expected-output file names, read back into the options that made them,
and those options applied to microseg's whole output.

netpol-analyzer names a file `<folder>[_focus_workload_<w>[_<direction>][_with_<peers>]]
[_<proto>-<port>]_<output>.<fmt>` (pkg/internal/testutils, ConnlistTestNameByTestArgs),
with a workload written `name` or `ns_name` and several joined by `_`. microseg's
`connectivity` takes one `--focus-workload`; the rest is applied here as netpol-analyzer
defines it (pkg/netpol/connlist/connlist.go, includePairOfWorkloads; exposure_map.go):

- a row is kept when one end is a focus workload and the other a focus peer (any peer when
  none is given); with a focus direction, the focus workload must be the source (egress)
  or the destination (ingress);
- exposure rows are kept for focus workloads (in the focus direction);
- with a focus connection, rows whose connection holds it are kept and written as it; a
  potential peer the entire-cluster connection already covers on it is dropped, and the
  list of unprotected workloads is not printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.conformance.exposure_canonical import Row, parse_ports

__all__ = ["Case", "cases", "focused"]

FORMATS = ("txt", "json", "csv", "md")
_CONN = re.compile(r"^(tcp|udp|sctp)-(\d+)$")


@dataclass(frozen=True)
class Case:
    expected: Path
    folder: str
    fmt: str
    focus: tuple[str, ...] = ()
    direction: str | None = None
    conn: str | None = None
    peers: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.expected.name


def options(rest: str) -> tuple[tuple[str, ...], str | None, str | None, tuple[str, ...]]:
    """(focus workloads, direction, connection, focus peers) from a file name's tail."""
    tokens = [t for t in rest.split("_") if t]
    conn = direction = None
    if tokens and _CONN.match(tokens[-1]):
        m = _CONN.match(tokens.pop())
        assert m is not None
        conn = f"{m[1].upper()} {m[2]}"
    peers: tuple[str, ...] = ()
    if "with" in tokens:
        at = tokens.index("with")
        tokens, peers = tokens[:at], tuple(tokens[at + 1 :])
    if tokens and tokens[-1] in ("egress", "ingress"):
        direction = tokens.pop()
    if tokens[:2] == ["focus", "workload"]:
        tokens = tokens[2:]
    assert "focus" not in tokens, rest
    return tuple(tokens), direction, conn, peers


def cases(root: Path | None, output: str, formats: tuple[str, ...] = FORMATS) -> list[Case]:
    """The expected files `*_<output>.<fmt>` (e.g. `exposure_output`), explain ones aside."""
    if root is None:
        return []
    base = root / "netpol-analyzer"
    folders = [p.name for p in (base / "tests").iterdir() if p.is_dir()]
    out = []
    for path in sorted((base / "expected" / "connlist").glob(f"*_{output}.*")):
        stem, _, fmt = path.name.rpartition(f"_{output}.")
        if "_explain" in stem or fmt not in formats:
            continue
        candidates = [f for f in folders if stem == f or stem.startswith(f + "_")]
        if not candidates:
            continue  # an output of a folder the corpus does not ship (listed by callers)
        folder = max(candidates, key=len)
        focus, direction, conn, peers = options(stem[len(folder) :])
        out.append(Case(path, folder, fmt, focus, direction, conn, peers))
    return out


def resolve(tokens: tuple[str, ...], nodes: set[str]) -> set[str]:
    """netpol-analyzer's focus names (`name` or `ns/name`, joined by `_` in file names) as
    the workload nodes they name; `ingress-controller` is `{ingress-controller}`."""

    def named(text: str) -> set[str]:
        if text == "ingress-controller":
            return {"{ingress-controller}"}
        return {
            n
            for n in nodes
            if n.split("[", 1)[0] == text or n.split("[", 1)[0].split("/", 1)[-1] == text
        }

    out: set[str] = set()
    i = 0
    while i < len(tokens):
        pair = named(f"{tokens[i]}/{tokens[i + 1]}") if i + 1 < len(tokens) else set()
        if pair:
            out |= pair
            i += 2
            continue
        # A workload without any row is named nowhere: it keeps nothing, on both sides.
        out |= named(tokens[i])
        i += 1
    return out


def contains(conn: str | None, focus: str) -> bool:
    numbers, _ = parse_ports(conn or "")
    wanted, _ = parse_ports(focus)
    return wanted <= numbers


def _pair_kept(src: str, dst: str, case: Case, focus: set[str], peers: set[str] | None) -> bool:
    if case.direction == "egress" and src not in focus:
        return False
    if case.direction == "ingress" and dst not in focus:
        return False

    def peer(x: str) -> bool:
        return peers is None or x in peers

    return (src in focus and peer(dst)) or (dst in focus and peer(src))


def focused(rows: list[Row], case: Case) -> list[Row]:
    """microseg's whole output narrowed as netpol-analyzer's options narrow its own."""
    nodes = {x for s, a, b, _ in rows if s == "connlist" for x in (a, b)}
    nodes |= {a for s, a, _, _ in rows if s != "connlist"}
    focus = resolve(case.focus, nodes) if case.focus else None
    peers = resolve(case.peers, nodes) if case.peers else None
    out: list[Row] = []
    wide = {
        (a, s): c for s, a, b, c in rows if s in ("egress", "ingress") and b == "entire-cluster"
    }
    for s, a, b, c in rows:
        if s == "connlist":
            if focus is not None and not _pair_kept(a, b, case, focus, peers):
                continue
        elif (
            focus is not None
            and (a not in focus or (case.direction and s not in (case.direction, "unprotected")))
        ) or (s == "unprotected" and case.direction and b.lower() != case.direction):
            continue
        if case.conn is not None:
            if s == "unprotected" or not contains(c, case.conn):
                continue
            potential = (
                s in ("egress", "ingress") and "[External]" not in b and b != "entire-cluster"
            )
            if potential and contains(wide.get((a, s)), case.conn):
                continue
            c = case.conn
        out.append((s, a, b, c))
    return out
