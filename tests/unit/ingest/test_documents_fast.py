"""The fast YAML construction in ingest/documents.py must give exactly what PyYAML's safe
loader gives, for every kind of scalar and structure a manifest can hold."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from microseg.ingest.documents import Document, read_paths

CASES = {
    "strings and ints": "a: b\nport: 8080\nzero: 0\nneg: -5\nplus: +7\n",
    "yaml 1.1 numbers": "octal: 0755\nhex: 0x1F\nbin: 0b101\nsexa: 1:30\nunder: 1_000\n",
    "floats": "f: 1.5\ne: 1e3\ninf: .inf\nnan_is_str: nan\n",
    "bools and nulls": "y: yes\nn: No\nt: true\noff: off\nnul: null\ntilde: ~\nempty:\n",
    "quoted": "a: '8080'\nb: \"true\"\nc: 'null'\n",
    "timestamps": "d: 2024-01-02\nts: 2024-01-02T03:04:05Z\n",
    "non-string keys": "80: http\ntrue: x\n~: y\n1.5: z\n",
    "merge keys": "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n",
    "anchors shared": "a: &l [1, 2]\nb: *l\n",
    "explicit tags": "a: !!str 123\nb: !!int '42'\nc: !!float '1'\nd: !!binary aGk=\n",
    "sequences": "- 1\n- [a, {b: c}]\n- {}\n- []\n",
    "set and omap": "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\n",
    "unicode": "name: caf\u00e9\nemoji: '\u2603'\n",
    "duplicate keys": "a: 1\na: 2\n",
    "multi-document": "a: 1\n---\nb: [2]\n---\n- x\n",
    "deep": "a:" + "".join(f"\n{'  ' * i}k{i}:" for i in range(1, 95)) + " end\n",
}


def _ours(tmp_path: Path, text: str) -> list[object]:
    f = tmp_path / "in.yaml"
    f.write_text(text, encoding="utf-8")
    out: list[object] = []
    for item in read_paths([str(f)]):
        assert isinstance(item, Document)
        out.append(item.data)
    return out


def _pyyaml(text: str) -> list[object]:
    # read_paths keeps only mappings with kind/apiVersion; wrap so every case survives.
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def _wrap(text: str) -> str:
    docs = text.split("\n---\n")
    return "\n---\n".join(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n" + "\n".join("  " + ln for ln in d.splitlines())
        for d in docs
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_construction_equals_pyyaml(tmp_path: Path, name: str) -> None:
    text = _wrap(CASES[name])
    expected = _pyyaml(text)
    got = _ours(tmp_path, text)
    assert got == expected
    # Types too: 0755 is an int (octal), '8080' stays a string, 1.0 is not 1.
    assert repr(got) == repr(expected)


def test_aliases_share_one_object_as_in_pyyaml(tmp_path: Path) -> None:
    text = _wrap(CASES["anchors shared"])
    (got,) = _ours(tmp_path, text)
    assert isinstance(got, dict)
    assert got["data"]["a"] is got["data"]["b"]


def test_nesting_up_to_the_limit_loads(tmp_path: Path) -> None:
    (got,) = _ours(tmp_path, _wrap("a: " + "[" * 97 + "x" + "]" * 97))
    assert isinstance(got, dict)
    node, depth = got["data"]["a"], 0
    while isinstance(node, list):
        (node,) = node
        depth += 1
    assert (node, depth) == ("x", 97)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 150 + "x" + "]" * 150,  # flow
        "a: " + "[" * 990 + "x" + "]" * 990,  # just below libyaml's own limit
        "a: " + "[" * 5000 + "x" + "]" * 5000,  # beyond it: the parser's error is not ours
        "a:" + "".join(f"\n{'  ' * i}k{i}:" for i in range(1, 150)) + " end\n",  # block
    ],
    ids=["flow-150", "flow-990", "flow-5000", "block-150"],
)
def test_nesting_past_the_limit_is_ms003_whatever_the_parser(tmp_path: Path, text: str) -> None:
    # Past 100 levels a value is refused before anything recurses on it (repr, validation).
    f = tmp_path / "deep.yaml"
    f.write_text(_wrap(text), encoding="utf-8")
    (item,) = list(read_paths([str(f)]))
    assert not isinstance(item, Document)
    assert item.code == "MS003"


def test_unhashable_key_is_a_located_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  ? [a, b]\n  : c\n")
    (item,) = list(read_paths([str(f)]))
    assert not isinstance(item, Document)
    assert item.code == "MS002"
    assert item.origin.line == 4


def test_lines_are_kept(tmp_path: Path) -> None:
    f = tmp_path / "two.yaml"
    f.write_text("apiVersion: v1\nkind: A\n---\n# note\napiVersion: v1\nkind: B\n")
    lines = [d.line for d in read_paths([str(f)]) if isinstance(d, Document)]
    assert lines == [1, 5]


_scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8),
    st.floats(allow_nan=False),
    st.sampled_from(["0755", "0x10", "1:20", "yes", "off", "~", "1e3", ".5", "-0", "+1", "00"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _values, max_size=5), st.booleans())
def test_random_documents_equal_pyyaml(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, object], flow: bool
) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "data": data}
    text = yaml.safe_dump(body, default_flow_style=flow, allow_unicode=True)
    tmp = tmp_path_factory.mktemp("h")
    assert _ours(tmp, text) == _pyyaml(text)
