"""Guardrail files: what is read, what is refused (MS600-MS602) and where."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from microseg.errors import InputError
from microseg.ingest.guardrails import load_guardrails
from microseg.ingest.guardrails_schema import guardrails_json_schema
from microseg.model.guardrails import (
    ImageRule,
    IngressIsolationRule,
    IntentsRule,
    LabelsRule,
    Mode,
    PodSecurityRule,
    ServiceAccountTokenRule,
)
from microseg.schemas import schema_text

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "guardrails" / "guardrails.yaml"
HEAD = "apiVersion: microseg.dev/v1alpha1\nkind: Guardrails\nmetadata: {name: g}\nspec:\n"


def write(tmp_path: Path, body: str, name: str = "g.yaml") -> str:
    path = tmp_path / name
    path.write_text(HEAD + body)
    return str(path)


def errors(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_guardrails([write(tmp_path, body)])
    return [d.render() for d in exc.value.diagnostics]


def test_the_example_reads() -> None:
    g, warnings = load_guardrails([str(EXAMPLE)])
    assert warnings == ()
    assert [r.name for r in g.rules][:2] == ["pod-security-baseline", "pod-security-restricted"]
    assert g.rules[0].check == PodSecurityRule("baseline", (1, 36))
    assert g.rules[1].mode is Mode.WARN
    assert g.exempt.namespaces == ("kube-system", "microseg")
    images = g.rules[2].check
    assert isinstance(images, ImageRule)
    assert images.registries == ("ghcr.io/example-shop/", "registry.k8s.io/")
    assert isinstance(g.rules[3].check, LabelsRule)
    assert isinstance(g.rules[6].check, ServiceAccountTokenRule)
    assert isinstance(g.rules[7].check, IngressIsolationRule)
    intents = g.rules[8].check
    assert isinstance(intents, IntentsRule)
    assert [f.id for f in intents.intents.flows] == [
        "shop-guardrails/allow[0]",
        "shop-guardrails/deny[0]",
    ]
    assert g.needs_snapshot
    assert g.rules[0].origin.line == 16  # its `- name:` line


def test_the_example_meets_the_shipped_schema() -> None:
    schema = json.loads(schema_text("guardrails"))
    assert schema == guardrails_json_schema()
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), schema)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  rules: []\n", "spec.rules: List should have at least 1 item"),
        ("  rules: [{name: a}]\n", "spec.rules[0]: a rule has exactly one of podSecurity"),
        (
            "  rules: [{name: a, labels: {required: [x]}, readOnlyRootFilesystem: {}}]\n",
            "got labels, readOnlyRootFilesystem",
        ),
        (
            "  rules: [{name: A_b, readOnlyRootFilesystem: {}}]\n",
            "spec.rules[0].name: expected a DNS label",
        ),
        ("  rules: [{name: a, mode: block, readOnlyRootFilesystem: {}}]\n", "spec.rules[0].mode"),
        (
            "  rules: [{name: a, podSecurity: {level: privileged}}]\n",
            "spec.rules[0].podSecurity.level",
        ),
        (
            "  rules: [{name: a, podSecurity: {level: baseline, version: v2.0}}]\n",
            "expected latest or a version v1.25 to v1.37, got 'v2.0'",
        ),
        ("  rules: [{name: a, images: {registries: []}}]\n", "registries: give at least one"),
        (
            "  rules: [{name: a, labels: {}}]\n",
            "give required label keys, segmentationKeys: true, or both",
        ),
        ("  rules: [{name: a, labels: {required: ['bad key']}}]\n", "invalid label key 'bad key'"),
        ("  rules: [{name: a, resources: {limits: ['c p u']}}]\n", "expected a resource name"),
        ("  rules: [{name: a, resources: {}}]\n", "give requests, limits, or both"),
        (
            "  rules: [{name: a, readOnlyRootFilesystem: {strict: true}}]\n",
            "spec.rules[0].readOnlyRootFilesystem.strict",
        ),
        (
            "  exempt: {namespaces: ['Kube System']}\n  rules: [{name: a, readOnlyRootFilesystem: {}}]\n",
            "g.yaml:5: error[MS600]: spec.exempt.namespaces: expected a namespace name or glob",
        ),
        ("  rules: [{name: a, intents: {files: []}}]\n", "spec.rules[0].intents.files"),
    ],
)
def test_invalid_fields_are_located(tmp_path: Path, body: str, expected: str) -> None:
    found = errors(tmp_path, body)
    assert any(expected in e for e in found), found
    assert all("error[MS600]" in e for e in found)


def test_intents_rule_with_bad_files(tmp_path: Path) -> None:
    (tmp_path / "i.yaml").write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: i}\n"
        "spec: {deny: [{from: nowhere, to: cluster}]}\n"
    )
    found = errors(tmp_path, "  rules: [{name: a, intents: {files: [i.yaml]}}]\n")
    assert any(
        "error[MS601]: spec.rules[0].intents.files: rule 'a': the intent files have 1 error(s)" in e
        for e in found
    )
    assert any("error[MS401]" in e and "undefined group 'nowhere'" in e for e in found)


def test_not_a_guardrails_document(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    with pytest.raises(InputError) as exc:
        load_guardrails([str(path)])
    assert "error[MS602]: no Guardrails document" in exc.value.diagnostics[0].render()
    wrong = tmp_path / "w.yaml"
    wrong.write_text("apiVersion: microseg.dev/v1alpha1\nkind: Guardrail\nmetadata: {name: c}\n")
    with pytest.raises(InputError) as exc:
        load_guardrails([str(wrong)])
    assert "expected kind Guardrails" in exc.value.diagnostics[0].render()


def test_kubernetes_objects_beside_are_warnings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  rules: [{name: a, readOnlyRootFilesystem: {}}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    )
    g, warnings = load_guardrails([path])
    assert len(g.rules) == 1
    assert "warning[MS602]" in warnings[0].render()


def test_label_selector_shorthand_in_exemptions(tmp_path: Path) -> None:
    g, _ = load_guardrails(
        [
            write(
                tmp_path,
                "  rules: [{name: a, readOnlyRootFilesystem: {}, exempt: {labels: {team: infra}}}]\n",
            )
        ]
    )
    sel = g.rules[0].exempt.labels
    assert sel is not None
    assert sel.matches({"team": "infra"})
    assert not sel.matches({"team": "web"})
