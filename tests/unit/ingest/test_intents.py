"""Intent files: the demo loads; every kind of mistake is a located error (file:line, field)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from microseg.errors import Diagnostic, InputError
from microseg.ingest.intent_schema import intent_json_schema
from microseg.ingest.intents import load_intents
from microseg.model.intent import DefaultDeny, FlowKind, MaxBlastRadius, NoInternetEgress
from microseg.model.sets import Protocol
from microseg.schemas import schema_text

from ._support import line_containing, write

HEAD = """\
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: t}
spec:
"""


def errors_of(*paths: Path) -> list[Diagnostic]:
    with pytest.raises(InputError) as info:
        load_intents([str(p) for p in paths])
    return list(info.value.diagnostics)


def one_error(path: Path) -> Diagnostic:
    diags = errors_of(path)
    assert len(diags) == 1, [d.render() for d in diags]
    return diags[0]


def test_demo_intents_load(demo_dir: Path) -> None:
    intents, warnings = load_intents([str(demo_dir / "intents.yaml")])
    assert not warnings
    assert intents.count() == 18
    assert len(intents.allows) == 9
    assert len(intents.denies) == 5
    web = intents.group("web")
    assert web is not None
    assert web.workload == "frontend/webapp"
    grpc = next(f for f in intents.allows if f.dst == "grpc-backends")
    assert grpc.ports[0].name == "grpc"
    assert grpc.ports[0].protocol is Protocol.TCP
    kinds = [type(e) for e in intents.expectations]
    assert kinds == [DefaultDeny, NoInternetEgress, MaxBlastRadius]
    deny = intents.denies[0]
    assert deny.kind is FlowKind.DENY
    assert deny.origin.line == line_containing(
        demo_dir / "intents.yaml", "{from: web, to: database}"
    )


def test_unknown_field_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "i.yaml", HEAD + "  alow:\n    - {from: cluster, to: cluster}\n")
    d = one_error(path)
    assert d.code == "MS400"
    assert d.field == "spec.alow"
    assert d.origin is not None
    assert d.origin.line == 5
    assert d.origin.file == str(path)
    assert "Extra inputs are not permitted" in d.message


def test_undefined_group_is_located(tmp_path: Path) -> None:
    text = HEAD + "  groups:\n    web: {namespace: web}\n  deny:\n    - from: web\n      to: dbb\n"
    d = one_error(write(tmp_path, "i.yaml", text))
    assert d.code == "MS401"
    assert d.field == "spec.deny[0].to"
    assert "undefined group 'dbb'" in d.message
    assert "web" in d.message
    assert d.origin is not None
    assert d.origin.line == 9


def test_groups_are_shared_across_files_and_defined_once(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", HEAD + "  groups:\n    web: {namespace: web}\n")
    b = write(tmp_path, "b.yaml", HEAD + "  allow:\n    - {from: web, to: internet}\n")
    intents, _ = load_intents([str(a), str(b)])
    assert intents.allows[0].src == "web"
    c = write(tmp_path, "c.yaml", HEAD + "  groups:\n    web: {namespace: other}\n")
    d = errors_of(a, c)[0]
    assert d.code == "MS401"
    assert "defined twice" in d.message
    assert str(a) in d.message
    assert d.origin is not None
    assert d.origin.file == str(c)
    assert d.origin.line == 6


def test_builtin_groups_cannot_be_redefined(tmp_path: Path) -> None:
    d = one_error(
        write(tmp_path, "i.yaml", HEAD + "  groups:\n    internet: {cidr: [10.0.0.0/8]}\n")
    )
    assert d.code == "MS401"
    assert "built in" in d.message


@pytest.mark.parametrize(
    ("group", "field", "message"),
    [
        ("{workload: webapp}", "spec.groups.g.workload", "expected ns/name"),
        ("{cidr: [10.0.0.0]}", "spec.groups.g.cidr", "prefix length is required"),
        ("{namespace: a, cidr: [10.0.0.0/8]}", "spec.groups.g", "exactly one of"),
        ("{namespace: a, namespaceSelector: {x: y}}", "spec.groups.g", "not both"),
        ("{}", "spec.groups.g", "exactly one of"),
        ("{selector: {'bad key!': x}}", "spec.groups.g.selector.matchLabels", "invalid label key"),
        (
            "{selector: {matchExpressions: [{key: a, operator: In}]}}",
            "spec.groups.g.selector.matchExpressions[0]",
            "non-empty 'values'",
        ),
        ("{namespace: a, labels: {x: y}}", "spec.groups.g.labels", "Extra inputs"),
    ],
)
def test_bad_groups(tmp_path: Path, group: str, field: str, message: str) -> None:
    d = one_error(write(tmp_path, "i.yaml", HEAD + f"  groups:\n    g: {group}\n"))
    assert d.code == "MS400"
    assert d.field == field
    assert message in d.message
    assert d.origin is not None
    assert d.origin.line == 6


@pytest.mark.parametrize(
    ("flow", "field", "message"),
    [
        ("{from: cluster, to: cluster, ports: [TCP/0]}", "spec.allow[0].ports", "1-65535"),
        ("{from: cluster, to: cluster, ports: []}", "spec.allow[0].ports", "at least one port"),
        ("{from: cluster}", "spec.allow[0].to", "required field is missing"),
        ("{from: cluster, to: cluster, port: [TCP/80]}", "spec.allow[0].port", "Extra inputs"),
    ],
)
def test_bad_flows(tmp_path: Path, flow: str, field: str, message: str) -> None:
    d = one_error(write(tmp_path, "i.yaml", HEAD + f"  allow:\n    - {flow}\n"))
    assert (d.code, d.field) == ("MS400", field)
    assert message in d.message


def test_selector_shorthand_and_full_form_agree(tmp_path: Path) -> None:
    text = HEAD + (
        "  groups:\n"
        "    a: {namespace: shop, selector: {app: api}}\n"
        "    b: {namespace: shop, selector: {matchLabels: {app: api}}}\n"
    )
    intents, _ = load_intents([str(write(tmp_path, "i.yaml", text))])
    a, b = intents.group("a"), intents.group("b")
    assert a is not None
    assert b is not None
    assert a.selector == b.selector
    assert a.selector is not None
    assert a.selector.matches({"app": "api"})


def test_kubernetes_objects_beside_intents_are_skipped(tmp_path: Path, demo_dir: Path) -> None:
    path = write(tmp_path, "i.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    d = one_error(path)
    assert d.code == "MS402"
    assert "no SegmentationIntent document" in d.message
    intents, warnings = load_intents([str(demo_dir)])  # manifests and intents.yaml together
    assert intents.count() == 18
    assert warnings
    assert all(w.code == "MS402" and "skipped" in w.message for w in warnings)


def test_a_wrong_microseg_kind_is_an_error(tmp_path: Path) -> None:
    text = HEAD.replace("SegmentationIntent", "SegmentationIntnet") + "  allow: []\n"
    d = one_error(write(tmp_path, "i.yaml", text))
    assert d.code == "MS402"
    assert "expected kind SegmentationIntent" in d.message
    assert d.origin is not None
    assert d.origin.line == 2


def test_many_errors_are_reported_together(tmp_path: Path) -> None:
    text = HEAD + "  deny:\n    - {from: a, to: b}\n  expect:\n    defaultDeny: [c]\n"
    diags = errors_of(write(tmp_path, "i.yaml", text))
    assert [d.field for d in diags] == [
        "spec.deny[0].from",
        "spec.deny[0].to",
        "spec.expect.defaultDeny[0]",
    ]


def test_shipped_schema_is_the_generated_one() -> None:
    assert json.loads(schema_text("intent")) == intent_json_schema()


def test_shipped_schema_accepts_the_demo_and_rejects_unknown_fields(demo_dir: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads(schema_text("intent"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    demo = yaml.safe_load((demo_dir / "intents.yaml").read_text())
    assert not list(validator.iter_errors(demo))
    demo["spec"]["alow"] = []
    assert list(validator.iter_errors(demo))
    del demo["spec"]["alow"]
    demo["spec"]["groups"]["web"] = {"workload": "a/b", "cidr": ["10.0.0.0/8"]}
    assert not list(validator.iter_errors(demo)), "one-form rule is checked by the loader only"


def test_a_flow_between_two_external_groups_is_an_error(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  groups:\n    p: {cidr: [203.0.113.0/24]}\n  deny:\n    - {from: internet, to: p}\n"
    )
    d = one_error(write(tmp_path, "i.yaml", text))
    assert d.code == "MS401"
    assert "both external addresses" in d.message
    assert d.field == "spec.deny[0]"


def test_two_documents_of_one_name_stating_intents_are_an_error(tmp_path: Path) -> None:
    doc = HEAD + "  groups:\n    web: {namespace: web}\n  deny:\n    - {from: web, to: internet}\n"
    second = HEAD + "  deny:\n    - {from: internet, to: web}\n"
    path = write(tmp_path, "i.yaml", doc + "---\n" + second)
    d = one_error(path)
    assert d.code == "MS401"
    assert d.field == "metadata.name"
    assert "'t' defined twice" in d.message
    assert d.origin is not None
    assert d.origin.line == line_containing(path, "---") + 3


def test_the_same_file_given_twice_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path, "i.yaml", HEAD + "  deny:\n    - {from: cluster, to: internet}\n")
    again = tmp_path / "." / "i.yaml"
    intents, warnings = load_intents([str(path), str(again)])
    assert not warnings
    assert [f.id for f in intents.flows] == ["t/deny[0]"]


def test_no_intent_at_all_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "i.yaml", HEAD.replace("spec:\n", "spec: {}\n"))
    intents, warnings = load_intents([str(path)])
    assert intents.count() == 0
    assert [(w.code, w.severity.name) for w in warnings] == [("MS402", "WARNING")]
    assert "nothing to verify" in warnings[0].message
    # groups in one file, intents in another: no warning
    a = write(tmp_path, "a.yaml", HEAD + "  groups:\n    web: {namespace: web}\n")
    b = write(tmp_path, "b.yaml", HEAD + "  allow:\n    - {from: web, to: internet}\n")
    assert load_intents([str(a), str(b)])[1] == ()


@pytest.mark.parametrize("section", ["defaultDeny", "noInternetEgress"])
@pytest.mark.parametrize("group", ["internet", "priv"])
def test_pod_expectations_on_addresses_are_an_error(
    tmp_path: Path, section: str, group: str
) -> None:
    text = (
        HEAD + f"  groups:\n    priv: {{cidr: [10.0.0.0/8]}}\n  expect:\n    {section}: [{group}]\n"
    )
    path = write(tmp_path, "i.yaml", text)
    d = one_error(path)
    assert d.code == "MS401"
    assert d.field == f"spec.expect.{section}[0]"
    assert f"{group} is external addresses" in d.message
    assert d.origin is not None
    assert d.origin.line == line_containing(path, section)


def test_field_paths_name_fields_not_model_types(tmp_path: Path) -> None:
    text = HEAD + "  expect:\n    maxBlastRadius: [{from: cluster, hops: 0, atMost: -1}]\n"
    diags = errors_of(write(tmp_path, "i.yaml", text))
    assert sorted(d.field for d in diags) == [
        "spec.expect.maxBlastRadius[0].atMost",
        "spec.expect.maxBlastRadius[0].hops",
    ]
    text = HEAD + "  expect:\n    maxBlastRadius: {from: cluster, hops: 0, atMost: 1}\n"
    d = one_error(write(tmp_path, "j.yaml", text))
    assert d.field == "spec.expect.maxBlastRadius.hops"
