"""Bad input through the CLI: a located diagnostic on stderr, nothing on stdout, exit 2, and
never a traceback. Covers the NetworkPolicy rows of netpol-analyzer's bad-path cases."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from microseg.cli.app import app

REACH = ["--from", "shop/web", "--to", "shop/db"]

# --- the corpus: bad-path-cases.tsv ---------------------------------------------------------

# NetworkPolicy rows that must be fatal: (code, a part of the message that names the problem).
FATAL_CASES: dict[str, tuple[str, str]] = {
    "bad_netpols/subdir1": ("MS102", "invalid CIDR"),
    "bad_netpols/subdir2": ("MS102", "invalid label key"),
    "bad_netpols/subdir7": ("MS102", "invalid label value"),
    "bad_netpols/subdir3": ("MS102", "not both"),
    "bad_netpols/subdir4": ("MS102", "empty peer"),
    "bad_netpols/subdir6": ("MS102", "named port"),
    "bad_yamls/subdir3": ("MS001", "no such file or directory"),
    "np_bad_path_test_1": ("MS103", "two NetworkPolicies named"),
    "np_bad_path_test_2": ("MS102", "endPort needs a numeric port"),
    "np_test_with_empty_port_range": ("MS102", "empty range"),
}
# Rows where microseg deliberately answers differently from netpol-analyzer: two Namespaces
# of one name with different labels are a warning and the later one is used, as
# `kubectl apply` of both would leave it (issue: "Right answers on real manifests").
WARNING_CASES: dict[str, str] = {
    "bad_path_namespace_with_same_name": "warning[MS202]",
}
# Pods of one owner with different labels: not an error for us, a warning naming the workload.
SPLIT_CASES: dict[str, str] = {
    "semanticDiff-same-topologies-illegal-podlist": "demo/cog-agents[DaemonSet]",
    "example_pods_w_same_owner_and_labels_gap_with_bad_match_expression": "default/internal-security[Pod]",
    "example_w_err_pods_w_same_owner_and_labels_gap_anp": "default/internal-security[Pod]",
}
# Another issue: AdminNetworkPolicy, BaselineAdminNetworkPolicy, (Cluster)UserDefinedNetwork.
OTHER_ISSUE_PREFIXES = ("anp_", "banp_", "udn_", "cudn_")


def _tsv_rows(corpus: Path) -> dict[str, str]:
    lines = (corpus / "netpol-analyzer" / "bad-path-cases.tsv").read_text().splitlines()[1:]
    rows = (line.split("\t", 1) for line in lines if line.strip())
    return {case: what for case, what in rows}


def _case_dir(corpus: Path, case: str) -> Path:
    return corpus / "netpol-analyzer" / "tests" / case


def invoke(args: list[str], stdin: str | None = None) -> Result:
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"unexpected {result.exception!r}; stderr:\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    return result


def assert_fatal(result: Result, code: str, fragment: str = "") -> list[str]:
    """Exit 2, stdout empty, and `error[code]` lines on stderr; returns those lines."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if f"error[{code}]" in line]
    assert lines, result.stderr
    assert any(fragment in line for line in lines), result.stderr
    assert result.stderr.rstrip().endswith("nothing was analysed")
    return lines


def test_corpus_netpol_rows_are_all_covered(corpus: Path) -> None:
    rows = _tsv_rows(corpus)
    ours = {case for case in rows if not case.startswith(OTHER_ISSUE_PREFIXES)}
    assert ours == set(FATAL_CASES) | set(SPLIT_CASES) | set(WARNING_CASES)


@pytest.mark.parametrize("case", list(WARNING_CASES))
def test_corpus_case_answered_with_a_warning(corpus: Path, case: str) -> None:
    assert case in _tsv_rows(corpus)
    result = invoke(["connectivity", str(_case_dir(corpus, case))])
    assert result.exit_code == 0, result.stderr
    assert WARNING_CASES[case] in result.stderr
    assert "this later declaration is used" in result.stderr


@pytest.mark.parametrize("command", ["connectivity", "reach"])
@pytest.mark.parametrize("case", list(FATAL_CASES))
def test_corpus_bad_netpol_case_is_fatal(corpus: Path, case: str, command: str) -> None:
    assert case in _tsv_rows(corpus)
    code, fragment = FATAL_CASES[case]
    folder = _case_dir(corpus, case)
    args = [command, str(folder)] + (REACH if command == "reach" else [])
    lines = assert_fatal(invoke(args), code, fragment)
    if code == "MS001":
        assert lines == [f"{folder}: error[MS001]: no such file or directory"]
    else:
        # file:LINE: error[CODE]: [field.path: ]message, in one of the case's files.
        pattern = re.compile(rf"^{re.escape(str(folder))}/[^:]+:\d+: error\[{code}\]: ")
        assert all(pattern.match(line) for line in lines), lines


@pytest.mark.parametrize("case", list(SPLIT_CASES))
def test_corpus_pods_of_one_owner_with_different_labels_warn(corpus: Path, case: str) -> None:
    assert case in _tsv_rows(corpus)
    result = invoke(["connectivity", str(_case_dir(corpus, case))])
    assert result.exit_code == 0, result.stderr
    assert "error[" not in result.stderr
    warning = f"warning[MS204]: pods of workload {SPLIT_CASES[case]} have different labels"
    assert warning in result.stderr
    assert result.stdout.strip()


# --- small inputs ---------------------------------------------------------------------------

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def netpol(spec_body: str, name: str = "np") -> str:
    head = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata:\n  name: {name}\n  namespace: shop\nspec:\n"
    )
    return head + textwrap.indent(textwrap.dedent(spec_body).lstrip("\n"), "  ")


def test_missing_path_is_ms001(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    lines = assert_fatal(invoke(["connectivity", str(missing)]), "MS001")
    assert lines == [f"{missing}: error[MS001]: no such file or directory"]


def test_invalid_yaml_reports_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", POD + "   oops: [\n")
    lines = assert_fatal(invoke(["connectivity", str(path)]), "MS002")
    assert re.match(rf"^{re.escape(str(path))}:\d+: error\[MS002\]: invalid YAML: ", lines[0])


def test_invalid_yaml_line_is_exact(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: 1\n"
    )
    lines = assert_fatal(invoke(["connectivity", str(path)]), "MS002")
    assert lines[0].startswith(f"{path}:5: error[MS002]: invalid YAML: ")


def test_invalid_json_reports_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "pod.json", '{\n  "apiVersion": "v1",\n  "kind": "Pod"\n  "x": 1\n}\n')
    lines = assert_fatal(invoke(["connectivity", str(path)]), "MS002")
    assert lines[0].startswith(f"{path}:4: error[MS002]: invalid JSON: ")


def _bomb_text() -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:"]
    lines.append("  a0: &a0 [" + ", ".join(['"lol"'] * 10) + "]")
    for i in range(1, 10):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_within_a_second(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.yaml", _bomb_text())
    start = time.perf_counter()
    result = invoke(["connectivity", str(path)])
    elapsed = time.perf_counter() - start
    lines = assert_fatal(result, "MS003", "alias")
    assert lines[0].startswith(f"{path}:1: error[MS003]: ")
    assert elapsed < 1.0, f"took {elapsed:.2f}s"


def test_alias_bomb_on_stdin_is_refused() -> None:
    lines = assert_fatal(invoke(["connectivity", "-"], stdin=_bomb_text()), "MS003")
    assert lines[0].startswith("<stdin>:1: error[MS003]: ")


def test_yaml_nested_too_deeply_is_refused_not_a_crash(tmp_path: Path) -> None:
    # In a subprocess: a crash of the YAML parser would take the test runner down with it.
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from microseg.cli.app import main; main()",
            "connectivity",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, f"exit {proc.returncode}; stderr: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    assert f"{path}" in proc.stderr
    assert "error[MS003]" in proc.stderr
    assert proc.stdout == ""


def test_non_kubernetes_document_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.yaml", "name: not a k8s object\nvalue: 3\n---\n" + POD)
    result = invoke(["connectivity", str(path)])
    assert result.exit_code == 0, result.stderr
    assert f"{path}:1: warning[MS004]: " in result.stderr
    assert "error[" not in result.stderr
    assert "shop/web[Pod]" in result.stdout


def test_unknown_kinds_give_one_notice_per_kind(tmp_path: Path) -> None:
    extra = "".join(
        f"---\napiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}}}\n"
        for kind, name in [
            ("ConfigMap", "a"),
            ("Secret", "b"),
            ("ConfigMap", "c"),
            ("ConfigMap", "d"),
        ]
    )
    path = write(tmp_path, "kinds.yaml", POD + extra)
    result = invoke(["connectivity", str(path)])
    assert result.exit_code == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "notice[MS010]" in line]
    assert len(notices) == 2, notices
    assert any("skipped 3 object(s) of kind ConfigMap" in line for line in notices)
    assert any("skipped 1 object(s) of kind Secret" in line for line in notices)
    assert "shop/web[Pod]" in result.stdout
    quiet = invoke(["connectivity", str(path), "-q"])
    assert quiet.exit_code == 0
    assert "MS010" not in quiet.stderr


def test_port_70000_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "np.yaml", netpol("podSelector: {}\ningress:\n- ports:\n  - port: 70000\n")
    )
    lines = assert_fatal(invoke(["connectivity", str(path)]), "MS102")
    assert lines == [
        f"{path}:10: error[MS102]: spec.ingress[0].ports[0].port: expected 1-65535, got 70000"
    ]
    assert "1 error; nothing was analysed" in invoke(["connectivity", str(path)]).stderr


# (spec body, expected `field.path: message` fragment, text on the reported line)
NETPOL_CASES: dict[str, tuple[str, str, str]] = {
    "endPort-below-port": (
        "podSelector: {}\ningress:\n- ports:\n  - port: 9000\n    endPort: 8000\n",
        "spec.ingress[0].ports[0]: endPort 8000 is less than port 9000: empty range",
        "port: 9000",
    ),
    "named-port-with-endPort": (
        "podSelector: {}\negress:\n- ports:\n  - port: http\n    endPort: 9000\n",
        "spec.egress[0].ports[0]: endPort needs a numeric port",
        "port: http",
    ),
    "bad-label-key": (
        "podSelector:\n  matchLabels:\n    app@b: web\n",
        "spec.podSelector.matchLabels: invalid label key 'app@b'",
        "app@b",
    ),
    "bad-label-value": (
        "podSelector:\n  matchLabels:\n    app: $web\n",
        "spec.podSelector.matchLabels: invalid label value '$web'",
        "app: $web",
    ),
    "In-without-values": (
        "podSelector:\n  matchExpressions:\n  - key: app\n    operator: In\n",
        "spec.podSelector.matchExpressions[0]: operator In needs a non-empty 'values' list",
        "key: app",
    ),
    "Exists-with-values": (
        "podSelector:\n  matchExpressions:\n  - key: app\n    operator: Exists\n    values: [a]\n",
        "spec.podSelector.matchExpressions[0]: operator Exists takes no 'values'",
        "key: app",
    ),
    "except-outside-cidr": (
        "podSelector: {}\negress:\n- to:\n  - ipBlock:\n      cidr: 10.0.0.0/8\n"
        "      except: [10.0.0.0/7]\n",
        "spec.egress[0].to[0].ipBlock: except '10.0.0.0/7' must be within cidr '10.0.0.0/8'",
        "cidr: 10.0.0.0/8",
    ),
    "ipBlock-and-podSelector": (
        "podSelector: {}\ningress:\n- from:\n  - podSelector: {}\n    ipBlock: {cidr: 10.0.0.0/8}\n",
        "spec.ingress[0].from[0]: a peer may set ipBlock or podSelector/namespaceSelector, not both",
        "- podSelector: {}",
    ),
    "empty-peer": (
        "podSelector: {}\ningress:\n- from:\n  - {}\n",
        "spec.ingress[0].from[0]: empty peer",
        "- {}",
    ),
}


@pytest.mark.parametrize("case", list(NETPOL_CASES))
def test_invalid_netpol_is_fatal_with_field_and_line(tmp_path: Path, case: str) -> None:
    body, fragment, needle = NETPOL_CASES[case]
    path = write(tmp_path, "np.yaml", netpol(body))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)
    lines = assert_fatal(invoke(["connectivity", str(path)]), "MS102", fragment)
    assert lines[0].startswith(f"{path}:{line}: error[MS102]: {fragment}")


def test_duplicate_netpol_names_are_ms103(tmp_path: Path) -> None:
    path = write(tmp_path, "np.yaml", netpol("podSelector: {}\n") + "---\n" + netpol("{}\n"))
    lines = assert_fatal(invoke(["connectivity", str(path)]), "MS103")
    assert lines == [
        f"{path}:9: error[MS103]: metadata.name: two NetworkPolicies named shop/np "
        f"(first at {path}:1); names must be unique within a namespace"
    ]


def test_identical_duplicate_namespace_is_a_ms202_notice(tmp_path: Path) -> None:
    # Applying the same Namespace twice is harmless (kubectl, network-config-analyzer).
    ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
    path = write(tmp_path, "ns.yaml", ns + "---\n" + ns)
    result = invoke(["connectivity", str(path)])
    assert result.exit_code == 0, result.stderr
    assert (
        f"{path}:6: notice[MS202]: metadata.name: namespace 'shop' is declared twice, "
        f"identically (first at {path}:1); the second declaration changes nothing"
    ) in result.stderr.splitlines()


def test_conflicting_duplicate_namespace_is_a_ms202_warning(tmp_path: Path) -> None:
    ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
    path = write(tmp_path, "ns.yaml", ns + "---\n" + ns + "  labels: {team: a}\n")
    result = invoke(["connectivity", str(path)])
    assert result.exit_code == 0, result.stderr
    assert (
        f"{path}:6: warning[MS202]: metadata.name: namespace 'shop' is declared twice with "
        f"different labels (first at {path}:1); this later declaration is used, as kubectl "
        "apply would"
    ) in result.stderr.splitlines()


def test_pod_labels_not_a_mapping_is_ms201(tmp_path: Path) -> None:
    path = write(tmp_path, "pod.yaml", POD.replace("labels: {app: web}", "labels: [app, web]"))
    lines = assert_fatal(invoke(["connectivity", str(path)]), "MS201")
    assert lines[0].startswith(f"{path}:6: error[MS201]: metadata.labels: expected dict, got list")


def test_all_errors_are_listed_and_counted(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", netpol("podSelector: {}\ningress:\n- ports:\n  - port: 0\n"))
    write(tmp_path, "b.yaml", POD.replace("labels: {app: web}", "labels: {app: $x}"))
    missing = tmp_path / "missing.yaml"
    result = invoke(["connectivity", str(tmp_path), str(missing)])
    assert result.exit_code == 2
    assert result.stdout == ""
    codes = re.findall(r"error\[(MS\d+)\]", result.stderr)
    assert sorted(codes) == ["MS001", "MS102", "MS201"]
    assert result.stderr.rstrip().endswith("3 errors; nothing was analysed")


def test_reach_exits_2_on_bad_input_not_1(tmp_path: Path) -> None:
    path = write(tmp_path, "np.yaml", netpol("podSelector: {}\ningress:\n- from:\n  - {}\n"))
    assert_fatal(invoke(["reach", str(path), *REACH, "--port", "TCP/80"]), "MS102", "empty peer")


# --- stdin ----------------------------------------------------------------------------------


def test_stdin_good_input_is_analysed() -> None:
    result = invoke(["connectivity", "-"], stdin=POD)
    assert result.exit_code == 0, result.stderr
    assert "shop/web[Pod]" in result.stdout


def test_stdin_invalid_yaml_names_stdin_and_line() -> None:
    result = invoke(
        ["connectivity", "-"], stdin="apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: 1\n"
    )
    lines = assert_fatal(result, "MS002")
    assert lines[0].startswith("<stdin>:5: error[MS002]: invalid YAML: ")


def test_stdin_invalid_json_is_ms002() -> None:
    result = invoke(
        ["connectivity", "-"], stdin='{"apiVersion": "v1",\n "kind": "Pod",\n "metadata": {\n'
    )
    lines = assert_fatal(result, "MS002")
    assert re.match(r"^<stdin>:\d+: error\[MS002\]: ", lines[0])


def test_stdin_bad_netpol_names_stdin_line_and_field() -> None:
    text = netpol("podSelector: {}\ningress:\n- ports:\n  - port: 70000\n")
    lines = assert_fatal(invoke(["connectivity", "-"], stdin=text), "MS102")
    assert lines == [
        "<stdin>:10: error[MS102]: spec.ingress[0].ports[0].port: expected 1-65535, got 70000"
    ]


# --- malformed objects of other kinds: a diagnostic, never a traceback ----------------------

MALFORMED = {
    "serviceaccount-metadata-a-string": "apiVersion: v1\nkind: ServiceAccount\nmetadata: builder\n",
    "service-ports-an-int": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: 80}\n",
    "pod-status-podIPs-an-int": POD + "status: {podIPs: 5}\n",
    "namespace-label-key-an-int": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {1: a}}\n",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_object_gives_no_traceback(tmp_path: Path, case: str) -> None:
    path = write(tmp_path, "obj.yaml", POD + "---\n" + MALFORMED[case])
    result = invoke(["connectivity", str(path)])  # asserts: no exception but SystemExit
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        assert result.stdout == ""
        assert re.search(rf"^{re.escape(str(path))}:\d+: error\[MS\d+\]: ", result.stderr, re.M)
