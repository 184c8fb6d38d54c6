"""Graphviz output: namespaces as clusters, external ranges as separate ellipse nodes."""

from __future__ import annotations

import re

from microseg.render.dot import render_dot

ROWS = [
    ("0.0.0.0-255.255.255.255[External]", "frontend/webapp[Deployment]", "TCP 8080"),
    ("frontend/webapp[Deployment]", "shop/api[Deployment]", "TCP 8080"),
    ("shop/api[Deployment]", "198.51.100.0-198.51.100.255[External]", "TCP 443,8000-8100"),
    ("shop/api[Deployment]", "shop/db[StatefulSet]", "TCP 5432"),
]


def clusters(dot: str) -> dict[str, list[str]]:
    """Namespace label -> node ids declared inside that cluster."""
    out: dict[str, list[str]] = {}
    for block in re.findall(r"subgraph cluster_\d+ \{(.*?)\n  \}", dot, re.S):
        label = re.search(r'label="namespace ([^"]+)"', block)
        assert label is not None
        out[label.group(1)] = re.findall(r'^\s+"([^"]+)" \[label=', block, re.M)
    return out


def test_is_a_digraph() -> None:
    dot = render_dot(ROWS)
    assert dot.startswith("digraph microseg {\n")
    assert dot.endswith("}\n")
    assert dot.count("{") == dot.count("}")


def test_namespaces_are_clusters() -> None:
    dot = render_dot(ROWS)
    assert dot.count("subgraph cluster_") == 2
    assert clusters(dot) == {
        "frontend": ["frontend/webapp[Deployment]"],
        "shop": ["shop/api[Deployment]", "shop/db[StatefulSet]"],
    }
    # nodes are labelled by name without their namespace
    assert '"shop/db[StatefulSet]" [label="db[StatefulSet]"];' in dot


def test_external_ranges_are_separate_ellipses() -> None:
    dot = render_dot(ROWS)
    ext = re.findall(r'^  "([^"]+\[External\])" \[label="([^"]+)", shape=ellipse', dot, re.M)
    assert ext == [
        ("0.0.0.0-255.255.255.255[External]", "0.0.0.0-255.255.255.255"),
        ("198.51.100.0-198.51.100.255[External]", "198.51.100.0-198.51.100.255"),
    ]
    # and never inside a namespace cluster
    for members in clusters(dot).values():
        assert not any(m.endswith("[External]") for m in members)


def test_one_labelled_edge_per_row() -> None:
    dot = render_dot(ROWS)
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)" \[label="([^"]+)"\];$', dot, re.M)
    assert edges == ROWS


def test_quotes_are_escaped() -> None:
    dot = render_dot([('a/x"y[Pod]', "a/b\\c[Pod]", "TCP 1")])
    assert '"a/x\\"y[Pod]"' in dot
    assert '"a/b\\\\c[Pod]"' in dot


def test_empty() -> None:
    dot = render_dot([])
    assert "subgraph" not in dot
    assert "->" not in dot
    assert dot.startswith("digraph microseg {")
