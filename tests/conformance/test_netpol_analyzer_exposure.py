"""netpol-analyzer's exposure-analysis outputs (`expected/connlist/*_exposure_output.*`, all
four formats) against `microseg connectivity --exposure`, compared by meaning
(exposure_canonical.py): the connectivity list, each workload's exposure to the entire
cluster and to potential peers, the workloads no policy protects, and the external lines
of the exposure section.

File names carry netpol-analyzer's options after the test folder's name:
`_focus_workload_<w>[_<w>...]` (a workload as `name` or `ns_name`), `_egress`/`_ingress`
(focus direction), `_<proto>-<port>` (focus connection). microseg's `--focus-workload`
takes one workload; the other options are applied to microseg's whole output by this test,
as netpol-analyzer defines them (connlist.go includePairOfWorkloads, exposure_map.go): a
focus keeps the rows touching a focus workload (in the focus direction) and the exposure
of focus workloads; a focus connection keeps the rows whose connection holds it, written
as it, and drops potential peers the entire-cluster connection already covers.

Host-network pods are ordinary pods here, as in netpol-analyzer (`--host-network pod`).
The `_explain_exposure_` files are read by test_netpol_analyzer_explain.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conformance.canonical import _external, _merge
from tests.conformance.exposure_canonical import Row, canonical, parse, parse_ports
from tests.conftest import conformance_root

FORMATS = ("txt", "json", "csv", "md")

# Deliberate differences, each checked to be exactly what the reason says.
#
# A potential peer that a real pod (and its namespace) matches is dropped: that pod's
# connectivity is in the list already. netpol-analyzer drops it only when the rule wrote
# its selectors as matchLabels, and keeps it when the same requirement is written as
# `matchExpressions: [{key: app, operator: In, values: [x]}]`. The Kubernetes API reads the
# two alike (LabelSelector: "a single {key,value} in the matchLabels map is equivalent to an
# element of matchExpressions, whose key field is key, the operator is In, and the values
# array contains only value"), and so does microseg: the peers these cases keep are missing
# from microseg's output, and nothing else differs.
STOOD_IN_FOR = {
    "exposure_test_with_different_rules_2_with_matching_pod",
    "exposure_test_with_different_rules_6_with_matching_pods",
}
_CONN = re.compile(r"^(tcp|udp|sctp)-(\d+)$")


@dataclass(frozen=True)
class Case:
    expected: Path
    folder: str
    fmt: str
    focus: tuple[str, ...] = ()
    direction: str | None = None
    conn: str | None = None

    @property
    def id(self) -> str:
        return self.expected.name


def _options(rest: str) -> tuple[tuple[str, ...], str | None, str | None]:
    tokens = [t for t in rest.split("_") if t]
    conn = direction = None
    if tokens and _CONN.match(tokens[-1]):
        m = _CONN.match(tokens.pop())
        assert m is not None
        conn = f"{m[1].upper()} {m[2]}"
    if tokens and tokens[-1] in ("egress", "ingress"):
        direction = tokens.pop()
    if tokens[:2] == ["focus", "workload"]:
        tokens = tokens[2:]
    assert "focus" not in tokens, rest
    return tuple(tokens), direction, conn


def cases(root: Path | None) -> list[Case]:
    if root is None:
        return []
    base = root / "netpol-analyzer"
    folders = sorted((p.name for p in (base / "tests").iterdir() if p.is_dir()), key=len)
    out = []
    for path in sorted((base / "expected" / "connlist").glob("*_exposure_output.*")):
        stem, _, fmt = path.name.rpartition("_exposure_output.")
        if "_explain" in stem or fmt not in FORMATS:
            continue
        folder = max((f for f in folders if stem == f or stem.startswith(f + "_")), key=len)
        focus, direction, conn = _options(stem[len(folder) :])
        out.append(Case(path, folder, fmt, focus, direction, conn))
    return out


CASES = cases(conformance_root())


def run(folder: Path, fmt: str, *extra: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            "connectivity",
            str(folder),
            "--exposure",
            "-o",
            fmt,
            "-q",
            "--host-network",
            "pod",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _resolve(tokens: tuple[str, ...], nodes: set[str]) -> set[str]:
    """netpol-analyzer's focus names (`name` or `ns/name`, joined by `_` in file names) as
    the workload nodes they name."""

    def named(text: str) -> set[str]:
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
        single = named(tokens[i])
        assert single, f"focus workload {tokens[i]!r} not among {sorted(nodes)}"
        out |= single
        i += 1
    return out


def _contains(conn: str | None, focus: str) -> bool:
    numbers, _ = parse_ports(conn or "")
    wanted, _ = parse_ports(focus)
    return wanted <= numbers


def focused(rows: list[Row], case: Case) -> list[Row]:
    """microseg's whole output narrowed as netpol-analyzer's options narrow its own."""
    nodes = {x for s, a, b, _ in rows if s == "connlist" for x in (a, b)}
    nodes |= {a for s, a, _, _ in rows if s != "connlist"}
    focus = _resolve(case.focus, nodes) if case.focus else None
    out: list[Row] = []
    wide = {
        (a, s): c for s, a, b, c in rows if s in ("egress", "ingress") and b == "entire-cluster"
    }
    for s, a, b, c in rows:
        if s == "connlist":
            if focus is not None:
                hit = {"egress": a in focus, "ingress": b in focus}.get(
                    case.direction or "", a in focus or b in focus
                )
                if not hit:
                    continue
        elif (
            focus is not None
            and (a not in focus or (case.direction and s not in (case.direction, "unprotected")))
        ) or (s == "unprotected" and case.direction and b.lower() != case.direction):
            continue
        if case.conn is not None:
            if s == "unprotected" or not _contains(c, case.conn):
                continue
            potential = (
                s in ("egress", "ingress") and "[External]" not in b and b != "entire-cluster"
            )
            if potential and _contains(wide.get((a, s)), case.conn):
                continue
            c = case.conn
        out.append((s, a, b, c))
    return out


def _members(rows: list[Row]) -> set[str]:
    return {
        a
        for s, a, b, _ in rows
        if s == "unprotected" or (s in ("egress", "ingress") and "[External]" not in b)
    }


def _external_from_connlist(rows: list[Row], members: set[str]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], list[Any]] = {}
    for s, a, b, c in rows:
        if s != "connlist" or c is None:
            continue
        for workload, peer, direction in ((a, b, "egress"), (b, a, "ingress")):
            ext = _external(peer)
            if ext is not None and workload in members:
                out.setdefault((workload, direction), []).append((*ext, parse_ports(c)[0]))
    return {k: _merge(v) for k, v in out.items()}


@pytest.mark.parametrize(
    "case",
    CASES or [pytest.param(None, marks=pytest.mark.skip(reason="conformance corpus not found"))],
    ids=[c.id for c in CASES] or None,
)
def test_exposure_agrees_in_meaning(corpus: Path, case: Case) -> None:
    base = corpus / "netpol-analyzer"
    theirs = parse(case.expected.read_text(), case.fmt, case.conn)
    ours = focused(parse(run(base / "tests" / case.folder, case.fmt), case.fmt), case)
    expected, actual = canonical(theirs), canonical(ours)
    if case.folder in STOOD_IN_FOR:
        _drop_stood_in_for(expected["potential"], actual["potential"], case)
    assert actual["connlist"] == expected["connlist"], case.id
    assert actual["potential"] == expected["potential"], case.id
    if case.fmt == "txt" and case.conn is None:
        assert actual["unprotected"] == expected["unprotected"], case.id
    # The exposure section repeats the external lines of the workloads it lists.
    assert expected["external"] == _external_from_connlist(ours, _members(ours)), case.id


def _drop_stood_in_for(expected: dict[Any, Any], actual: dict[Any, Any], case: Case) -> None:
    """Remove from `expected` the peers only netpol-analyzer keeps (STOOD_IN_FOR), after
    checking each has label-equality requirements only (In with one value)."""
    extra = [k for k in expected if k not in actual]
    assert extra, f"{case.id}: the listed difference no longer shows; remove it from STOOD_IN_FOR"
    for key in extra:
        _, _, (_, ns, pods) = key
        reqs = set(ns or ()) | set(pods or ())
        assert reqs, key
        assert all(op == "In" and len(v) == 1 for _, op, v in reqs), key
        del expected[key]


def test_every_exposure_case_is_read(corpus: Path) -> None:
    """About ninety exposure outputs in four formats, none silently left out."""
    assert len(CASES) >= 320
    assert len({(c.folder, c.focus, c.direction, c.conn) for c in CASES}) >= 85


def test_focus_workload_option_narrows_the_exposure(corpus: Path) -> None:
    """microseg's own --focus-workload gives what the test's narrowing gives."""
    base = corpus / "netpol-analyzer"
    case = Case(Path("x"), "acs-security-demos", "txt", ("frontend", "webapp"))
    whole = focused(parse(run(base / "tests" / case.folder, "txt"), "txt"), case)
    narrowed = parse(
        run(base / "tests" / case.folder, "txt", "--focus-workload", "frontend/webapp"), "txt"
    )
    assert canonical(narrowed) == canonical(whole)
