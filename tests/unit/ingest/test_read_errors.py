"""Reading bad files: missing paths, invalid YAML/JSON, alias bombs, non-Kubernetes documents,
unknown kinds and stdin (MS001-MS005, MS010)."""

from __future__ import annotations

import io
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from microseg.errors import Severity
from microseg.ingest import load
from tests.unit.ingest._support import line_containing, load_errors, only, write

MB = 1024 * 1024
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels:
    app: web
"""


# --- MS001: a path that does not exist or cannot be read ---------------------------------


def test_missing_file_is_ms001_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    diag = only(load_errors([missing]), "MS001")
    assert diag.origin is not None
    assert diag.origin.file == str(missing)
    assert diag.origin.line is None
    assert "no such file" in diag.message
    assert diag.render() == f"{missing}: error[MS001]: no such file or directory"


def test_missing_folder_is_an_error_even_next_to_good_input(tmp_path: Path) -> None:
    good = write(tmp_path, "ok/pod.yaml", POD)
    missing = tmp_path / "subdir3"
    diags = load_errors([good.parent, missing])
    diag = only(diags, "MS001")
    assert diag.origin is not None
    assert diag.origin.file == str(missing)
    assert len(diags) == 1


def test_file_that_is_not_utf8_is_ms001_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: caf\xe9\n")
    diag = only(load_errors([bad]), "MS001")
    assert diag.origin is not None
    assert diag.origin.file == str(bad)
    assert "cannot read" in diag.message


# --- MS002: invalid YAML or JSON, with its line -------------------------------------------


def test_invalid_yaml_reports_the_line_of_the_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
           labels: {app: web}
        """,
    )
    diag = only(load_errors([path]), "MS002")
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert diag.origin.line == line_containing(path, "labels:") == 5
    assert diag.message.startswith("invalid YAML: ")
    assert diag.render().startswith(f"{path}:5: error[MS002]: invalid YAML: ")


def test_invalid_yaml_in_a_later_document_counts_lines_from_the_top_of_the_file(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "multi.yaml",
        POD
        + """\
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: [unclosed
""",
    )
    diag = only(load_errors([path]), "MS002")
    assert diag.origin is not None
    # libyaml notices the unclosed flow sequence at the end of the input, after line 13.
    assert diag.origin.line is not None
    assert diag.origin.line >= line_containing(path, "[unclosed") == 13


def test_tab_indentation_is_invalid_yaml_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tabs.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n\tname: web\n", encoding="utf-8")
    diag = only(load_errors([path]), "MS002")
    assert diag.origin is not None
    assert diag.origin.line == 4


def test_unsafe_yaml_tag_is_refused_as_invalid_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tag.yaml",
        """
        apiVersion: v1
        kind: Pod
        metadata: !!python/object/apply:os.system ["echo pwned"]
        """,
    )
    diag = only(load_errors([path]), "MS002")
    assert diag.origin is not None
    assert diag.origin.line == 3
    assert "python/object" in diag.message


def test_invalid_json_reports_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pod.json",
        """
        {
          "apiVersion": "v1",
          "kind": "Pod",
          "metadata": {"name": "web",}
        }
        """,
    )
    diag = only(load_errors([path]), "MS002")
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert diag.origin.line == line_containing(path, '"web",}') == 4
    assert diag.message.startswith("invalid JSON: ")


def test_yaml_in_a_json_file_is_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path, "pod.json", POD)
    diag = only(load_errors([path]), "MS002")
    assert diag.message.startswith("invalid JSON: ")
    assert diag.origin is not None
    assert diag.origin.line == 1


def test_yml_file_in_yaml_flow_style_is_read_as_yaml(tmp_path: Path) -> None:
    # Valid YAML (flow style, unquoted keys) but not JSON: a .yml file must be read as YAML.
    path = write(
        tmp_path,
        "ns.yml",
        "{apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: {team: a}}}\n",
    )
    cluster = load([str(path)])
    assert [n.name for n in cluster.namespaces] == ["shop"]
    assert not [d for d in cluster.diagnostics if d.code == "MS002"]


# --- MS003: alias bombs and deep nesting --------------------------------------------------


def _bomb(levels: int = 9, fanout: int = 10) -> list[str]:
    """Anchors a0..a{levels}: a{i} is `fanout` aliases of a{i-1}; a{levels} expands to
    fanout**(levels+1) scalars ("billion laughs")."""
    lines = ["  a0: &a0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return lines


def _bomb_in_configmap() -> str:
    return (
        "\n".join(["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:", *_bomb()])
        + "\n"
    )


def _bomb_in_netpol() -> str:
    # The expanded value lands where validation would walk it (spec.ingress).
    head = [
        "apiVersion: networking.k8s.io/v1",
        "kind: NetworkPolicy",
        "metadata:",
        "  name: lol",
        "  namespace: ns",
        "spec:",
        "  podSelector: {}",
        "  x-anchors:",
    ]
    return "\n".join(head + ["  " + line for line in _bomb()] + ["  ingress: *a9"]) + "\n"


BOMBS = {"configmap": _bomb_in_configmap, "netpol-ingress": _bomb_in_netpol}


@pytest.mark.parametrize("where", sorted(BOMBS))
def test_alias_bomb_is_refused_quickly(tmp_path: Path, where: str) -> None:
    path = write(tmp_path, "bomb.yaml", POD + "---\n" + BOMBS[where]())
    start = time.perf_counter()
    diags = load_errors([path])
    elapsed = time.perf_counter() - start
    diag = only(diags, "MS003")
    assert elapsed < 1.0, f"refusing the bomb took {elapsed:.2f}s"
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert diag.origin.line == line_containing(path, "---") + 1  # the bomb's document
    assert "alias" in diag.message
    assert "refused" in diag.message


def test_alias_bomb_is_refused_without_using_much_memory(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.yaml", _bomb_in_netpol())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    try:
        diags = load_errors([path])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    only(diags, "MS003")
    assert peak < 200 * MB, f"Python allocations peaked at {peak / MB:.0f} MB"
    assert rss_growth < 200 * MB, f"peak RSS grew by {rss_growth / MB:.0f} MB"


def test_alias_bomb_on_stdin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(_bomb_in_configmap()))
    diag = only(load_errors(["-"]), "MS003")
    assert diag.origin is not None
    assert diag.origin.file == "<stdin>"


def test_a_few_ordinary_aliases_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "anchors.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          labels: &labels {app: web, tier: front}
        spec:
          template:
            metadata:
              labels: *labels
        """,
    )
    cluster = load([str(path)])
    assert [str(w.key) for w in cluster.workloads] == ["shop/web[Deployment]"]
    assert dict(cluster.pods[0].labels) == {"app": "web", "tier": "front"}


def test_json_nested_too_deeply_is_ms003(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    diag = only(load_errors([path]), "MS003")
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert "too deep" in diag.message


# --- MS004 / MS005 / MS010: warnings and notices, not errors ------------------------------


def test_non_kubernetes_documents_are_warnings_and_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mixed.yaml",
        """
        just: a mapping
        ---
        - a
        - list
        ---
        plain scalar
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        """,
    )
    cluster = load([str(path)])
    warnings = [d for d in cluster.diagnostics if d.code == "MS004"]
    assert [d.severity for d in warnings] == [Severity.WARNING] * 3
    assert [d.origin.line for d in warnings if d.origin] == [1, 3, 6]
    assert "not a Kubernetes object" in warnings[0].message
    assert not [d for d in cluster.diagnostics if d.severity is Severity.ERROR]
    assert [n.name for n in cluster.namespaces] == ["shop"]


def test_list_items_that_are_not_objects_are_warnings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "list.yaml",
        """
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Namespace
          metadata: {name: shop}
        - {no: kind}
        - just a string
        """,
    )
    cluster = load([str(path)])
    warnings = [d for d in cluster.diagnostics if d.code == "MS004"]
    assert len(warnings) == 2
    assert all(d.severity is Severity.WARNING for d in warnings)
    assert [d.origin.line for d in warnings if d.origin] == [
        line_containing(path, "{no: kind}"),
        line_containing(path, "just a string"),
    ]
    assert [n.name for n in cluster.namespaces] == ["shop"]


def test_folder_without_manifests_is_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a manifest\n", encoding="utf-8")
    cluster = load([str(folder)])
    diag = only(cluster.diagnostics, "MS005")
    assert diag.severity is Severity.WARNING
    assert diag.origin is not None
    assert diag.origin.file == str(folder)


def test_unknown_kinds_give_one_notice_per_kind_and_are_skipped(tmp_path: Path) -> None:
    docs = [("ConfigMap", "c1"), ("Secret", "s1"), ("ConfigMap", "c2"), ("Role", "r1")]
    docs += [("ConfigMap", "c3"), ("Secret", "s2")]
    text = "".join(
        f"---\napiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}, namespace: shop}}\n"
        for kind, name in docs
    )
    path = write(tmp_path, "kinds.yaml", POD + text)
    cluster = load([str(path)])
    notices = {d.message: d for d in cluster.diagnostics if d.code == "MS010"}
    assert len(notices) == 3
    assert all(d.severity is Severity.NOTICE for d in notices.values())
    by_kind = {m.split("kind ")[1].split(":")[0]: (m, d) for m, d in notices.items()}
    assert sorted(by_kind) == ["ConfigMap", "Role", "Secret"]
    assert "skipped 3 object(s) of kind ConfigMap" in by_kind["ConfigMap"][0]
    assert "skipped 2 object(s) of kind Secret" in by_kind["Secret"][0]
    # Each notice points at the first object of its kind (its document's first line).
    origin = by_kind["Secret"][1].origin
    assert origin is not None
    assert origin.line == line_containing(path, "kind: Secret") - 1
    assert origin.name == "s1"
    # Skipped, not read: only the Pod made it into the cluster.
    assert [str(w.key) for w in cluster.workloads] == ["shop/web[Pod]"]


# --- stdin ("-") --------------------------------------------------------------------------


def test_stdin_yaml_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(POD))
    cluster = load(["-"])
    assert [str(w.key) for w in cluster.workloads] == ["shop/web[Pod]"]
    assert cluster.pods[0].origin.file == "<stdin>"


def test_stdin_invalid_yaml_reports_stdin_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(POD + "  bad: [x\n"))
    diag = only(load_errors(["-"]), "MS002")
    assert diag.origin is not None
    assert diag.origin.file == "<stdin>"
    assert diag.origin.line is not None
    assert diag.origin.line >= 8


def test_stdin_invalid_json_is_ms002_with_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys,
        "stdin",
        io.StringIO('{"apiVersion": "v1",\n "kind": "Pod",\n "metadata": {"name": "x"\n'),
    )
    diag = only(load_errors(["-"]), "MS002")
    assert diag.origin is not None
    assert diag.origin.file == "<stdin>"
    assert diag.origin.line is not None
    assert diag.origin.line >= 3


def test_stdin_netpol_error_has_stdin_line_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\n"
        "spec:\n  ingress:\n  - ports:\n    - port: 70000\n"
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    diag = only(load_errors(["-"]), "MS102")
    assert (
        diag.render()
        == "<stdin>:7: error[MS102]: spec.ingress[0].ports[0].port: expected 1-65535, got 70000"
    )
