"""Calico input end to end (examples/calico): connectivity with every protocol, `reach`
naming the tier, policy and rule, staged policies side by side, and the JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from microseg.cli.app import app

runner = CliRunner()
EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "calico")


def test_connectivity_lists_calico_protocols_and_host_endpoints() -> None:
    result = runner.invoke(app, ["connectivity", EXAMPLE])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        "0.0.0.0-255.255.255.255[External] => node1-eth0[HostEndpoint] : TCP 22,ICMP type 8"
        in lines
    )
    assert (
        "payments/cards-db[StatefulSet] => 198.51.100.0-198.51.100.15[External] : TCP 443" in lines
    )
    assert "frontend/webapp[Deployment] => payments/checkout[Deployment] : TCP 9000" in lines


def test_reach_names_tier_policy_and_rule() -> None:
    result = runner.invoke(
        app, ["reach", EXAMPLE, "--from", "payments/cards-db", "--to", "8.8.8.8"]
    )
    assert result.exit_code == 1
    out = result.stdout
    assert out.startswith("DENIED  payments/cards-db[StatefulSet] -> 8.8.8.8")
    assert "[GNP security/deny-pci-egress#2 Deny] in tier security (order 100)" in out
    assert "logs All Connections by [GNP security/deny-pci-egress#1 Log]" in out


def test_reach_end_of_tier_and_profiles() -> None:
    args = ["reach", EXAMPLE, "--from", "monitoring/prometheus", "--to", "frontend/webapp"]
    result = runner.invoke(app, [*args, "--port", "UDP/53"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "no rule of tier platform matched (defaultAction Pass)" in out
    assert "by [Profile kns.frontend Allow]" in out
    # the staged default-deny of frontend would close it
    assert (
        "STAGED  DENIED UDP 53 with the staged policies enforced "
        "(allowed between them: TCP 1-65535)"
    ) in out
    whole = runner.invoke(app, args).stdout
    assert "STAGED  with the staged policies enforced: TCP 1-65535" in whole


def test_reach_json_has_calico_steps_and_staged() -> None:
    args = ["reach", EXAMPLE, "--from", "203.0.113.5", "--to", "frontend/webapp", "-o", "json"]
    doc = json.loads(runner.invoke(app, args).stdout)
    steps = doc["ingress"]["steps"]
    assert steps[0]["calicoTier"] == "security"
    assert steps[0]["calicoTierOrder"] == 100
    assert steps[0]["policyKind"] == "GNP"
    assert {s["kind"] for s in steps} >= {"rule", "tier-end", "profile"}
    assert doc["staged"]["changes"] is True
    assert doc["staged"]["allowed"] == "No Connections"


def test_connectivity_staged_side_by_side() -> None:
    result = runner.invoke(app, ["connectivity", EXAMPLE, "--staged"])
    assert result.exit_code == 0, result.output
    assert (
        "diff-type: removed, source: 0.0.0.0-255.255.255.255[External], destination: "
        "frontend/webapp[Deployment], enforced: All Connections, staged: No Connections"
    ) in result.stdout
    doc = json.loads(runner.invoke(app, ["connectivity", EXAMPLE, "--staged", "-o", "json"]).stdout)
    assert doc["diffs"]


def test_bad_calico_selector_is_a_located_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\n"
        "spec:\n  selector: app == web\n"
    )
    result = runner.invoke(app, ["connectivity", str(bad)])
    assert result.exit_code == 2
    assert (
        f"{bad}:5: error[MS161]: spec.selector: invalid selector 'app == web': at character 8"
        in (result.stderr)
    )


def test_lint_finds_redundant_and_shadowed_calico_rules() -> None:
    result = runner.invoke(app, ["lint", EXAMPLE, "-o", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    found = {(f["code"], f["policy"], f.get("field") or "") for f in doc["findings"]}
    assert found == {
        # the platform scrape rule: security denies payments first, the profiles allow the rest
        ("ML002", "GNP platform.allow-scrape", ""),
        # SSH from the admin range: the failsafe pinhole allows TCP 22 from anywhere first
        ("ML005", "GNP platform.hosts", "spec.ingress[0]"),
        # Pass for everything else: where it is reached, skipping the tier does the same
        ("ML002", "GNP security.pass-others", ""),
    }


INTENTS = """\
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: calico}
spec:
  groups:
    web: {workload: frontend/webapp}
    checkout: {workload: payments/checkout}
    cards: {workload: payments/cards-db}
    processor: {cidr: [198.51.100.0/28]}
  allow:
    - {from: web, to: checkout, ports: [TCP/9000]}
    - {from: cards, to: processor, ports: [TCP/443]}
  deny:
    - {from: web, to: cards}
    - {from: cards, to: internet}
    - {from: web, to: checkout}
"""


def test_verify_names_the_calico_rules_responsible(tmp_path: Path) -> None:
    intents = tmp_path / "intents.yaml"
    intents.write_text(INTENTS)
    result = runner.invoke(app, ["verify", EXAMPLE, "--intents", str(intents)])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert out.startswith("FAIL 1 of 5 intents violated")
    assert "VIOLATED calico/deny[2]: web must not reach checkout on any port" in out
    assert "allows TCP 9000 by [CalicoNP payments/checkout-ingress#0 Allow] in tier default" in out
    # a projectcalico.org NetworkPolicy is not labelled as a Kubernetes one
    assert "responsible: GNP webapp-egress (" in out
    assert "; CalicoNP payments/checkout-ingress (" in out


def test_diff_of_calico_inputs_counts_every_protocol(tmp_path: Path) -> None:
    changed = tmp_path / "calico"
    changed.mkdir()
    for f in Path(EXAMPLE).glob("*.yaml"):
        text = f.read_text()
        if f.name == "security.yaml":  # the last Pass of tier security lets only TCP on
            text = text.replace(
                "ingress: [{action: Pass}]",
                "ingress: [{action: Pass, protocol: TCP}, {action: Deny}]",
            )
        (changed / f.name).write_text(text)
    result = runner.invoke(app, ["diff", EXAMPLE, str(changed)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert (
        "diff-type: changed, source: 0.0.0.0-255.255.255.255[External], destination: "
        "node1-eth0[HostEndpoint], ref1: TCP 22,ICMP type 8, ref2: TCP 22"
    ) in lines
    assert (
        "diff-type: removed, source: frontend/webapp[Deployment], destination: "
        "monitoring/prometheus[Deployment], ref1: UDP 53, ref2: No Connections"
    ) in lines
    same = runner.invoke(app, ["diff", EXAMPLE, EXAMPLE])
    assert same.exit_code == 0, same.output


def test_exposure_intersects_within_every_protocol() -> None:
    """`from every public address` is what all of them may use: with Calico input ICMP
    counts, so an address open to everything is `All Connections`, not TCP, UDP and SCTP."""
    result = runner.invoke(app, ["exposure", EXAMPLE])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "node1-eth0[HostEndpoint]  TCP 22,ICMP type 8 from every public address" in out
    assert "frontend/webapp[Deployment]  All Connections from every public address" in out


def test_blast_radius_explains_hops_with_calico_tiers() -> None:
    result = runner.invoke(app, ["blast-radius", EXAMPLE, "--from", "frontend/webapp"])
    assert result.exit_code in (0, 1), result.output
    out = result.stdout
    assert "payments/cards-db[StatefulSet]" in out
    assert (
        "egress  frontend/webapp[Deployment]: policies GNP security/pass-others, "
        "GNP default/webapp-egress"
    ) in out
    assert "TCP 9000 [CalicoNP payments/checkout-ingress#0 Allow]" in out
    assert "isolated by NP GNP" not in out


def test_connectivity_exposure_is_refused_on_calico_input() -> None:
    """The potential-workload analysis reads NetworkPolicies only: over Calico's tiers it
    would call open what a GlobalNetworkPolicy denies, so it says so instead."""
    result = runner.invoke(app, ["connectivity", EXAMPLE, "--exposure"])
    assert result.exit_code == 2
    assert "not computed for input with Calico objects" in result.stderr
