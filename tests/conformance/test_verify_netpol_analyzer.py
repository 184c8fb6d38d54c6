"""verify against netpol-analyzer's own answers: intents written from its expected connlist.

For a corpus folder, every workload pair that netpol-analyzer lists becomes an allow intent
on exactly the connections it lists, plus a deny intent on everything else; every pair it
does not list becomes a deny intent on any port. Every intent must hold: an oracle that
does not go through our engine. One flipped intent must then fail, and only that one.
Cases run with `--host-network pod`, netpol-analyzer's choice (see the connlist test).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from microseg.ingest import load
from microseg.model.sets import ConnSet, Protocol
from tests.conftest import conformance_root

LINE = re.compile(r"^(\S+\[\w+\]) => (\S+\[\w+\]) : (.+)$")
PEER = re.compile(r"(?:^| )([^\s/\[]+/[^\s\[]+\[\w+\])")  # ns/name[Kind], not External
PROTO = re.compile(r",(?=(?:SCTP|TCP|UDP) )")
WANTED = 8  # cases per category: enough variety, still fast


def _cases() -> list[str]:
    root = conformance_root()
    if root is None:
        return []
    rows = (root / "netpol-analyzer" / "plain-connlist-cases.tsv").read_text().splitlines()[1:]
    out: list[str] = []
    for category in ("np", "anp-banp", "anp-banp+np"):
        names = sorted(
            c for c, cat, _ in (r.split("\t") for r in rows if r.strip()) if cat == category
        )
        out += names[:WANTED]
    return out


def _conns(text: str) -> ConnSet | None:
    """netpol-analyzer's grammar to a ConnSet; None when it names ports (not numeric)."""
    if text == "All Connections":
        return ConnSet.all()
    out = ConnSet()
    for part in PROTO.split(text):
        proto, _, items = part.partition(" ")
        for item in items.split(","):
            lo, _, hi = item.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                return None
            out = out | ConnSet.single(Protocol(proto), int(lo), int(hi or lo))
    return out


def _ports(conns: ConnSet) -> str:
    items = [
        f'"{p.value}/{lo}-{hi}"' if lo != hi else f'"{p.value}/{lo}"'
        for p, ports in conns.ports
        for lo, hi in ports
    ]
    return f", ports: [{', '.join(items)}]"


def _workloads(folder: Path) -> set[str]:
    """The folder's workloads as netpol-analyzer names them. netpol-analyzer lists every
    allowed connection, external ones included, so a workload on no line of its output
    connects to nothing: it still takes part, as the source and destination of deny
    intents (exposure_test_pod_exposed_only_to_representative_peers has such a workload)."""
    return {str(w.key) for w in load([str(folder)]).workloads}


def _intents(
    expected: list[str], in_input: set[str]
) -> tuple[list[str], list[str], list[str]] | str:
    """(header with the groups, allow entries, deny entries), or why the case is unusable."""
    edges: dict[tuple[str, str], ConnSet] = {}
    named: set[str] = set(in_input)
    for line in expected:
        named.update(PEER.findall(line))
        m = LINE.match(line.strip())
        if m is None or "[External]" in line:
            continue  # external ranges and the ingress controller: not workload pairs
        conns = _conns(m.group(3))
        if conns is None:
            return f"named ports in the expected output ({line.strip()!r})"
        edges[(m.group(1), m.group(2))] = conns
    workloads = sorted(named)
    if len(workloads) < 2:
        return f"a single workload ({', '.join(workloads)}): no pair to state an intent about"
    group = {w: f"w{i}" for i, w in enumerate(workloads)}
    head = ["apiVersion: microseg.dev/v1alpha1", "kind: SegmentationIntent"]
    head += ["metadata: {name: oracle}", "spec:", "  groups:"]
    head += [f'    {group[w]}: {{workload: "{w}"}}' for w in workloads]
    allow: list[str] = []
    deny: list[str] = []
    for s in workloads:
        for d in workloads:
            if s == d:
                continue
            conns = edges.get((s, d), ConnSet())
            flow = f"from: {group[s]}, to: {group[d]}"
            if conns:
                allow.append(f"{{{flow}{'' if conns.is_all() else _ports(conns)}}}")
            rest = ConnSet.all() - conns
            if rest:
                deny.append(f"{{{flow}{'' if not conns else _ports(rest)}}}")
    return head, allow, deny


def _text(head: list[str], allow: list[str], deny: list[str]) -> str:
    lines = list(head)
    for name, entries in (("allow", allow), ("deny", deny)):
        if entries:
            lines.append(f"  {name}:")
            lines += [f"    - {e}" for e in entries]
    return "\n".join(lines) + "\n"


def _verify(folder: Path, intents: Path) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(
        app,
        [
            "verify",
            str(folder),
            "--intents",
            str(intents),
            "-o",
            "json",
            "-q",
            "--host-network",
            "pod",
        ],
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    "case",
    _cases()
    or [pytest.param("none", marks=pytest.mark.skip(reason="conformance corpus not found"))],
)
def test_intents_from_netpol_analyzer_hold(corpus: Path, case: str, tmp_path: Path) -> None:
    base = corpus / "netpol-analyzer"
    expected = (base / "expected" / "connlist" / f"{case}_connlist_output.txt").read_text()
    made = _intents(expected.splitlines(), _workloads(base / "tests" / case))
    if isinstance(made, str):
        pytest.skip(f"{case}: {made}")
    head, allow, deny = made
    count = len(allow) + len(deny)
    intents = tmp_path / "oracle.yaml"
    intents.write_text(_text(head, allow, deny))
    code, report = _verify(base / "tests" / case, intents)
    violated = [f for f in report["findings"] if f["status"] == "violated"]  # type: ignore[union-attr,index]
    assert code == 0, f"{case}: " + "; ".join(f"{f['id']} {f['message']}" for f in violated[:5])
    assert report["summary"] == {"intents": count, "violated": 0, "holds": count}

    # A deny turned into an allow (or, when all is open, an allow into a deny) must fail alone.
    if deny:
        flipped, kind = _text(head, [*allow, deny[0]], deny[1:]), "allow"
    else:
        flipped, kind = _text(head, allow[1:], [allow[0]]), "deny"
    intents.write_text(flipped)
    code, report = _verify(base / "tests" / case, intents)
    violated = [f for f in report["findings"] if f["status"] == "violated"]  # type: ignore[union-attr,index]
    assert code == 1
    assert [f["kind"] for f in violated] == [kind]
