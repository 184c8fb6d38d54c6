"""`microseg exposure` end to end: the demo's answers, bad input, and the netpol-analyzer
corpus folders with LoadBalancer Services, Ingress and Route objects."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from microseg.model import ConnSet, Protocol
from microseg.model.sets import IntervalSet

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["exposure", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_demo_text_leads_with_the_answer(demo_dir: Path) -> None:
    code, out, _ = run(str(demo_dir), "-q")
    assert code == 0
    lines = out.rstrip("\n").splitlines()
    assert lines[0] == "Reachable from public addresses:"
    assert "frontend/webapp[Deployment]" in lines[1]
    assert lines[-1].startswith("2 workloads reachable from public addresses, ")
    assert lines[-1].endswith("1 entry point (1 partial)")


def test_demo_json(demo_dir: Path) -> None:
    code, out, err = run(str(demo_dir), "-q", "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["apiVersion"], doc["kind"]) == ("microseg.dev/v1alpha1", "ExposureReport")
    by_name = {w["workload"]: w for w in doc["workloads"]}
    web = by_name["frontend/webapp[Deployment]"]
    assert web["fromEveryPublicAddress"] == "TCP 8080"
    # everything but the cloud metadata address, which is link-local, reaches the webapp
    link_local = [r for r in web["inbound"] if r["class"] == "link-local"]
    assert [(r["first"], r["last"]) for r in link_local] == [
        ("169.254.0.0", "169.254.169.253"),
        ("169.254.169.255", "169.254.255.255"),
    ]
    # payments only talks to a documentation range: not public
    pay = by_name["payments/payment-service[Deployment]"]
    assert [(r["class"], r["conn"]) for r in pay["outbound"]] == [
        ("documentation", "TCP 443,8000-8100")
    ]
    assert pay["reachesPublic"] is False
    # the LoadBalancer routes http and metrics; the policy admits only http from outside
    (lb,) = doc["entryPoints"]
    assert (lb["kind"], lb["object"], lb["status"]) == (
        "LoadBalancer",
        "frontend/webapp",
        "partial",
    )
    assert (lb["requested"], lb["allowed"]) == ("TCP 8080,9100", "TCP 8080")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "yaml"], "--output 'yaml': expected text or json"),
        (["--host-network", "both"], "--host-network 'both': expected node or pod"),
        (["--layer", "l7"], "--layer 'l7': expected network, mesh or both"),
    ],
)
def test_bad_options_exit_2(demo_dir: Path, args: list[str], message: str) -> None:
    code, out, err = run(str(demo_dir), *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_bad_manifest_exits_2_with_a_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, "
        "namespace: a}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: "
        "{cidr: 10.0.0.0/33}}]\n",
        encoding="utf-8",
    )
    code, out, err = run(str(bad))
    assert code == 2
    assert out == ""
    assert "bad.yaml:" in err
    assert "cidr" in err


@pytest.mark.parametrize("layer", ["network", "mesh", "both"])
def test_demo_agrees_with_the_connectivity_list_per_layer(demo_dir: Path, layer: str) -> None:
    code, out, err = run(str(demo_dir), "-q", "-o", "json", "--layer", layer)
    assert code == 0, err
    doc = json.loads(out)
    listed = runner.invoke(
        app, ["connectivity", str(demo_dir), "-q", "-o", "json", "--layer", layer]
    )
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)["connections"]
    for direction, end, peer in (("inbound", "dst", "src"), ("outbound", "src", "dst")):
        expected: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            if row[peer].endswith("[External]"):
                expected[row[end]].add(row["conn"])
        got = {
            w["workload"]: {r["conn"] for r in w[direction]}
            for w in doc["workloads"]
            if w[direction]
        }
        assert got == expected, (layer, direction)


def test_demo_mesh_layer_alone_opens_the_load_balancer(demo_dir: Path) -> None:
    _, out, _ = run(str(demo_dir), "-q", "-o", "json", "--layer", "mesh")
    (lb,) = json.loads(out)["entryPoints"]
    assert lb["status"] == "open"  # the NetworkPolicy is what shuts the metrics port
    _, out, _ = run(str(demo_dir), "-q", "-o", "json")
    (lb,) = json.loads(out)["entryPoints"]
    assert lb["status"] == "partial"
    assert lb["blockedBy"] == ["[NP isolated: no rule allows]"]
    assert lb["isolatedBy"] == ["frontend/webapp-allow-public-ingress"]


# --- the corpus ------------------------------------------------------------------------------

EXPOSED_FOLDERS = [
    "onlineboutique_workloads_with_ingress",
    "acs_security_frontend_demos",
    "demo_app_with_routes_and_ingress",
    "route_example_with_target_port",
    "multiple_ingress_objects_with_different_ports_new",
    "k8s_ingress_test_new",
    "services",
    "exposure_test_to_any_namespace_with_podSelector",
]


def _conns(text: str) -> ConnSet:
    """Parse the grammar `TCP 80,8080-8090,UDP 53` back into a set (for comparisons)."""
    if text == "All Connections":
        return ConnSet.all()
    if text == "No Connections":
        return ConnSet.none()
    per: dict[Protocol, list[tuple[int, int]]] = defaultdict(list)
    proto = Protocol.TCP
    for item in text.split(","):
        if " " in item:
            name, item = item.split(" ")
            proto = Protocol(name)
        lo, _, hi = item.partition("-")
        per[proto].append((int(lo), int(hi or lo)))
    return ConnSet.of({p: IntervalSet.of(v) for p, v in per.items()})


@pytest.mark.parametrize("folder", EXPOSED_FOLDERS)
def test_corpus_ingress_entries_agree_with_the_connectivity_list(corpus: Path, folder: str) -> None:
    path = str(corpus / "netpol-analyzer" / "tests" / folder)
    code, out, err = run(path, "-q", "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["entryPoints"] == len(doc["entryPoints"]) > 0
    allowed: dict[str, ConnSet] = defaultdict(ConnSet)
    for e in doc["entryPoints"]:
        assert e["status"] in ("open", "partial", "blocked", "no-endpoints")
        assert _conns(e["allowed"]) <= _conns(e["allowedFromSome"]) <= _conns(e["requested"])
        if e["kind"] in ("Ingress", "Route") and e["workload"]:
            allowed[e["workload"]] |= _conns(e["allowed"])
    listed = runner.invoke(app, ["connectivity", path, "-q", "-o", "json"])
    assert listed.exit_code == 0
    expected = {
        row["dst"]: _conns(row["conn"])
        for row in json.loads(listed.stdout)["connections"]
        if row["src"] == "{ingress-controller}"
    }
    assert {w: c for w, c in allowed.items() if c} == expected
    text_code, text, _ = run(path, "-q")
    assert text_code == 0
    n = len(doc["entryPoints"])
    assert f", {n} entry point{'s' if n != 1 else ''}" in text.rstrip("\n").splitlines()[-1]
