"""Calico's resources read into the model: defaults, both API groups, and located errors
(a bad selector names the character where it fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.errors import InputError, Severity
from microseg.ingest import load
from microseg.model import Protocol
from microseg.model.calico import CalicoAction
from microseg.model.calico_selector import LabelOp, Op
from microseg.model.netpol import Direction
from tests.unit.ingest._support import write

POLICY = """\
apiVersion: {api}
kind: {kind}
metadata: {{name: {name}{ns}}}
spec:
{spec}
"""


def _doc(
    spec: str,
    kind: str = "NetworkPolicy",
    api: str = "projectcalico.org/v3",
    name: str = "p",
    ns: str = "shop",
) -> str:
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return POLICY.format(
        api=api, kind=kind, name=name, ns=f", namespace: {ns}" if ns else "", spec=body
    )


def _errors(tmp_path: Path, text: str) -> list[tuple[str, int | None, str, str]]:
    with pytest.raises(InputError) as info:
        load([str(write(tmp_path, "p.yaml", text))])
    return [
        (d.code, d.origin.line if d.origin else None, d.field, d.message)
        for d in info.value.diagnostics
    ]


def test_defaults_from_the_reference(tmp_path: Path) -> None:
    text = _doc("egress: [{action: Allow}]") + "---\n" + _doc("{}", name="q")
    cluster = load([str(write(tmp_path, "p.yaml", text))])
    egress_only, empty = cluster.calico.policies
    assert egress_only.types == frozenset({Direction.EGRESS})  # egress rules only: Egress
    assert empty.types == frozenset({Direction.INGRESS})  # no rules: Ingress
    assert egress_only.tier == "default"
    assert egress_only.order is None
    assert cluster.calico.present


def test_rules_fields(tmp_path: Path) -> None:
    spec = """
order: 10.5
selector: app == 'web'
ingress:
- action: Deny
  protocol: ICMP
  icmp: {type: 3, code: 1}
- action: Allow
  protocol: 47
- action: Allow
  protocol: TCP
  source:
    notSelector: has(quarantine)
    namespaceSelector: team in {'a', 'b'}
    serviceAccounts: {names: [api], selector: role == 'x'}
  destination:
    ports: [80, '8000:9000', http]
    notPorts: [8443]
- action: Log
  source: {nets: [10.0.0.1, 10.1.0.0/16], notNets: ['10.1.2.0/24']}
"""
    cluster = load([str(write(tmp_path, "p.yaml", _doc(spec)))])
    [p] = cluster.calico.policies
    assert p.order == 10.5
    assert p.selector == LabelOp("app", Op.EQ, "web")
    icmp, gre, tcp, log = p.ingress
    assert (icmp.action, icmp.protocol.protocol, icmp.icmp) == (
        CalicoAction.DENY,
        Protocol.ICMP,
        icmp.icmp,
    )
    assert icmp.icmp is not None
    assert (icmp.icmp.type, icmp.icmp.code) == (3, 1)
    assert (gre.protocol.protocol, gre.protocol.number) == (Protocol.IP, 47)
    assert tcp.source.service_accounts is not None
    assert tcp.source.service_accounts.names == ("api",)
    ports = tcp.destination.ports or ()
    assert [(x.start, x.end, x.name) for x in ports] == [
        (80, 80, ""),
        (8000, 9000, ""),
        (0, 0, "http"),
    ]
    assert log.action is CalicoAction.LOG
    assert log.source.nets is not None
    assert log.origin.line is not None
    assert log.origin.rule == 3


@pytest.mark.parametrize(
    ("selector", "position"),
    [("app == web", 8), ("app = 'web'", 5), ("has(app", 8), ("app == 'web' &", 14)],
)
def test_bad_selector_names_the_character(tmp_path: Path, selector: str, position: int) -> None:
    spec = f"""
ingress:
- action: Allow
  source:
    selector: "{selector}"
"""
    [(code, line, field, message)] = _errors(tmp_path, _doc(spec))
    assert code == "MS161"
    assert field == "spec.ingress[0].source.selector"
    assert line == 8  # the selector's own line
    assert f"at character {position}" in message


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ("ingress: [{action: Drop}]", "spec.ingress[0].action", "Allow"),
        (
            "ingress: [{action: Allow, protocol: GRE}]",
            "spec.ingress[0].protocol",
            "invalid protocol",
        ),
        (
            "ingress: [{action: Allow, destination: {ports: [80]}}]",
            "spec.ingress[0]",
            "need protocol",
        ),
        ("ingress: [{action: Allow, protocol: TCP, icmp: {type: 8}}]", "spec.ingress[0]", "ICMP"),
        (
            "ingress: [{action: Allow, source: {nets: [10.0.0.0/33]}}]",
            "spec.ingress[0].source.nets",
            "invalid network",
        ),
        (
            "ingress: [{action: Allow, source: {notSelctor: all()}}]",
            "spec.ingress[0].source.notSelctor",
            "Extra",
        ),
        ("ingress: [{action: Deny, http: {methods: [GET]}}]", "spec.ingress[0]", "Allow"),
        ("types: [Sideways]", "spec.types[0]", "Ingress"),
    ],
)
def test_invalid_fields_are_located(tmp_path: Path, spec: str, field: str, words: str) -> None:
    errors = _errors(tmp_path, _doc(spec))
    assert any(code == "MS160" and f == field and words in m for code, _, f, m in errors), errors


def test_global_policy_host_flags(tmp_path: Path) -> None:
    spec = "preDNAT: true\ningress: [{action: Allow}]"
    errors = _errors(tmp_path, _doc(spec, kind="GlobalNetworkPolicy", ns=""))
    assert any("applyOnForward" in m for *_, m in errors)


def test_crd_form_strips_the_default_tier_prefix(tmp_path: Path) -> None:
    text = _doc("ingress: [{action: Allow}]", api="crd.projectcalico.org/v1", name="default.allow")
    [p] = load([str(write(tmp_path, "p.yaml", text))]).calico.policies
    assert p.name == "allow"


def test_other_kinds(tmp_path: Path) -> None:
    text = """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: default}
spec: {order: 5}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: ext, labels: {role: ext}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: db, namespace: shop, labels: {role: db}}
spec: {nets: [198.51.100.1]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: host}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [192.168.1.1], profiles: [hosts],
       ports: [{name: ssh, port: 22, protocol: TCP}]}
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata: {name: hosts}
spec: {labelsToApply: {zone: a}, ingress: [{action: Allow, protocol: TCP}]}
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: later}
spec: {stagedAction: Delete}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {failsafeInboundHostPorts: [{protocol: TCP, port: 2222}]}
"""
    cluster = load([str(write(tmp_path, "p.yaml", text))])
    calico = cluster.calico
    tiers = {t.name: t for t in calico.tiers}
    assert tiers["security"].default_action is CalicoAction.PASS
    assert tiers["default"].order == 1_000_000.0  # fixed by Calico
    assert [d.code for d in cluster.diagnostics if d.severity is Severity.WARNING] == ["MS169"]
    assert {s.ref for s in calico.network_sets} == {"ext", "shop/db"}
    [hep] = [p for p in cluster.pods if p.workload.kind == "HostEndpoint"]
    assert (str(hep.workload), hep.ips, hep.profiles) == (
        "node1-eth0[HostEndpoint]",
        ("192.168.1.1",),
        ("hosts",),
    )
    assert hep.named_port("ssh", Protocol.TCP) == 22
    assert calico.profiles[0].labels_to_apply == {"zone": "a"}
    [staged] = calico.staged
    assert staged.staged_action == "Delete"
    assert not staged.types
    assert [(p.protocol, p.port) for p in calico.failsafe_inbound] == [(Protocol.TCP, 2222)]


def test_missing_tier_is_a_warning(tmp_path: Path) -> None:
    cluster = load(
        [str(write(tmp_path, "p.yaml", _doc("tier: nowhere\ningress: [{action: Deny}]")))]
    )
    [warning] = [d for d in cluster.diagnostics if d.code == "MS168"]
    assert "nowhere" in warning.message
    assert warning.field == "spec.tier"


def test_source_ports_are_a_warning(tmp_path: Path) -> None:
    spec = "ingress: [{action: Allow, protocol: TCP, source: {ports: [80]}}]"
    cluster = load([str(write(tmp_path, "p.yaml", _doc(spec)))])
    assert [d.code for d in cluster.diagnostics] == ["MS170"]


def test_duplicates_are_errors(tmp_path: Path) -> None:
    errors = _errors(tmp_path, _doc("{}") + "---\n" + _doc("{}"))
    assert [c for c, *_ in errors] == ["MS167"]
