"""netpol-analyzer's explanations (`*_explain_output.txt`, `*_explain_exposure_output.txt`)
against microseg's, by meaning (explain_canonical.py).

For every pair netpol-analyzer explains and every block of connections it gives a reason
for, at the first port of each port range of the block, per direction: microseg's `reach`
must allow exactly the block's allowed connections, and its explanation must name the same
reasons: the same rules of the same policies with the same effect (allow, deny, pass), the
same isolating NetworkPolicies where no rule allows, the default, the network split, the
Ingress/Route objects. External address ranges are asked at their first address. The
exposure section of `_explain_exposure_` files is compared as test_netpol_analyzer_exposure.py
compares it. File-name options (focus, connection, `_allow`/`_deny`) only choose which pairs
and blocks netpol-analyzer printed, so they need nothing here.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

import microseg
from microseg.engine import Connectivity, Decision, EngineOptions, HostNetwork, StepKind, Verdict
from microseg.model.sets import ConnSet, Protocol
from tests.conformance.explain_canonical import Block, Pair, Reason, parse
from tests.conformance.exposure_canonical import canonical as exposure_canonical
from tests.conformance.exposure_canonical import parse as parse_exposure
from tests.conformance.options import Case, focused, options
from tests.conformance.test_netpol_analyzer_exposure import run as run_exposure
from tests.conftest import conformance_root

_SUFFIX = re.compile(r"(_(allow|deny))?_explain(_exposure)?_output\.txt$")
_UDN = re.compile(r"^([^/\[\]]+)\[udn\]/")
_VERB = {Verdict.ALLOW: "allows", Verdict.DENY: "denies", Verdict.PASS: "passes"}

# Known differences, each with its reason (strict: they must keep failing).
XFAIL: dict[str, str] = {}


def _files() -> list[Path]:
    root = conformance_root()
    if root is None:
        return []
    return sorted(
        (root / "netpol-analyzer" / "expected" / "connlist").glob("*_explain*_output.txt")
    )


def _folder(path: Path) -> str:
    base = path.parents[2] / "tests"
    stem = _SUFFIX.sub("", path.name)
    folders = [p.name for p in base.iterdir() if p.is_dir()]
    return max((f for f in folders if stem == f or stem.startswith(f + "_")), key=len)


@cache
def _connectivity(folder: Path) -> Connectivity:
    return Connectivity.build(microseg.load([str(folder)]), EngineOptions(HostNetwork.POD))


def _endpoint(name: str) -> str:
    """A peer as `reach` takes it: workloads without the [udn] mark, a range by its first
    address, the ingress controller as it is."""
    name = _UDN.sub(r"\1/", name)
    if name.endswith("[External]"):
        return name.split("-", 1)[0]
    return name


def _ref(step_rule: int | None, name: str, kind: str) -> str:
    return name if kind != "NP" else str((step_rule or 0) + 1)


def ours(d: Decision, direction: str, proto: Protocol, port: int) -> set[Reason]:
    if d.networks is not None:
        return {("udn",)}
    trace = d.egress if direction == "Egress" else d.ingress
    out: set[Reason] = set()
    for step in trace.steps:
        if not step.conns.contains(proto, port):
            continue
        if step.kind is StepKind.RULE:
            assert step.policy_kind is not None
            assert step.policy is not None
            kind = step.policy_kind.value
            out.add((kind, step.policy, _ref(step.rule, step.rule_name, kind), _VERB[step.effect]))
        elif step.kind is StepKind.ISOLATION:
            out |= {("isolation", p) for p in trace.policies}
        elif step.kind is StepKind.DEFAULT:
            out.add(("default",))
    # netpol-analyzer names, per NetworkPolicy, the first of its rules that allows.
    firsts: dict[str, Reason] = {}
    for r in sorted((r for r in out if r[0] == "NP" and r[3] == "allows"), key=lambda r: int(r[2])):
        firsts.setdefault(r[1], r)
    out = {r for r in out if not (r[0] == "NP" and r[3] == "allows")} | set(firsts.values())
    if direction == "Ingress" and d.entries is not None:
        # The objects that open the port explain it; when none does, each that opens the
        # service on other ports is named. netpol-analyzer names a Service by its name and
        # leaves the default allow unsaid beside them.
        opening = [e for e in d.entries if e.conns.contains(proto, port)]
        for e in opening or d.entries:
            service = e.service.split("/", 1)[-1]
            out.add(("entry", e.kind, e.ref, service, "allows" if opening else "mismatch"))
        out.discard(("default",))
    return out


def _samples(conns: ConnSet) -> list[tuple[Protocol, int]]:
    return [(proto, lo) for proto, ports in conns.ports for lo, _ in ports]


def check_pair(conn: Connectivity, pair: Pair) -> list[str]:
    d = conn.reach(_endpoint(pair.src), _endpoint(pair.dst))
    problems = []
    for block in pair.blocks:
        problems += _check_block(d, pair, block)
    return problems


def _check_block(d: Decision, pair: Pair, block: Block) -> list[str]:
    out = []
    if block.allowed and not block.conns <= d.allowed:
        out.append(f"{pair.src} => {pair.dst}: {block.conns} allowed there, not here ({d.allowed})")
    if not block.allowed and block.conns & d.allowed:
        out.append(
            f"{pair.src} => {pair.dst}: {block.conns & d.allowed} denied there, allowed here"
        )
    for proto, port in _samples(block.conns):
        for direction, theirs in block.reasons.items():
            if not theirs:
                continue  # a direction the block does not explain (e.g. a secondary network)
            mine = ours(d, direction, proto, port)
            if mine != theirs:
                out.append(
                    f"{pair.src} => {pair.dst} {proto.value}/{port} {direction}: "
                    f"expected {sorted(theirs)}, got {sorted(mine)}"
                )
    return out


FILES = _files()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            marks=[pytest.mark.xfail(reason=XFAIL[p.name], strict=True)] if p.name in XFAIL else [],
        )
        for p in FILES
    ]
    or [pytest.param(None, marks=pytest.mark.skip(reason="conformance corpus not found"))],
    ids=[p.name for p in FILES] or None,
)
def test_explanations_agree_in_meaning(corpus: Path, path: Path) -> None:
    folder = corpus / "netpol-analyzer" / "tests" / _folder(path)
    conn = _connectivity(folder)
    text = path.read_text()
    pairs = parse(text)
    assert pairs or "secondary NAD" in text, path.name
    problems = [p for pair in pairs for p in check_pair(conn, pair)]
    assert not problems, f"{path.name}:\n" + "\n".join(problems[:15])
    if "Exposure Analysis Result" in text:
        section = text[text.index("Exposure Analysis Result") :]
        stem = _SUFFIX.sub("", path.name)
        focus, direction, focus_conn, peers = options(stem[len(_folder(path)) :])
        case = Case(path, _folder(path), "txt", focus, direction, focus_conn, peers)
        theirs = exposure_canonical(parse_exposure(section, "txt", focus_conn))
        mine_rows = focused(parse_exposure(run_exposure(folder, "txt"), "txt"), case)
        mine = exposure_canonical(mine_rows)
        assert mine["potential"] == theirs["potential"], path.name
        if focus_conn is None:
            assert mine["unprotected"] == theirs["unprotected"], path.name


def test_every_explain_file_is_read(corpus: Path) -> None:
    assert len(FILES) == 78
