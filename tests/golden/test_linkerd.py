"""CLI golden tests on the Linkerd example (examples/linkerd): reach across both layers,
identity and lint; and one golden per default inbound policy
(https://linkerd.io/2/reference/authorization-policy/#default-policies), for a meshed and
an unmeshed client of a port no Server selects."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

from .conftest import Golden

runner = CliRunner()
EXAMPLE = "examples/linkerd"

ROUTE = ["--from", "shop/storefront", "--to", "shop/books", "--port", "TCP/7000"]
DB = ["--from", "shop/storefront", "--to", "shop/db", "--port", "TCP/5432"]
UNMESHED = ["--from", "batch/report", "--to", "shop/db", "--port", "TCP/5432"]

CASES = [
    ("linkerd_reach", "route.txt", "reach", ROUTE, 0),
    ("linkerd_reach", "route.json", "reach", [*ROUTE, "-o", "json"], 0),
    ("linkerd_reach", "db.txt", "reach", DB, 1),
    ("linkerd_reach", "unmeshed.txt", "reach", UNMESHED, 1),
    ("linkerd_identity", "identity.txt", "identity", [], 0),
    ("linkerd_identity", "identity.json", "identity", ["-o", "json"], 0),
    # the books Server has routes: kubelet's readiness probe gets no probe route (ML013)
    ("linkerd_lint", "lint.txt", "lint", [], 1),
]


def _run(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = demo_dir.parents[1]
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize(
    ("scenario", "filename", "command", "args", "exit_code"),
    CASES,
    ids=[f"{c[0]}/{c[1]}" for c in CASES],
)
def test_linkerd_golden(
    golden: Golden,
    repo: Path,
    scenario: str,
    filename: str,
    command: str,
    args: list[str],
    exit_code: int,
) -> None:
    code, out, err = _run([command, EXAMPLE, *args])
    golden(f"{scenario}/{filename}", out)
    assert code == exit_code, err
    assert err == "", "the example loads without notices or warnings"


POLICIES = (
    "all-unauthenticated",
    "all-authenticated",
    "cluster-unauthenticated",
    "cluster-authenticated",
    "deny",
    "audit",
)
# (source, expected exit code per policy, in POLICIES' order): the storefront is meshed,
# the report job is not; both have addresses in the cluster networks, 203.0.113.9 not.
CLIENTS = (
    ("shop/books", (0, 0, 0, 0, 1, 0)),
    ("batch/report", (0, 1, 0, 1, 1, 0)),
    ("203.0.113.9", (0, 1, 1, 1, 1, 0)),
)


@pytest.mark.parametrize("policy", POLICIES)
def test_default_inbound_policy_golden(
    golden: Golden, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    text = (repo / EXAMPLE / "cluster.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "default-inbound-policy: cluster-authenticated", f"default-inbound-policy: {policy}"
    )
    # Addresses, so that the cluster networks decide for the pods as they do in a cluster.
    text = text.replace(
        "kind: Namespace\nmetadata:\n  name: batch\n",
        "kind: Namespace\nmetadata:\n  name: batch\n---\napiVersion: v1\nkind: Pod\nmetadata:\n"
        "  name: report-1\n  namespace: batch\n  labels: {app: report}\nspec:\n"
        "  serviceAccountName: report\n  containers: [{name: report, image: report:1}]\n"
        "status: {podIP: 10.4.0.9}\n",
    )
    (tmp_path / "cluster.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = []
    for source, codes in CLIENTS:
        args = [
            "reach",
            "cluster.yaml",
            "--from",
            source,
            "--to",
            "shop/storefront",
            "--port",
            "TCP/8080",
            "--layer",
            "mesh",
        ]
        code, stdout, err = _run(args)
        assert code == codes[POLICIES.index(policy)], (source, stdout, err)
        out.append(f"$ microseg {' '.join(args)}\n{stdout}")
    golden(f"linkerd_default_policy/{policy}.txt", "\n".join(out))


def test_recommend_linkerd_golden(golden: Golden, repo: Path, tmp_path: Path) -> None:
    """`recommend --format linkerd` on the example's workloads (without its policy, which
    the set would replace) and flows: the report and the YAML it writes."""
    db = str(tmp_path / "f.duckdb")
    code, out, err = _run(["flows", "import", f"{EXAMPLE}/flows.csv", "--db", db, "-q"])
    assert code == 0, out + err
    folder = tmp_path / "policies"
    args = ["recommend", f"{EXAMPLE}/cluster.yaml", "--flows", db, "--out", str(folder)]
    code, out, err = _run([*args, "--format", "linkerd"])
    assert code == 0, out + err
    golden("linkerd_recommend/recommend.txt", out.replace(str(folder), "OUT").replace(db, "DB"))
    for f in sorted(folder.glob("*.yaml")):
        golden(f"linkerd_recommend/policies/{f.name}", f.read_text())
