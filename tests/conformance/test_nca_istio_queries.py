"""All 24 queries of network-config-analyzer's Istio cases (istio_testcases: testcase1-3 and
the scan-dir scheme), each held to NCA 2.1.0 by meaning or listed below with the reason.

NCA runs as a real component (bench/nca.py installs it from PyPI into a venv of its own
under bench/out/, once): its per-pair outputs (`-o txt_no_fw_rules`) are the oracle where the
corpus records only a count.

- connectivityMap: the TCP connectivity of each configuration, NCA's per-pair map against
  `microseg connectivity --layer mesh` (workload pairs and IPv4 ranges by meaning). NCA also
  lists a workload's replicas reaching each other (`a => a`); microseg's list has no self
  pairs, so those rows are left out of the comparison.
- semanticDiff: NCA's added and removed connections (`--semantic_diff`) against the
  difference of microseg's two maps.
- equivalence, vacuity, twoWayContainment: the scheme's expected numbers from microseg's maps
  (twoWayContainment: 3 equal, 2 first inside second, 1 second inside first, 0 neither).
- sanity, redundancy: every claim NCA makes (a policy or rule is redundant, a rule selects no
  pod) must hold in microseg's engine: removing that policy or rule changes no mesh verdict
  for any pod pair, external address or port; and every policy or rule whose removal changes
  nothing in microseg is one NCA names (a rule of a policy NCA names counts).

Adaptations of NCA's topology as in test_nca_istio.py: every namespace labelled for
injection (NCA puts every pod in the mesh), `ports: {}` read as `[]`.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
import subprocess
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from microseg.cli.app import app
from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.table import MeshTable, mesh_ip_sets, mesh_port_ranges
from microseg.engine.query import MeshVerdict
from microseg.ingest import load
from microseg.model import Cluster, ConnSet, IntervalSet, Protocol
from tests.conformance.canonical import Canonical, _merge, canonical, differences, parse_conn
from tests.conformance.test_nca_istio import _topology
from tests.conftest import REPO

CASES = ("testcase1", "testcase2", "testcase3")
TCP = ConnSet.of({Protocol.TCP: IntervalSet.span(1, 65535)})

# Queries microseg answers differently, with the precise reason (checked to still differ).
#
# `namespaces: []` beside `notNamespaces: [default]` (testcase1-policy.yaml,
# test-deny-nothing): NCA reads the empty list as "no namespace", so the DENY rule selects no
# pod and the policy is redundant. Istio's fields are proto3 repeated fields, which have no
# presence: an empty list is the field unset ("If not set, any namespace is allowed", istio.io
# AuthorizationPolicy reference, Source), so the rule denies mTLS requests from every
# namespace but default, and removing the policy changes what vendor-system accepts.
EMPTY_LIST = (
    "NCA reads `namespaces: []` as no namespace; Istio (proto3: an empty repeated field is "
    "unset) as any namespace, so microseg finds test-deny-nothing effective"
)
# A source with only `notNamespaces: [vendor-system]` (testcase1-new-policy.yaml, test-allow):
# a plaintext request from outside the mesh has no namespace, which is not vendor-system, so
# the source matches it and the ALLOW rule lets external addresses in on ports 30 and 50.
# That is Istio's behaviour: negative fields match requests without identity (istio.io
# "Authorization Policy" security best practices: prefer ALLOW with positive matching, since
# `notNamespaces` also matches plaintext; Envoy RBAC `not_id` of an authenticated principal).
# NCA grants those ports to pods only; microseg to every source outside vendor-system.
NOT_NAMESPACES = (
    "NCA lets `notNamespaces` match mesh pods only; Istio (and microseg) also match plaintext "
    "requests, whose namespace is empty, so external addresses get TCP 30,50 to default/*"
)


def nca_empty_list(source: dict[str, Any]) -> None:
    """NCA's reading of `namespaces: []`: no namespace at all."""
    if source.get("namespaces") == []:
        source["namespaces"] = ["no-namespace-is-named-this"]


def nca_not_namespaces(source: dict[str, Any]) -> None:
    """NCA's reading of a `notNamespaces`-only source: mesh pods (those with a namespace)."""
    if source.get("notNamespaces") and "namespaces" not in source:
        source["namespaces"] = ["*"]


REWRITES = {EMPTY_LIST: nca_empty_list, NOT_NAMESPACES: nca_not_namespaces}
DIFFERENT: dict[tuple[str, str], tuple[str, ...]] = {
    ("testcase1", "istio1_policy"): (EMPTY_LIST,),
    ("testcase1", "semantic-diff-test-2"): (EMPTY_LIST, NOT_NAMESPACES),
    # istio1 has the empty list, istio2 the notNamespaces-only source.
    ("testcase1", "connectivity-istio1"): (EMPTY_LIST, NOT_NAMESPACES),
    # test-source-not-empty: `namespaces: []` and `notNamespaces: [default]` again; NCA's
    # ALLOW rule matches no one (so skydive accepts nothing), Istio's every source but the
    # default namespace's pods (plaintext included, as above).
    ("testcase3", "connectivity-valid-syntax-source-not-empty"): (EMPTY_LIST,),
}
NOT_APPLICABLE = {
    ("scan-dir", "test-query"): (
        "NCA scans ./example_policies without recursing, finds no resource and does not run "
        "the query (expectedNotExecuted); microseg reads folders recursively (README, Inputs), "
        "so that folder holds every example policy and there is nothing to compare"
    ),
}


# --- NCA, the real component ---------------------------------------------------------------


def _nca() -> Path:
    try:
        from bench.nca import ensure
    except ImportError as exc:  # pragma: no cover - the bench folder ships with the repo
        pytest.skip(f"bench/nca.py not importable: {exc}")
    nca, why = ensure(REPO / "bench" / "out" / "nca-venv")
    if nca is None:
        if os.environ.get("CI"):
            pytest.fail(f"network-config-analyzer unavailable: {why}; CI must run this oracle")
        pytest.skip(f"network-config-analyzer unavailable: {why}")
    return nca


@cache
def _run_nca(nca: Path, args: tuple[str, ...], cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(nca), *args], capture_output=True, text=True, timeout=600, check=False, cwd=cwd
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


# --- the cases -------------------------------------------------------------------------------


def _root(corpus: Path) -> Path:
    root = corpus / "network-config-analyzer" / "istio_testcases"
    if not root.is_dir():
        pytest.skip(f"no NCA Istio cases under {root}")
    return root


def _schemes(root: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    out = [
        (case, path, yaml.safe_load(path.read_text()))
        for case in CASES
        for path in sorted((root / "example_policies" / case).glob("*-scheme.yaml"))
    ]
    scan = root / "scan-dir-test-scheme.yaml"
    out.append(("scan-dir", scan, yaml.safe_load(scan.read_text())))
    return out


def _queries(root: Path) -> list[tuple[str, Path, dict[str, Any], dict[str, Any]]]:
    return [
        (case, path, scheme, q) for case, path, scheme in _schemes(root) for q in scheme["queries"]
    ]


class Config:
    """One named configuration of a scheme: NCA's files and microseg's loaded inputs."""

    def __init__(
        self, case: str, scheme_path: Path, scheme: dict[str, Any], name: str, tmp: Path
    ) -> None:
        base = scheme_path.parent
        (cfg,) = [c for c in scheme["networkConfigList"] if c["name"] == name]
        self.files = [str((base / f).resolve()) for f in cfg["networkPolicyList"]]
        self.ns = str((base / scheme["namespaceList"]).resolve())
        self.pods = str((base / scheme["podList"]).resolve())
        self.topology = [str(p) for p in _topology(base, scheme, base, tmp / case)]
        self.microseg_files = list(self.files)

    def rewritten(self, fix: Any, tmp: Path) -> Config:
        """The same configuration for microseg with each AuthorizationPolicy source passed
        through `fix` (NCA's files stay as they are)."""
        out = Config.__new__(Config)
        out.__dict__.update(self.__dict__)
        out.microseg_files = []
        for i, name in enumerate(self.files):
            docs = [d for d in yaml.safe_load_all(Path(name).read_text()) if d]
            for doc in docs:
                for rule in (doc.get("spec") or {}).get("rules") or []:
                    for entry in (rule or {}).get("from") or []:
                        fix(entry.get("source") or {})
            path = tmp / f"rewritten-{i}-{Path(name).name}"
            path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
            out.microseg_files.append(str(path))
        return out

    def nca_args(self) -> list[str]:
        return ["-n", self.ns, "-p", self.pods]


# --- maps by meaning -------------------------------------------------------------------------


_NCA_CONN = re.compile(
    r"\{(?:protocols:(?P<proto>[A-Z]+(?:,[A-Z]+)*),?)?(?:dst_ports:(?P<ports>[0-9,\-]+))?\}"
)


def _nca_conn(text: str) -> ConnSet:
    text = text.strip()
    if text == "All connections":
        return TCP
    m = _NCA_CONN.fullmatch(text)
    assert m, f"unexpected NCA connection {text!r}"
    if m["proto"] not in (None, "TCP"):
        raise AssertionError(f"unexpected NCA protocols in {text!r}")
    if not m["ports"]:
        return TCP
    spans = []
    for part in m["ports"].split(","):
        lo, _, hi = part.partition("-")
        spans.append((int(lo), int(hi or lo)))
    return ConnSet.of({Protocol.TCP: IntervalSet.of(spans)})


def _nca_peer(text: str) -> str:
    """NCA writes addresses as a range, a CIDR or one address, without `[External]`."""
    if re.fullmatch(r"[0-9.]+-[0-9.]+", text):
        return f"{text}[External]"
    if re.fullmatch(r"[0-9.]+(/[0-9]+)?", text):
        net = ipaddress.ip_network(text, strict=False)
        return f"{net[0]}-{net[-1]}[External]"
    return text


def _nca_lines(out: str, section: str) -> list[str]:
    """`src => dst : conn` lines of one section (`TCP Connections`, `Added connections...`)."""
    lines, inside = [], False
    for line in out.splitlines():
        if line.endswith(":") and " => " not in line:
            inside = line.startswith(section)
            continue
        if inside and " => " in line:
            pair, _, conn = line.partition(" : ")
            src, _, dst = pair.partition(" => ")
            src, dst = _nca_peer(src), _nca_peer(dst)
            if src == dst or ":" in src or ":" in dst:
                continue  # replicas of one workload; IPv6 (NCA prints none by default)
            lines.append(f"{src} => {dst} : {_nca_tcp_text(_nca_conn(conn))}")
    return lines


def _nca_tcp_text(conns: ConnSet) -> str:
    ports = conns.get(Protocol.TCP)
    return "TCP " + ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)


def ours(config: Config) -> list[str]:
    result = CliRunner().invoke(
        app,
        [
            "connectivity",
            *config.topology,
            *config.microseg_files,
            "--layer",
            "mesh",
            "-o",
            "json",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    out = []
    for row in json.loads(result.stdout)["connections"]:
        if ":" in row["src"] or ":" in row["dst"]:
            continue
        tcp = parse_conn(row["conn"]) & TCP
        if tcp:
            out.append(f"{row['src']} => {row['dst']} : {_nca_tcp_text(tcp)}")
    return out


def nca_map(nca: Path, config: Config) -> list[str]:
    out = _run_nca(
        nca, ("--connectivity", *config.files, *config.nca_args(), "-o", "txt_no_fw_rules")
    )
    return _nca_lines(out, "TCP Connections")


def _as_sets(lines: list[str]) -> dict[tuple[str, str], ConnSet]:
    pairs, ext = canonical(lines)
    out = dict(pairs)
    for (workload, direction), pieces in ext.items():
        for lo, hi, conns in pieces:
            out[(f"{lo}-{hi}", workload) if direction == "in" else (workload, f"{lo}-{hi}")] = conns
    return out


def _minus(b: Canonical, a: Canonical) -> Canonical:
    """What `b` allows that `a` does not, by meaning (address ranges cut at both maps'
    boundaries)."""
    pairs = {k: v - a[0].get(k, ConnSet.none()) for k, v in b[0].items()}
    ext: dict[tuple[str, str], list[tuple[int, int, ConnSet]]] = {}
    for key in set(a[1]) | set(b[1]):
        pieces_a, pieces_b = a[1].get(key, ()), b[1].get(key, ())
        points = sorted({p for lo, hi, _ in (*pieces_a, *pieces_b) for p in (lo, hi + 1)})
        for lo, nxt in itertools.pairwise(points):

            def at(pieces: tuple[tuple[int, int, ConnSet], ...], lo: int = lo) -> ConnSet:
                return next((c for x, y, c in pieces if x <= lo <= y), ConnSet.none())

            extra = at(pieces_b) - at(pieces_a)
            if extra:
                ext.setdefault(key, []).append((lo, nxt - 1, extra))
    return {k: v for k, v in pairs.items() if v}, {k: _merge(v) for k, v in ext.items()}


# --- sanity and redundancy: NCA's claims ---------------------------------------------------------

_POLICY = re.compile(r"^NetworkPolicy (?P<p>\S+) is redundant")
_RULE_NO_PODS = re.compile(
    r"^Rule no\. (?P<n>\d+) in AuthorizationPolicy (?P<p>\S+) does not select any pods"
)
_RULE = re.compile(
    r"^(?:Ingress|Egress) rule no\. (?P<n>\d+) in NetworkPolicy (?P<p>\S+) is redundant"
)
_RULES = re.compile(
    r"^NetworkPolicy (?P<p>\S+), (?:ingress|egress) rules indexes: (?P<ns>[0-9, ]+)$"
)


def nca_claims(out: str) -> set[tuple[str, int | None]]:
    """(policy ns/name, rule number from 1 or None for the whole policy)."""
    claims: set[tuple[str, int | None]] = set()
    for line in out.splitlines():
        line = line.strip()
        if m := _POLICY.match(line):
            claims.add((m["p"], None))
        elif m := _RULE_NO_PODS.match(line) or _RULE.match(line):
            claims.add((m["p"], int(m["n"])))
        elif m := _RULES.match(line):
            claims |= {(m["p"], int(n)) for n in m["ns"].split(",")}
    return claims


def _without(cluster: Cluster, policy: str, rule: int | None) -> Cluster:
    kept = []
    for ap in cluster.authorization_policies:
        if ap.ref != policy:
            kept.append(ap)
        elif rule is not None:
            kept.append(
                replace(ap, rules=tuple(r for i, r in enumerate(ap.rules) if i != rule - 1))
            )
    return replace(cluster, authorization_policies=tuple(kept))


def signature(cluster: Cluster, cuts: Cluster) -> dict[tuple[str, str, int], MeshVerdict]:
    """The mesh verdict for every destination pod, source (pod, or each address atom) and
    port atom; atoms cut at every boundary of `cuts` (the whole configuration), so that the
    configuration with a policy or rule removed is asked the same questions."""
    classes = EndpointClasses.build(cluster)
    ports = PortAtoms.build(mesh_port_ranges(cuts))
    ips = IPAtoms.build(mesh_ip_sets(cuts))
    table = MeshTable.build(cluster, classes, ports, ips)
    sources = [(p.name, int(classes.pod_class[i])) for i, p in enumerate(cluster.pods)]
    sources += [(str(ips.atom_set(k)), len(classes) + k) for k in range(len(ips))]
    out = {}
    for j, dst in enumerate(cluster.pods):
        d = int(classes.pod_class[j])
        for name, col in sources:
            for k, (proto, lo, _hi) in enumerate(ports.atoms):
                if proto is Protocol.TCP:
                    out[(name, dst.name, lo)] = table.verdict(d, col, k)
    return out


def our_redundancies(cluster: Cluster) -> set[tuple[str, int | None]]:
    """Every policy and rule whose removal changes no mesh verdict."""
    base = signature(cluster, cluster)
    out: set[tuple[str, int | None]] = set()
    for ap in cluster.authorization_policies:
        for rule in (None, *range(1, len(ap.rules) + 1)):
            if signature(_without(cluster, ap.ref, rule), cluster) == base:
                out.add((ap.ref, rule))
    return out


def _check_claims(config: Config, scheme_out: str) -> None:
    claims = nca_claims(scheme_out)
    cluster = load([*config.topology, *config.microseg_files])
    mine = our_redundancies(cluster)
    for claim in claims:
        assert claim in mine, (
            f"NCA: {claim} changes nothing; microseg: removing it changes verdicts"
        )
    whole = {p for p, rule in claims if rule is None}
    covered = claims | {(p, r) for p, r in mine if p in whole}  # the rules of a named policy
    assert mine <= covered, (
        f"microseg finds {sorted(mine - covered, key=str)} redundant, NCA does not"
    )


# --- the test --------------------------------------------------------------------------------


def test_every_istio_query_agrees_or_is_listed(corpus: Path, tmp_path: Path) -> None:
    root = _root(corpus)
    queries = _queries(root)
    assert len(queries) == 24
    nca = _nca()
    outcomes: dict[tuple[str, str], str] = {}
    scheme_runs: dict[Path, str] = {}
    for case, path, scheme, query in queries:
        key = (case, query["name"])
        if key in NOT_APPLICABLE:
            outcomes[key] = "not applicable"
            continue
        kind = next(
            k
            for k in query
            if k not in ("name", "expected", "outputConfiguration", "expectedOutput")
        )
        configs = [Config(case, path, scheme, n, tmp_path) for n in query[kind]]
        try:
            _check(kind, query, configs, nca, path, scheme_runs)
        except AssertionError as exc:
            if key not in DIFFERENT:
                raise AssertionError(f"{case} {query['name']} ({kind}): {exc}") from exc
            # The listed reason is the whole difference: read the inputs as NCA reads them
            # and microseg agrees.
            fixes = [REWRITES[reason] for reason in DIFFERENT[key]]

            def fix(source: dict[str, Any], fixes: list[Any] = fixes) -> None:
                for f in fixes:
                    f(source)

            rewritten = [c.rewritten(fix, tmp_path) for c in configs]
            _check(kind, query, rewritten, nca, path, scheme_runs)
            outcomes[key] = f"differs as listed: {'; '.join(DIFFERENT[key])}"
            continue
        assert key not in DIFFERENT, f"{key} agrees now: remove it from DIFFERENT"
        outcomes[key] = "agrees"
    assert len(outcomes) == 24
    assert sum(v == "agrees" for v in outcomes.values()) == 24 - len(DIFFERENT) - len(
        NOT_APPLICABLE
    )


def _check(
    kind: str,
    query: dict[str, Any],
    configs: list[Config],
    nca: Path,
    scheme_path: Path,
    scheme_runs: dict[Path, str],
) -> None:
    if kind == "connectivityMap":
        for config in configs:
            diffs = differences(canonical(nca_map(nca, config)), canonical(ours(config)))
            assert not diffs, "\n".join(diffs)
    elif kind == "semanticDiff":
        a, b = configs
        out = _run_nca(
            nca,
            (
                "--semantic_diff",
                *b.files,
                "--base_np_list",
                *a.files,
                *b.nca_args(),
                "-o",
                "txt_no_fw_rules",
            ),
        )
        added = _nca_lines(out, "Added connections") + _nca_lines(out, "New connections")
        removed = _nca_lines(out, "Removed connections") + _nca_lines(out, "Lost connections")
        ca, cb = canonical(ours(a)), canonical(ours(b))
        assert not differences(canonical(added), _minus(cb, ca)), "added differ"
        assert not differences(canonical(removed), _minus(ca, cb)), "removed differ"
    elif kind in ("equivalence", "vacuity", "twoWayContainment"):
        maps = [_as_sets(ours(c)) for c in configs]
        if kind == "equivalence":
            got = sum(1 for m in maps[1:] if m != maps[0])
        elif kind == "vacuity":
            (config,) = configs
            empty = Config.__new__(Config)
            empty.__dict__.update(config.__dict__, files=[], microseg_files=[])
            got = int(maps[0] == _as_sets(ours(empty)))
        else:
            a, b = maps
            keys = set(a) | set(b)
            a_in_b = all(a.get(k, ConnSet.none()) <= b.get(k, ConnSet.none()) for k in keys)
            b_in_a = all(b.get(k, ConnSet.none()) <= a.get(k, ConnSet.none()) for k in keys)
            got = 3 if a_in_b and b_in_a else 2 if a_in_b else 1 if b_in_a else 0
        assert got == query["expected"], f"expected {query['expected']}, got {got}"
    elif kind in ("sanity", "redundancy"):
        if scheme_path not in scheme_runs:
            args = ("--scheme", scheme_path.name)
            scheme_runs[scheme_path] = _run_nca(nca, args, scheme_path.parent)
        section = _query_section(scheme_runs[scheme_path], query["name"])
        (config,) = configs
        _check_claims(config, section)
    else:
        raise AssertionError(f"query kind {kind} not handled")


def _query_section(out: str, name: str) -> str:
    start = out.index(f"Running query {name}\n")
    end = out.index(f"Query {name} finished", start)
    return out[start:end]
