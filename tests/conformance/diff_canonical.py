"""Compare connectivity diffs by meaning (txt, csv or md, netpol-analyzer's diff grammar).

A diff line says: for (source, destination), OLD allowed C1 and NEW allows C2, of a kind
(changed/added/removed), with an optional workloads-diff-info. External address ranges may be
cut differently by two implementations, so rows whose peer is an address range become, per
(workload, direction), a map from IPv4 intervals to (kind, C1, C2, info) with adjacent
intervals of equal values merged. Two diffs agree when these canonical forms are equal.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass

from microseg.model.sets import ConnSet
from tests.conformance.canonical import _external, parse_conn

TXT_HEADER = "Connectivity diff:"
MD_RULE = "|-----------|--------|-------------|------|------|---------------------|"


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    src: str
    dst: str
    ref1: ConnSet
    ref2: ConnSet
    info: str


Value = tuple[str, ConnSet, ConnSet, str]
DiffCanonical = tuple[
    dict[tuple[str, str], Value], dict[tuple[str, str], tuple[tuple[int, int, Value], ...]]
]


def csv_header(names: tuple[str, str]) -> str:
    return ",".join(["diff-type", "source", "destination", *names, "workloads-diff-info"])


def md_header(names: tuple[str, str]) -> str:
    return f"| diff-type | source | destination | {names[0]} | {names[1]} | workloads-diff-info |"


def _line(fields: list[str]) -> Line:
    if len(fields) != 6:
        raise ValueError(f"expected 6 fields, got {fields!r}")
    kind, src, dst, c1, c2, info = (f.strip() for f in fields)
    if kind not in ("changed", "added", "removed"):
        raise ValueError(f"unknown diff-type {kind!r}")
    return Line(kind, src, dst, parse_conn(c1), parse_conn(c2), info)


def parse_txt(text: str, names: tuple[str, str]) -> list[Line]:
    """`diff-type: T, source: S, destination: D, N1: C1, N2: C2[, workloads-diff-info: I]`.
    Peers, connection lists and infos never contain ", " (connection lists use bare commas)."""
    lines = text.splitlines()
    if not lines:
        return []
    if lines[0] != TXT_HEADER:
        raise ValueError(f"first line {lines[0]!r}: expected {TXT_HEADER!r}")
    keys = ["diff-type", "source", "destination", *names]
    out = []
    for raw in lines[1:]:
        parts = raw.split(", ")
        if len(parts) not in (5, 6):
            raise ValueError(f"cannot parse {raw!r}")
        fields = []
        for key, part in zip([*keys, "workloads-diff-info"], parts, strict=False):
            prefix = f"{key}: "
            if not part.startswith(prefix):
                raise ValueError(f"{raw!r}: expected {prefix!r} at {part!r}")
            fields.append(part[len(prefix) :])
        out.append(_line(fields if len(fields) == 6 else [*fields, ""]))
    return out


def parse_csv(text: str, names: tuple[str, str]) -> list[Line]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    if ",".join(rows[0]) != csv_header(names):
        raise ValueError(f"header {rows[0]!r}: expected {csv_header(names)!r}")
    return [_line(r) for r in rows[1:] if r]


def parse_md(text: str, names: tuple[str, str]) -> list[Line]:
    lines = text.splitlines()
    if not lines:
        return []
    if lines[0] != md_header(names) or lines[1] != MD_RULE:
        raise ValueError(f"header {lines[:2]!r}: expected {md_header(names)!r} and the rule")
    out = []
    for raw in lines[2:]:
        if not (raw.startswith("| ") and raw.endswith(" |")):
            raise ValueError(f"not a table row: {raw!r}")
        out.append(_line(raw[2:-2].split(" | ")))
    return out


PARSERS = {"txt": parse_txt, "csv": parse_csv, "md": parse_md}


def _merge(pieces: list[tuple[int, int, Value]]) -> tuple[tuple[int, int, Value], ...]:
    out: list[tuple[int, int, Value]] = []
    for lo, hi, value in sorted(pieces, key=lambda p: p[0]):
        if out and out[-1][1] >= lo:
            raise ValueError(f"overlapping ranges {out[-1]} and {(lo, hi, value)}")
        if out and out[-1][1] + 1 == lo and out[-1][2] == value:
            out[-1] = (out[-1][0], hi, value)
        else:
            out.append((lo, hi, value))
    return tuple(out)


def canonical_diff(lines: list[Line]) -> DiffCanonical:
    pairs: dict[tuple[str, str], Value] = {}
    ext: dict[tuple[str, str], list[tuple[int, int, Value]]] = defaultdict(list)
    for ln in lines:
        value = (ln.kind, ln.ref1, ln.ref2, ln.info)
        s_ext, d_ext = _external(ln.src), _external(ln.dst)
        if s_ext is not None:
            ext[(ln.dst, "in")].append((*s_ext, value))
        elif d_ext is not None:
            ext[(ln.src, "out")].append((*d_ext, value))
        else:
            if (ln.src, ln.dst) in pairs:
                raise ValueError(f"two lines for {(ln.src, ln.dst)}")
            pairs[(ln.src, ln.dst)] = value
    return pairs, {k: _merge(v) for k, v in ext.items()}


def diff_differences(expected: DiffCanonical, actual: DiffCanonical, limit: int = 12) -> list[str]:
    out: list[str] = []
    for label, e, a in (("pair", expected[0], actual[0]), ("external", expected[1], actual[1])):
        for key in sorted(set(e) | set(a)):
            if e.get(key) != a.get(key):
                out.append(f"{label} {key}: expected {e.get(key)!r}, got {a.get(key)!r}")
    return out[:limit]


SECTION = {"changed": 0, "added": 1, "removed": 2}


def section_order(lines: list[Line]) -> list[tuple[bool, int]]:
    """(ingress-controller row?, category) per line: non-decreasing in netpol-analyzer's order."""
    return [(ln.src == "{ingress-controller}", SECTION[ln.kind]) for ln in lines]
