"""The plain connlist cases of np-guard/netpol-analyzer, compared by meaning.

Host-network pods: the corpus was computed by netpol-analyzer, which treats them as
ordinary pods, one of the two behaviours the Kubernetes docs allow; we run those cases
with `--host-network pod` (our default is the other, more common behaviour).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conformance.canonical import canonical, differences
from tests.conftest import conformance_root

SUPPORTED = {"np", "anp-banp", "anp-banp+np", "np+ingress-route"}


def _cases() -> list[tuple[str, str]]:
    root = conformance_root()
    if root is None:
        return []
    lines = (root / "netpol-analyzer" / "plain-connlist-cases.tsv").read_text().splitlines()[1:]
    return [(c, cat) for c, cat, _ in (line.split("\t") for line in lines if line.strip())]


CASES = _cases()


@pytest.mark.parametrize(
    ("case", "category"),
    [c for c in CASES if c[1] in SUPPORTED]
    or [pytest.param("none", "np", marks=pytest.mark.skip(reason="conformance corpus not found"))],
)
def test_plain_connlist_agrees_in_meaning(corpus: Path, case: str, category: str) -> None:
    base = corpus / "netpol-analyzer"
    expected = (
        (base / "expected" / "connlist" / f"{case}_connlist_output.txt").read_text().splitlines()
    )
    result = CliRunner().invoke(
        app, ["connectivity", str(base / "tests" / case), "-q", "--host-network", "pod"]
    )
    assert result.exit_code == 0, result.output
    diffs = differences(canonical(expected), canonical(result.stdout.splitlines()))
    assert not diffs, f"{case} ({category}) differs:\n" + "\n".join(diffs)


def test_np_case_count_matches_issue(corpus: Path) -> None:
    assert len([c for c in CASES if c[1] == "np"]) == 42


def test_ingress_controller_lines_are_pairs_with_a_special_source() -> None:
    lines = [
        "{ingress-controller} => ns/a[Deployment] : TCP 8000",
        "{ingress-controller} => ns/a[Deployment] : TCP 8090",
        "ns/a[Deployment] => ns/b[Deployment] : All Connections",
    ]
    pairs, external = canonical(lines)
    assert set(pairs) == {
        ("{ingress-controller}", "ns/a[Deployment]"),
        ("ns/a[Deployment]", "ns/b[Deployment]"),
    }
    assert not external
    other = canonical(["{ingress-controller} => ns/a[Deployment] : TCP 8000"])
    assert differences(canonical(lines[:1]), other) == []
    diffs = differences(canonical(lines), other)
    assert any(d.startswith("ingress ('{ingress-controller}', 'ns/a[Deployment]')") for d in diffs)
