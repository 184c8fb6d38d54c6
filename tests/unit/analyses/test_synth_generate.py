"""`generate` from the demo's intents in each format, and what its proof says."""

from __future__ import annotations

from pathlib import Path

import pytest

import microseg
from microseg.analyses.synth import PolicyFormat
from microseg.analyses.synth.intents import generate
from microseg.ingest.intents import load_intents
from microseg.render.recommend import plan_files

WORKLOADS = (
    "namespaces.yaml",
    "frontend.yaml",
    "shop.yaml",
    "payments.yaml",
    "monitoring.yaml",
    "kube-system.yaml",
)


@pytest.fixture(scope="module")
def demo_parts(demo_dir: Path) -> tuple[microseg.model.Cluster, object]:
    cluster = microseg.load([str(demo_dir / f) for f in WORKLOADS])
    intents, _ = load_intents([str(demo_dir / "intents.yaml")])
    return cluster, intents


def test_network_policies_meet_the_intents_exactly(demo_parts: tuple[object, object]) -> None:
    cluster, intents = demo_parts
    g = generate(cluster, intents)  # type: ignore[arg-type]
    assert g.report.ok
    assert g.excess.total == 0
    assert g.holds
    # no ports in an intent: no ports in the rule; named ports stay names
    text = "".join(t for _, t, _ in plan_files(g.generated))
    assert "port: grpc" in text
    assert "microseg.dev/intents:" in text
    assert "intent shop/allow[3]" in text or "shop/allow[3]" in text


def test_guardrails_keep_the_proof(demo_parts: tuple[object, object]) -> None:
    cluster, intents = demo_parts
    g = generate(cluster, intents, PolicyFormat.ADMINNETWORKPOLICY)  # type: ignore[arg-type]
    assert g.holds
    assert {x.kind for x in g.generated} >= {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}


def test_authorization_policies_hold_the_intents_and_leave_egress_open(
    demo_parts: tuple[object, object], demo_dir: Path, tmp_path: Path
) -> None:
    """On the whole demo (its NetworkPolicies and mesh policies kept): the generated
    AuthorizationPolicies close the gap at the mesh layer, so every intent holds."""
    _, intents = demo_parts
    cluster = microseg.load([str(demo_dir)])
    g = generate(cluster, intents, PolicyFormat.ISTIO)  # type: ignore[arg-type]
    assert g.report.ok  # every intent holds with the mesh layer counted
    assert {x.kind for x in g.generated} == {"AuthorizationPolicy"}
    # AuthorizationPolicies govern what a workload accepts, not what it sends: the excess
    # check says what stays open (egress to the internet, here), so the proof fails
    assert g.excess.total > 0
    assert not g.holds
    for name, text, _ in plan_files(g.generated):
        (tmp_path / name).write_text(text)
    back = microseg.load([str(tmp_path)])
    assert not back.diagnostics
    assert {a.ref for a in back.authorization_policies} == {x.policy.ref for x in g.generated}  # type: ignore[union-attr]
