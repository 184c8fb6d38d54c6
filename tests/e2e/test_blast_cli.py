"""`microseg blast-radius` end to end: exit codes, streams, and every way to choose sources
and crown jewels. Bad input is a one-line error on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.unit.analyses.test_blast import (
    API,
    BEHIND_INGRESS,
    CACHE,
    DB,
    FRAUD,
    FRONT,
    INTENTS,
    SVC,
    V4_ONLY,
    write_intents,
    write_shop,
)


def invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(app, ["blast-radius", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unexpected {result.exception!r}; stderr:\n{result.stderr}"
    )
    return result


def reachable(path: str, *args: str) -> dict[str, int]:
    result = invoke([path, "-q", "-o", "json", *args])
    assert result.exit_code == 0, result.stderr
    return {r["workload"]: r["hops"] for r in json.loads(result.stdout)["reachable"]}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_shop(tmp_path_factory.mktemp("shop")))


def test_json_on_stdout_only(shop: str) -> None:
    result = invoke([shop, "--from", "web/front", "-o", "json"])
    assert result.exit_code == 0
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["kind"] == "BlastRadius"
    assert doc["from"] == [FRONT]
    assert len(doc["reachable"]) == 5


def test_hops_port_and_crown_jewels(shop: str) -> None:
    assert reachable(shop, "--from", "web/front", "--hops", "1") == {API: 1}
    assert reachable(shop, "--from", "shop/api", "--port", "TCP/5432") == {DB: 1}
    assert reachable(shop, "--from", "shop/api", "--port", "UDP/53") == {}
    assert reachable(shop, "--from", "pay/svc", "--port", "TCP/http") == {FRAUD: 1}
    text = invoke([shop, "--from", "web/front", "--port", "TCP/http"]).stdout
    assert text.startswith(f"{FRONT} compromised: 1 workload reachable in ≤ 1 hop over TCP/http\n")
    assert reachable(shop, "--from", "web/front", "--to", "pay/*", "--to", "shop/db") == {
        SVC: 2,
        DB: 2,
        FRAUD: 3,
    }


def test_sources_combine(shop: str) -> None:
    both = reachable(shop, "--from", "web/front", "--from", "pay/svc")
    assert both == {API: 1, FRAUD: 1, CACHE: 2, DB: 2}  # svc is a source, never "reached"


def test_from_exposed(shop: str) -> None:
    result = invoke([shop, "--from-exposed", "-o", "json"])
    doc = json.loads(result.stdout)
    assert doc["from"] == [FRONT]
    assert len(doc["reachable"]) == 5


def test_from_exposed_includes_workloads_behind_an_ingress(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(BEHIND_INGRESS, encoding="utf-8")
    doc = json.loads(invoke([str(tmp_path), "-q", "--from-exposed", "-o", "json"]).stdout)
    assert doc["from"] == ["ns/site[Pod]"]


def test_nothing_exposed_is_a_notice(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\n"
        "spec: {containers: [{name: c, image: x}]}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: ns}\nspec: {podSelector: {}}\n",
        encoding="utf-8",
    )
    result = invoke([str(tmp_path), "--from-exposed"])
    assert result.exit_code == 0
    assert (
        "notice: no workload accepts connections from public addresses or sits behind an Ingress or Route"
        in result.stderr
    )
    assert result.stdout.startswith("internet-exposed workloads: no workloads to start from")


def test_intent_groups(shop: str, tmp_path: Path) -> None:
    intents = str(write_intents(tmp_path))
    assert reachable(shop, "--intents", intents, "--from", "edge", "--to", "payments") == {
        SVC: 2,
        FRAUD: 3,
    }
    assert reachable(shop, "--from", "internet", "--hops", "1") == {API: 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(INTENTS.replace("namespace: pay", "namespace: [pay]"), encoding="utf-8")
    result = invoke([shop, "--intents", str(bad), "--from", "edge"])
    assert result.exit_code == 2
    assert "bad.yaml:" in result.stderr
    assert "Traceback" not in result.stderr


def test_layers_on_the_mesh_demo(demo_dir: Path) -> None:
    """The demo's api-gateway admits only the webapp's identity in the mesh: counting the
    network layer alone, prometheus reaches it too."""
    args = [str(demo_dir), "-q", "--from", "monitoring/prometheus", "--hops", "1", "-o", "json"]
    gateway = "shop/api-gateway[Deployment]"
    both = json.loads(invoke(args).stdout)
    network = json.loads(invoke([*args, "--layer", "network"]).stdout)
    assert gateway not in {r["workload"] for r in both["reachable"]}
    assert gateway in {r["workload"] for r in network["reachable"]}


def test_text_and_dot(shop: str) -> None:
    text = invoke([shop, "--from", "shop/cache"])
    assert text.exit_code == 0
    assert text.stdout.startswith(f"{CACHE} compromised: 1 workload reachable in ≤ 1 hop\n")
    dot = invoke([shop, "--from", "shop/cache", "-o", "dot"])
    assert dot.stdout.startswith("digraph blast_radius {")
    assert f'"{CACHE}" -> "{DB}" [label="TCP 5432"];' in dot.stdout


def test_runs_on_the_demo(demo_dir: Path) -> None:
    result = invoke([str(demo_dir), "-q", "--from-exposed", "-o", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert "frontend/webapp[Deployment]" in doc["from"]
    assert doc["reachable"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --from"),
        (["--from", "payments"], "need --intents FILE"),
        (["--from", "shop/api", "--to", "internet"], "crown jewels are workloads"),
        (["--from", "shop/nothing"], "--from 'shop/nothing': no workload or pod"),
        (["--from", "nope/*"], "no workloads in namespace 'nope'"),
        (["--from", "shop/api", "--to", "shop/x"], "--to 'shop/x'"),
        (["--from", "shop/api", "--port", "TCP/99999"], "ports must be 1-65535"),
        (["--from", "shop/api", "--port", "bogus"], "no container port named 'bogus'"),
        (["--from", "shop/api", "--port", "UDP/http"], "with protocol UDP"),
        (["--from", "shop/api", "-o", "csv"], "--output 'csv'"),
        (["--from", "shop/api", "--hops", "0"], "--hops"),
        (["--from", "shop/api", "--layer", "l7"], "--layer 'l7'"),
    ],
)
def test_bad_input_exits_2(shop: str, args: list[str], message: str) -> None:
    result = invoke([shop, *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_no_input_exits_2(tmp_path: Path) -> None:
    result = invoke([str(tmp_path / "missing"), "--from", "a/b"])
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_address_sources_on_an_input_without_ipv6(tmp_path: Path) -> None:
    # No policy names IPv6, and web has no ingress policy: ::/0 reaches it all the same.
    (tmp_path / "c.yaml").write_text(V4_ONLY, encoding="utf-8")
    result = invoke([str(tmp_path), "--from", "::/0", "-o", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["from"] == ["a/web[Pod]"]
    # one workload from an address source: the headline keeps what was asked
    text = invoke([str(tmp_path), "--from", "::/0"]).stdout
    assert text.startswith("::/0 compromised (1 workload: a/web[Pod]): ")
    both = invoke([str(tmp_path), "--from", "10.0.0.0/8", "-q", "-o", "json"])
    assert json.loads(both.stdout)["from"] == ["a/db[Pod]", "a/web[Pod]"]


def test_the_port_filter_applies_to_the_entry_hop(tmp_path: Path, shop: str) -> None:
    (tmp_path / "c.yaml").write_text(V4_ONLY, encoding="utf-8")
    only_pg = invoke(
        [str(tmp_path), "--from", "192.168.0.0/16", "--port", "TCP/5432", "-o", "json"]
    )
    assert json.loads(only_pg.stdout)["from"] == ["a/web[Pod]"]  # db admits 10/8 only
    # the internet reaches front on TCP 443 only: no foothold on 5432
    none = invoke([shop, "--from-exposed", "--port", "TCP/5432"])
    assert none.exit_code == 0
    assert "notice: no workload accepts connections" in none.stderr
    assert invoke([shop, "--from", "internet", "--port", "TCP/443", "-o", "json"]).stdout
    doc = json.loads(invoke([shop, "--from", "internet", "--port", "TCP/443", "-o", "json"]).stdout)
    assert doc["from"] == [FRONT]
