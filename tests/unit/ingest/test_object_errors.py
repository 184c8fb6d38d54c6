"""Invalid Pods, workloads and Namespaces (MS201-MS204), and malformed objects of every kind
read: each gives a diagnostic, never an unexpected exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import Diagnostic, InputError, Severity
from microseg.ingest import load
from tests.unit.ingest._support import line_containing, load_errors, only, write

# --- MS202: a namespace declared twice ------------------------------------------------------


def test_namespace_declared_twice_with_other_labels_warns_and_the_later_wins(
    tmp_path: Path,
) -> None:
    # As `kubectl apply` of both documents would leave it (the issue: a warning naming both
    # places, never a hard error that stops the analysis).
    path = write(
        tmp_path,
        "ns.yaml",
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: blue
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: blue
          labels: {team: b}
        """,
    )
    cluster = load([str(path)])
    diag = only(cluster.diagnostics, "MS202")
    assert diag.severity is Severity.WARNING
    assert diag.field == "metadata.name"
    assert diag.origin is not None
    assert diag.origin.line == 6  # the second declaration
    assert "'blue' is declared twice with different labels" in diag.message
    assert f"first at {path}:1" in diag.message
    [namespace] = cluster.namespaces
    assert namespace.labels.get("team") == "b"
    assert namespace.origin.line == 6


def test_namespace_declared_identically_in_two_files_is_a_ms202_notice(tmp_path: Path) -> None:
    # Identical re-declarations are accepted (kubectl apply, network-config-analyzer).
    ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: blue, labels: {team: b}}\n"
    first = write(tmp_path, "a.yaml", ns)
    second = write(tmp_path, "b.yaml", ns.replace("{team: b}", "{'team': 'b'}"))
    cluster = load([str(tmp_path)])
    diag = only(cluster.diagnostics, "MS202")
    assert diag.severity is Severity.NOTICE
    assert diag.origin is not None
    assert diag.origin.file == str(second)
    assert f"first at {first}:1" in diag.message
    assert "identically" in diag.message
    [namespace] = cluster.namespaces
    assert namespace.origin.file == str(first)
    assert namespace.labels.get("team") == "b"


def test_namespace_declared_in_two_files_with_other_labels_is_a_ms202_warning(
    tmp_path: Path,
) -> None:
    first = write(tmp_path, "a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: blue}\n")
    second = write(
        tmp_path,
        "b.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: blue, labels: {team: b}}\n",
    )
    cluster = load([str(tmp_path)])
    diag = only(cluster.diagnostics, "MS202")
    assert diag.severity is Severity.WARNING
    assert diag.origin is not None
    assert diag.origin.file == str(second)
    assert f"first at {first}:1" in diag.message
    [namespace] = cluster.namespaces
    assert namespace.origin.file == str(second)


# --- MS201: invalid fields of Namespaces, Pods and workloads ------------------------------


def test_namespace_without_name_is_ms201(tmp_path: Path) -> None:
    path = write(
        tmp_path, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n"
    )
    diag = only(load_errors([path]), "MS201")
    assert diag.field == "metadata.name"
    assert diag.message == "required field is missing"


def test_namespace_labels_not_a_mapping_is_ms201(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ns.yaml",
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: blue
          labels: [team, b]
        """,
    )
    diag = only(load_errors([path]), "MS201")
    assert diag.field == "metadata.labels"
    assert "mapping" in diag.message


def test_namespace_bad_label_points_at_the_label_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ns.yaml",
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: blue
          labels:
            team: "-bad-"
        """,
    )
    diag = only(load_errors([path]), "MS201")
    assert diag.field == "metadata.labels.team"
    assert "invalid label value '-bad-'" in diag.message
    assert diag.origin is not None
    assert diag.origin.line == line_containing(path, "team:") == 6


POD_HEAD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
"""


POD_CASES = [
    (
        "labels-a-list",
        "  labels:\n  - app=web\n",
        "- app=web",
        "metadata.labels",
        "expected dict, got list",
    ),
    (
        "labels-a-string",
        "  labels: app=web\n",
        "labels: app=web",
        "metadata.labels",
        "expected dict, got str",
    ),
    (
        "label-value-an-int",
        "  labels:\n    replicas: 3\n",
        "replicas: 3",
        "metadata.labels.replicas",
        "label values must be strings, got int 3",
    ),
    (
        "label-key-invalid",
        "  labels:\n    app@b: web\n",
        "app@b: web",
        "metadata.labels.app@b",
        "invalid label key 'app@b'",
    ),
    (
        "label-value-invalid",
        "  labels:\n    app: $web\n",
        "app: $web",
        "metadata.labels.app",
        "invalid label value '$web'",
    ),
    (
        # Points at the metadata mapping, whose first line is its first key.
        "name-missing",
        "",
        "namespace: shop",
        "metadata.name",
        "required field is missing",
    ),
    (
        "containerPort-out-of-range",
        "spec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 70000\n",
        "containerPort: 70000",
        "spec.containers[0].ports[0].containerPort",
        "expected 1-65535, got 70000",
    ),
    (
        "container-protocol-invalid",
        "spec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 80\n      protocol: HTTP\n",
        "protocol: HTTP",
        "spec.containers[0].ports[0].protocol",
        "expected TCP, UDP or SCTP, got 'HTTP'",
    ),
    (
        "containers-not-a-list",
        "spec:\n  containers: {name: c}\n",
        "containers:",
        "spec.containers",
        "expected list, got dict",
    ),
    (
        "container-ports-not-a-list",
        "spec:\n  containers:\n  - name: c\n    ports: 80\n",
        "ports: 80",
        "spec.containers[0].ports",
        "expected list, got int",
    ),
]


@pytest.mark.parametrize(
    ("case", "tail", "needle", "field", "message"), POD_CASES, ids=[c[0] for c in POD_CASES]
)
def test_invalid_pod_field_is_ms201_with_path_and_line(
    tmp_path: Path, case: str, tail: str, needle: str, field: str, message: str
) -> None:
    head = POD_HEAD.replace("  name: web\n", "") if case == "name-missing" else POD_HEAD
    path = write(tmp_path, "pod.yaml", head + tail)
    diag = only(load_errors([path]), "MS201")
    assert diag.field == field
    assert message in diag.message
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert diag.origin.line == line_containing(path, needle)


def test_workload_template_not_a_mapping_is_ms201(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "deploy.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          template: nginx
        """,
    )
    diag = only(load_errors([path]), "MS201")
    assert diag.field == "spec.template"
    assert "expected a mapping, got str" in diag.message
    assert diag.origin is not None
    assert diag.origin.line == line_containing(path, "template: nginx")


def test_cronjob_bad_template_label_has_the_deep_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cron.yaml",
        """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly, namespace: ops}
        spec:
          jobTemplate:
            spec:
              template:
                metadata:
                  labels:
                    app: "bad value"
        """,
    )
    diag = only(load_errors([path]), "MS201")
    assert diag.field == "spec.jobTemplate.spec.template.metadata.labels.app"
    assert diag.origin is not None
    assert diag.origin.line == line_containing(path, "bad value")


# --- warnings that are not errors: MS203, MS204 -------------------------------------------


def test_duplicate_workload_is_a_warning_and_the_later_one_wins(tmp_path: Path) -> None:
    deploy = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\n"
        "spec: {{template: {{metadata: {{labels: {{v: '{v}'}}}}}}}}\n"
    )
    path = write(tmp_path, "d.yaml", deploy.format(v="1") + "---\n" + deploy.format(v="2"))
    cluster = load([str(path)])
    diag = only(cluster.diagnostics, "MS203")
    assert diag.severity is Severity.WARNING
    assert [dict(p.labels) for p in cluster.pods] == [{"v": "2"}]


def test_pods_of_one_owner_with_different_labels_warn_ms204(tmp_path: Path) -> None:
    pod = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: ops
  labels: {{app: agent, zone: {zone}}}
  ownerReferences:
  - {{apiVersion: apps/v1, kind: DaemonSet, name: agents, controller: true}}
"""
    text = pod.format(name="agents-a", zone="a") + "---\n" + pod.format(name="agents-b", zone="b")
    path = write(tmp_path, "pods.yaml", text)
    cluster = load([str(path)])
    diag = only(cluster.diagnostics, "MS204")
    assert diag.severity is Severity.WARNING
    assert "ops/agents[DaemonSet]" in diag.message
    assert not [d for d in cluster.diagnostics if d.severity is Severity.ERROR]
    assert [str(w.key) for w in cluster.workloads] == ["ops/agents[DaemonSet]"]
    assert len(cluster.pods) == 2


# --- malformed objects of the other kinds read: a diagnostic, never a crash ---------------

MALFORMED = {
    "serviceaccount-metadata-a-string": (
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: builder\n",
        "metadata",
    ),
    "service-ports-an-int": (
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  ports: 80\n",
        "spec.ports",
    ),
    "service-selector-a-list": (
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  selector: [app]\n  ports: [{port: 80, protocol: [TCP]}]\n",
        "spec",
    ),
    "pod-status-podIPs-an-int": (
        POD_HEAD + "status:\n  podIPs: 5\n",
        "status.podIPs",
    ),
    "pod-ownerReferences-a-mapping": (
        POD_HEAD + "  ownerReferences: {kind: ReplicaSet, name: web-1}\n",
        "metadata.ownerReferences",
    ),
    "namespace-label-key-an-int": (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: blue\n  labels: {1: a}\n",
        "metadata.labels",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_object_never_raises_anything_but_input_error(tmp_path: Path, case: str) -> None:
    """A malformed field is never a crash and never silently accepted: either the load fails
    with an InputError, or it succeeds with a diagnostic; either way one names the field."""
    text, field_prefix = MALFORMED[case]
    path = write(tmp_path, "obj.yaml", text)
    diags: tuple[Diagnostic, ...]
    try:
        diags = load([str(path)]).diagnostics
    except InputError as exc:
        diags = exc.diagnostics
        assert diags, "an InputError without diagnostics"
    assert any(d.field.startswith(field_prefix) for d in diags), [d.render() for d in diags]
