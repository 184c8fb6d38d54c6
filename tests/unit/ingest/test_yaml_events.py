"""The event-built documents equal what PyYAML's composer and safe constructor give: values,
document and item lines, and the node trees kept for kinds whose inner lines are quoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from microseg.ingest.documents import _composed_documents, _Loader, read_paths
from microseg.ingest.yaml_events import BULK_KINDS, Unusual, event_documents

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "conformance"


def _events(text: str) -> list[Any]:
    loader = _Loader(text)
    try:
        return event_documents(loader)
    finally:
        loader.dispose()


def _shape(node: yaml.Node | None) -> Any:
    """A node tree as plain data: tags, values and start lines, recursively."""
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value, node.start_mark.line, node.style)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, node.start_mark.line, [_shape(v) for v in node.value])
    assert isinstance(node, yaml.MappingNode)
    return (node.tag, node.start_mark.line, [(_shape(k), _shape(v)) for k, v in node.value])


def _same_as_composer(text: str) -> None:
    fast = _events(text)
    slow = list(_composed_documents(text, "t.yaml"))
    assert [d.data for d in fast] == [d for d, _, _ in slow]
    assert [d.line for d in fast] == [line for _, line, _ in slow]
    for parsed, (_, _, node) in zip(fast, slow, strict=True):
        if parsed.item_lines is not None:
            items = dict(node.value)  # type: ignore[arg-type]
            seq = next(v for k, v in items.items() if k.value == "items")
            assert parsed.item_lines == [n.start_mark.line + 1 for n in seq.value]
            assert parsed.item_nodes is not None
            for own, composed in zip(parsed.item_nodes, seq.value, strict=True):
                assert own is None or _shape(own) == _shape(composed)
        elif parsed.node is not None:
            assert _shape(parsed.node) == _shape(node)


POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: "web"}}
    ports: [{port: 80}, {port: "http", protocol: TCP}]
---
---
just a scalar
---
{x: ! 12, y: !!str 5, z: !!int "7", w: !!float 1, v: 0o17, u: 017, t: 0x1F, s: "a\tb"}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: p, labels: {enabled: 'yes', n: "1"}}}
- 7
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: b}
  spec: {podSelector: {}, ingress: [{}]}
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: q}
  spec: {hostNetwork: true, priority: 010, weight: 1.5, when: 2001-12-14, x: ~, y: null}
"""


def test_values_lines_and_trees_equal_the_composer() -> None:
    _same_as_composer(POLICY)


def test_bulk_kinds_keep_no_tree_and_policies_do() -> None:
    docs = _events(POLICY)
    listed = docs[4]
    assert listed.item_nodes is not None
    assert listed.item_nodes[0] is None  # a Pod: its diagnostics compose the file again
    assert listed.item_nodes[1] is None  # not an object
    assert listed.item_nodes[2] is not None  # a NetworkPolicy: rule lines explain verdicts
    assert docs[5].item_nodes == [None]  # a PodList's items are Pods
    assert docs[0].node is not None
    assert "Pod" in BULK_KINDS
    assert "NetworkPolicy" not in BULK_KINDS


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "base: &b {a: 1}\nc:\n  <<: *b\n",  # merge keys
        "1: one\n",  # a non-string key
        "? [a, b]\n: c\n",  # a complex key
        "a: !!set {x, y}\n",  # a tagged collection
        "true: x\n",  # YAML 1.1 reads the key as a bool
    ],
)
def test_what_the_builder_leaves_to_pyyaml(text: str) -> None:
    with pytest.raises(Unusual):
        _events(text)


def test_a_custom_scalar_tag_is_pyyamls_error() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        _events("a: !foo bar\n")


def test_diagnostics_in_a_bulk_object_still_find_their_line(tmp_path: Path) -> None:
    path = tmp_path / "l.yaml"
    path.write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n"
        "  metadata:\n    name: p\n    labels:\n      app: web\n",
        encoding="utf-8",
    )
    (doc,) = list(read_paths([str(path)]))
    assert doc.node is None  # type: ignore[union-attr]
    assert doc.line == 4  # type: ignore[union-attr]
    assert doc.line_of(("metadata", "labels", "app"), exact=True) == 9  # type: ignore[union-attr]


def _yaml_files() -> list[Path]:
    found = sorted((ROOT / "examples").rglob("*.yaml"))
    if CORPUS.is_dir():
        found += sorted(CORPUS.rglob("*.yaml"))[:400]
    return found


def test_every_yaml_file_of_the_demo_and_the_corpus_reads_alike() -> None:
    checked = 0
    for path in _yaml_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            slow = list(_composed_documents(text, str(path)))
        except Exception:
            continue
        try:
            _same_as_composer(text)
        except Unusual:
            assert slow is not None
        checked += 1
    assert checked > 20
