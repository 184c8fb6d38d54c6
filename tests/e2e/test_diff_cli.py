"""`microseg diff OLD NEW` end to end: exit codes like diff(1) (0 same, 1 different, 2 bad
input), results on stdout only, located diagnostics for bad input, never a traceback."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from microseg.cli.app import app

NS_AND_PODS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: c, ports: [{containerPort: 8080, name: http}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  containers: [{name: c, ports: [{containerPort: 5432}]}]
"""

DB_FROM_WEB = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
"""

CACHE = """\
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: shop, labels: {app: cache}}
"""

WEB = "shop/web[Pod]"
DB = "shop/db[Pod]"


def invoke(args: list[str], stdin: str | None = None) -> Result:
    result = CliRunner().invoke(app, ["diff", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unexpected {result.exception!r}; stderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    return result


def folder(tmp_path: Path, name: str, *docs: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "cluster.yaml").write_text(
        "---\n".join(textwrap.dedent(d) for d in docs), encoding="utf-8"
    )
    return path


@pytest.fixture
def old(tmp_path: Path) -> Path:
    return folder(tmp_path, "old", NS_AND_PODS)


@pytest.fixture
def new(tmp_path: Path) -> Path:
    return folder(tmp_path, "new", NS_AND_PODS, DB_FROM_WEB + CACHE)


def test_same_connectivity_exits_0_with_nothing_on_stdout(old: Path, tmp_path: Path) -> None:
    # Different text, same meaning: an explicit allow-everything policy.
    allow_all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: all, namespace: shop}\nspec:\n  podSelector: {}\n  ingress: [{}]\n"
    same = folder(tmp_path, "same", NS_AND_PODS, allow_all)
    result = invoke([str(old), str(same)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "no difference in connectivity" in result.stderr
    quiet = invoke([str(old), str(same), "-q"])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_differences_exit_1_in_netpol_analyzer_grammar(old: Path, new: Path) -> None:
    result = invoke([str(old), str(new), "-q"])
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Connectivity diff:"
    assert (
        f"diff-type: changed, source: {WEB}, destination: {DB}, "
        "ref1: All Connections, ref2: TCP 5432"
    ) in lines
    # db no longer reachable from outside the cluster
    assert (
        f"diff-type: removed, source: 0.0.0.0-255.255.255.255[External], destination: {DB}, "
        "ref1: All Connections, ref2: No Connections"
    ) in lines
    # cache is a new workload: its rows say so
    added = [ln for ln in lines if "shop/cache[Pod]" in ln]
    assert added
    assert all(ln.startswith("diff-type: added, ") for ln in added)
    assert all("workloads-diff-info: workload shop/cache[Pod] added" in ln for ln in added)


def test_swapping_the_inputs_swaps_added_and_removed(old: Path, new: Path) -> None:
    forward = invoke([str(old), str(new), "-q", "-o", "json"])
    backward = invoke([str(new), str(old), "-q", "-o", "json"])
    f, b = json.loads(forward.stdout), json.loads(backward.stdout)
    assert f["summary"]["added"] == b["summary"]["removed"]
    assert f["summary"]["removed"] == b["summary"]["added"]
    assert f["summary"]["addedWorkloads"] == b["summary"]["removedWorkloads"] == ["shop/cache[Pod]"]


def test_json_envelope(old: Path, new: Path) -> None:
    result = invoke([str(old), str(new), "-q", "-o", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert (doc["apiVersion"], doc["kind"]) == ("microseg.dev/v1alpha1", "ConnectivityDiff")
    assert doc["refs"]["ref1"] == {"name": "ref1", "path": str(old)}
    assert doc["refs"]["ref2"] == {"name": "ref2", "path": str(new)}
    assert {"diffType", "src", "dst", "ref1", "ref2"} <= set(doc["diffs"][0])
    assert len(doc["diffs"]) == sum(doc["summary"][k] for k in ("changed", "added", "removed"))


@pytest.mark.parametrize(
    ("fmt", "header"),
    [
        ("csv", "diff-type,source,destination,before,after,workloads-diff-info"),
        ("md", "| diff-type | source | destination | before | after | workloads-diff-info |"),
    ],
)
def test_tables_with_renamed_columns(old: Path, new: Path, fmt: str, header: str) -> None:
    result = invoke(
        [str(old), str(new), "-q", "-o", fmt, "--ref1-name", "before", "--ref2-name", "after"]
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == header


def test_stdin_as_one_input(old: Path, new: Path) -> None:
    text = (new / "cluster.yaml").read_text(encoding="utf-8")
    result = invoke([str(old), "-", "-q"], stdin=text)
    assert result.exit_code == 1
    assert result.stdout == invoke([str(old), str(new), "-q"]).stdout


def test_a_file_against_a_folder(old: Path, new: Path, tmp_path: Path) -> None:
    single = tmp_path / "one.yaml"
    shutil.copy(new / "cluster.yaml", single)
    assert invoke([str(new), str(single)]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-", "-"], "cannot both be -"),
        (["-o", "dot"], "--output 'dot'"),
        (["--ref1-name", "a,b"], "--ref1-name 'a,b'"),
        (["--host-network", "bridge"], "--host-network 'bridge'"),
    ],
)
def test_bad_usage_exits_2(old: Path, args: list[str], message: str) -> None:
    paths = [] if args[:2] == ["-", "-"] else [str(old), str(old)]
    result = invoke([*paths, *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_missing_new_is_a_located_error(old: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = invoke([str(old), str(missing)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{missing}: error[MS001]: no such file or directory" in result.stderr


def test_bad_policy_in_old_is_a_located_error(new: Path, tmp_path: Path) -> None:
    bad = DB_FROM_WEB.replace("port: 5432", "port: 70000")
    broken = folder(tmp_path, "broken", NS_AND_PODS, bad)
    result = invoke([str(broken), str(new)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{broken}/cluster.yaml:" in result.stderr
    assert "error[MS102]" in result.stderr


def test_demo_against_itself(demo_dir: Path) -> None:
    result = invoke([str(demo_dir), str(demo_dir), "-q"])
    assert (result.exit_code, result.stdout) == (0, "")


def test_ipv6_mentioned_on_one_side_only_is_no_difference(tmp_path: Path) -> None:
    # OLD allows web every egress through a policy that happens to name ::/0; NEW has no
    # policy. Both allow the same, in both families: OLD's IPv6 rows must be compared with
    # NEW's IPv6 connectivity, not with nothing because NEW's list hides IPv6.
    workloads = """\
    apiVersion: v1
    kind: Namespace
    metadata: {name: a}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: a}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: c, image: x}]}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: api, namespace: a}
    spec:
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}}
        spec: {containers: [{name: c, image: x}]}
    """
    egress_all = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: web, namespace: a}
    spec:
      podSelector: {matchLabels: {app: web}}
      policyTypes: [Egress]
      egress:
      - to: [{ipBlock: {cidr: "::/0"}}]
      - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
      - to: [{podSelector: {}}]
    """
    old = folder(tmp_path, "old6", workloads, egress_all)
    new = folder(tmp_path, "new6", workloads)
    for args in ([str(old), str(new)], [str(new), str(old)]):
        result = invoke([*args, "-q"])
        assert (result.exit_code, result.stdout) == (0, ""), result.stdout


def test_ipv6_difference_is_reported_when_one_side_names_ipv6(tmp_path: Path) -> None:
    # OLD lets web reach only IPv4 (policy names 0.0.0.0/0); NEW names ::/0 too. NEW's
    # IPv6 egress is the difference; OLD's IPv6 side is its real (empty) connectivity.
    pods = NS_AND_PODS
    only_v4 = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: web, namespace: shop}
    spec:
      podSelector: {matchLabels: {app: web}}
      policyTypes: [Egress]
      egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
    """
    both = only_v4.replace(
        "egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]",
        'egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}, {ipBlock: {cidr: "::/0"}}]}]',
    )
    result = invoke(
        [str(folder(tmp_path, "o", pods, only_v4)), str(folder(tmp_path, "n", pods, both)), "-q"]
    )
    assert result.exit_code == 1, result.stderr
    assert result.stdout.splitlines()[1:] == [
        f"diff-type: added, source: {WEB}, destination: "
        "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff[External], "
        "ref1: No Connections, ref2: All Connections"
    ]
