"""The HTML report quotes the input as text: a subject name full of markup stays text, in
the page and in its SVG pictures."""

from __future__ import annotations

from pathlib import Path

from microseg.render.audit_html import audit_html
from tests.unit.analyses.audit._support import audit_folder, write

HOSTILE = "<img src=x onerror=alert(1)>&\"'"


def test_names_are_escaped_everywhere(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rbac.yaml",
        f"""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {{name: all}}
        rules: [{{apiGroups: ['*'], resources: ['*'], verbs: ['*']}}]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {{name: b}}
        roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: all}}
        subjects: [{{kind: User, name: '{HOSTILE.replace("'", "''")}', apiGroup: rbac.authorization.k8s.io}}]
        """,
    )
    write(
        tmp_path,
        "app.yaml",
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: a}
        spec: {containers: [{name: c, image: nginx}]}
        """,
    )
    report = audit_folder(tmp_path, frameworks=("cis-1.12",))
    assert any(HOSTILE in f.subject for f in report.findings)
    html = audit_html(report, "now", HOSTILE, "0")
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_patch_commands_quote_hostile_names_for_the_shell(tmp_path: Path) -> None:
    """A user named with quotes and `$(...)` stays one word of the pasted command."""
    import json
    import shlex

    from microseg.render.audit import patch_text

    name = "eve'; rm -rf / #$(id)"
    write(
        tmp_path,
        "rbac.yaml",
        f"""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {{name: s}}
        rules: [{{apiGroups: [''], resources: [secrets], verbs: [get]}}]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {{name: b}}
        roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: s}}
        subjects: [{{kind: User, name: '{name.replace("'", "''")}', apiGroup: rbac.authorization.k8s.io}}]
        """,
    )
    report = audit_folder(tmp_path)
    (f,) = [f for f in report.findings if f.code == "AUD-RBAC-003"]
    (p,) = f.remediation.patches
    words = shlex.split(patch_text(p))
    assert words[:5] == ["kubectl", "patch", "clusterrolebinding", "b", "--type=json"]
    ops = json.loads(words[6])
    assert {"op": "test", "path": "/subjects/0/name", "value": name} in ops
    assert len(words) == 7


def test_score_card_is_never_green_beside_a_critical_finding() -> None:
    from collections import Counter

    from microseg.render.audit_html import _score_class

    assert _score_class(95.0, Counter()) == "good"
    assert _score_class(95.0, Counter({"high": 1})) == "fair"
    assert _score_class(95.0, Counter({"critical": 1})) == "poor"
    assert _score_class(60.0, Counter({"low": 3})) == "poor"
    assert _score_class(None, Counter()) == "poor"


def test_many_findings_of_a_code_become_rows_that_links_still_reach(tmp_path: Path) -> None:
    import re

    pods = "\n---\n".join(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: p{i}, namespace: a}}
spec: {{containers: [{{name: c, image: "nginx:latest"}}]}}
"""
        for i in range(30)
    )
    write(tmp_path, "pods.yaml", pods)
    report = audit_folder(tmp_path, frameworks=("cis-1.12", "pci-dss-4"))
    assert sum(f.code == "AUD-POD-014" for f in report.findings) == 30
    html = audit_html(report, "now", "t", "0")
    full = re.findall(r'<article class="finding[^"]*" id="f-AUD-POD-014-', html)
    rows = re.findall(r'<tr id="f-AUD-POD-014-', html)
    assert (len(full), len(rows)) == (25, 5)
    assert "5 more <code>AUD-POD-014</code>" in html
    ids = set(re.findall(r' id="([^"]+)"', html))
    links = re.findall(r'<a href="#(f-[^"]+)"', html)
    assert links
    assert set(links) <= ids
