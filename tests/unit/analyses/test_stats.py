"""`compute_stats` and `microseg stats` on the demo shop, whose figures are known by hand."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from microseg.analyses.stats import compute_stats
from microseg.cli.app import app
from microseg.engine import Connectivity, WorkloadGraph
from microseg.ingest import load
from microseg.model import Protocol


def test_demo_counts(demo_dir: Path) -> None:
    conn = Connectivity.build(load([str(demo_dir)]))
    graph = WorkloadGraph.build(conn)
    s = compute_stats(conn)
    assert (s.workloads, s.pods, s.namespaces) == (11, 0, 5)
    assert s.guardrail_policies == 2
    # payments (2), frontend/webapp: isolated both ways; monitoring: open both ways
    assert s.isolated_both == 3
    assert s.isolated_ingress == 10
    assert s.allowed_pairs == len(graph.src)
    per = dict(s.pairs_per_protocol)
    assert per[Protocol.TCP] == s.allowed_pairs  # every demo edge carries some TCP
    assert s.pairs_all_ports <= min(per.values())
    assert s.workloads_open_to_external == 2  # frontend/webapp and monitoring/prometheus


def test_cli_stats_json_shape(demo_dir: Path) -> None:
    result = CliRunner().invoke(app, ["stats", str(demo_dir), "-o", "json", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "ClusterStats"
    assert doc["isolated"] == {"ingress": 10, "egress": 3, "both": 3}
    assert set(doc["seconds"]) >= {"loading manifests", "computing connectivity"}


def test_cli_stats_text(demo_dir: Path) -> None:
    result = CliRunner().invoke(app, ["stats", str(demo_dir), "-q"])
    assert result.exit_code == 0
    assert "equivalence classes" in result.stdout
    assert "time: loading manifests" in result.stdout
