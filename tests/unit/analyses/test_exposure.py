"""`compute_exposure` on small clusters whose answers are read off their policies by hand.

EDGE: namespace `edge`, pod `web` (app=web; container ports http=TCP/8080, admin=TCP/9090,
dns=TCP/53) and pod `db` (app=db, TCP/5432). Each test adds policies and entry objects.
"""

from __future__ import annotations

from pathlib import Path

from microseg.analyses.exposure import (
    EntryStatus,
    ExposureReport,
    WorkloadExposure,
    compute_exposure,
)
from microseg.engine import Connectivity, WorkloadGraph
from microseg.ingest import load
from microseg.model import ConnSet, IPSet, Protocol
from microseg.model.addresses import PUBLIC, AddressClass

WEB = "edge/web[Pod]"
DB = "edge/db[Pod]"

EDGE = """\
apiVersion: v1
kind: Namespace
metadata: {name: edge}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: edge, labels: {app: web}}
spec:
  containers:
  - name: c
    image: x
    ports:
    - {name: http, containerPort: 8080}
    - {name: admin, containerPort: 9090}
    - {name: dns, containerPort: 53}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: edge, labels: {app: db}}
spec:
  containers:
  - {name: c, image: x, ports: [{containerPort: 5432}]}
"""


def policy(name: str, selector: str, body: str) -> str:
    return f"""\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: edge}}
spec:
  podSelector: {{matchLabels: {{app: {selector}}}}}
{body}"""


def service(name: str, kind: str, ports: str, selector: str = "web") -> str:
    return f"""\
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: edge}}
spec:
  type: {kind}
  selector: {{app: {selector}}}
  ports:
{ports}"""


HTTP_AND_ADMIN = """\
  - {name: http, port: 80, targetPort: http}
  - {name: admin, port: 9000, targetPort: admin}
"""


def report(tmp_path: Path, *docs: str) -> ExposureReport:
    path = tmp_path / "in.yaml"
    path.write_text(EDGE + "".join(docs), encoding="utf-8")
    conn = Connectivity.build(load([str(path)]))
    return compute_exposure(conn, WorkloadGraph.build(conn))


def tcp(*ports: int) -> ConnSet:
    out = ConnSet.none()
    for p in ports:
        out = out | ConnSet.single(Protocol.TCP, p)
    return out


def only(rep: ExposureReport, name: str) -> WorkloadExposure:
    (w,) = [w for w in rep.workloads if w.name == name]
    return w


def test_unisolated_pods_are_reachable_from_everything(tmp_path: Path) -> None:
    rep = report(tmp_path)
    web = only(rep, WEB)
    assert web.reachable_from_public
    assert web.reaches_public
    assert web.public_in.is_all()
    assert web.public_out.is_all()
    # 0.0.0.0/0 split by class, in address order, covering it exactly
    assert web.inbound[0].first == "0.0.0.0"
    assert web.inbound[-1].last == "255.255.255.255"
    covered = IPSet()
    for run in web.inbound:
        covered = covered | run.addresses
    assert covered == IPSet.all_v4()
    assert {r.cls for r in web.inbound} >= {AddressClass.PUBLIC, AddressClass.PRIVATE}
    assert not rep.ipv6
    assert rep.entries == ()


def test_private_only_ingress_blocks_the_load_balancer(tmp_path: Path) -> None:
    rep = report(
        tmp_path,
        policy(
            "lan",
            "web",
            """\
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]
""",
        ),
        service("web-lb", "LoadBalancer", HTTP_AND_ADMIN),
    )
    web = only(rep, WEB)
    assert not web.reachable_from_public
    assert [(r.first, r.last, r.cls) for r in web.inbound] == [
        ("10.0.0.0", "10.255.255.255", AddressClass.PRIVATE)
    ]
    (entry,) = rep.entries
    assert (entry.kind, entry.workload, entry.service) == ("LoadBalancer", WEB, "edge/web-lb")
    assert entry.requested == tcp(8080, 9090)  # named targetPorts resolved on the pod
    assert entry.status is EntryStatus.BLOCKED
    assert not entry.allowed
    assert not entry.some
    assert web.entries == (entry,)


def test_public_except_private_opens_one_port_of_two(tmp_path: Path) -> None:
    rep = report(
        tmp_path,
        policy(
            "world",
            "web",
            """\
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
    ports: [{port: 8080}]
""",
        ),
        service("web-np", "NodePort", HTTP_AND_ADMIN),
    )
    web = only(rep, WEB)
    assert web.public_in == tcp(8080)  # every public address, since 10/8 is not public
    (entry,) = rep.entries
    assert entry.status is EntryStatus.PARTIAL
    assert entry.allowed == entry.some == tcp(8080)
    assert entry.isolating == ("edge/world",)  # 9090 is what it blocks
    assert [p.pod_ports for p in entry.ports] == [(8080,), (9090,)]


def test_some_public_addresses_only(tmp_path: Path) -> None:
    rep = report(
        tmp_path,
        policy(
            "partner",
            "web",
            """\
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 8.8.8.0/24}}]
""",
        ),
        service("web-lb", "LoadBalancer", "  - {port: 80, targetPort: 8080}\n"),
    )
    web = only(rep, WEB)
    assert web.reachable_from_public
    assert not web.public_in  # not from every public address
    (entry,) = rep.entries
    assert entry.status is EntryStatus.PARTIAL
    assert not entry.allowed
    assert entry.some == tcp(8080)


def test_egress_runs_split_at_class_boundaries(tmp_path: Path) -> None:
    rep = report(
        tmp_path,
        policy(
            "out",
            "db",
            """\
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 203.0.112.0/22}}]
    ports: [{port: 443}]
""",
        ),
        policy("in", "db", "  policyTypes: [Ingress]\n"),
    )
    db = only(rep, DB)
    assert db.inbound == ()
    assert [(r.first, r.last, r.cls, r.conns) for r in db.outbound] == [
        ("203.0.112.0", "203.0.112.255", AddressClass.PUBLIC, tcp(443)),
        ("203.0.113.0", "203.0.113.255", AddressClass.DOCUMENTATION, tcp(443)),
        ("203.0.114.0", "203.0.115.255", AddressClass.PUBLIC, tcp(443)),
    ]
    assert db.reaches_public
    assert not db.public_out


def test_documentation_only_egress_is_not_public(tmp_path: Path) -> None:
    rep = report(
        tmp_path,
        policy(
            "out",
            "db",
            """\
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 198.51.100.0/24}}]
""",
        ),
    )
    db = only(rep, DB)
    assert not db.reaches_public
    assert db not in rep.reaching_public


def test_service_selecting_nothing_has_no_endpoints(tmp_path: Path) -> None:
    rep = report(tmp_path, service("ghost", "NodePort", "  - {port: 80}\n", selector="nope"))
    (entry,) = rep.entries
    assert entry.workload is None
    assert entry.status is EntryStatus.NO_ENDPOINTS
    assert (entry.origin.kind, entry.origin.name) == ("Service", "ghost")
    assert entry.origin.line is not None
    assert entry.origin.line > EDGE.count("\n")


def test_named_target_port_must_match_the_service_protocol(tmp_path: Path) -> None:
    # `dns` is TCP on the pod; a UDP Service port named target does not resolve (FindPort).
    rep = report(
        tmp_path,
        service("dns", "LoadBalancer", "  - {port: 53, protocol: UDP, targetPort: dns}\n"),
    )
    (entry,) = rep.entries
    assert entry.ports[0].pod_ports == ()
    assert entry.status is EntryStatus.NO_ENDPOINTS


def test_cluster_ip_services_are_not_entry_points(tmp_path: Path) -> None:
    rep = report(tmp_path, service("web", "ClusterIP", "  - {port: 80, targetPort: 8080}\n"))
    assert rep.entries == ()


def ingress(service_name: str, port: int) -> str:
    return f"""\
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: edge}}
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {{service: {{name: {service_name}, port: {{number: {port}}}}}}}
"""


def test_ingress_open_and_blocked_by_policy(tmp_path: Path) -> None:
    svc = service("web", "ClusterIP", HTTP_AND_ADMIN)
    rep = report(tmp_path, svc, ingress("web", 80))
    (entry,) = rep.entries
    assert (entry.kind, entry.workload, entry.status) == ("Ingress", WEB, EntryStatus.OPEN)
    assert entry.requested == tcp(8080)
    assert entry.source == "{ingress-controller}"

    only_db = policy(
        "from-db",
        "web",
        """\
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: db}}}]
""",
    )
    rep = report(tmp_path, svc, ingress("web", 80), only_db)
    (entry,) = rep.entries
    assert entry.status is EntryStatus.BLOCKED
    assert entry.requested == tcp(8080)
    assert not entry.allowed


def test_ingress_to_a_missing_service(tmp_path: Path) -> None:
    rep = report(tmp_path, ingress("missing", 80))
    (entry,) = rep.entries
    assert entry.workload is None
    assert entry.status is EntryStatus.NO_ENDPOINTS


def test_ipv6_scope_when_the_input_mentions_ipv6(tmp_path: Path) -> None:
    rep = report(
        tmp_path,
        policy(
            "v6",
            "web",
            """\
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: "2001:db8::/32"}}]
""",
        ),
    )
    assert rep.ipv6
    web = only(rep, WEB)
    assert [(r.cls, r.conns.is_all()) for r in web.inbound] == [(AddressClass.DOCUMENTATION, True)]
    assert not web.reachable_from_public
    assert rep.scope.v6
    assert PUBLIC.v6


def test_service_with_an_empty_selector_selects_no_pods(tmp_path: Path) -> None:
    # ServiceSpec.selector (Kubernetes API reference): "If empty or not present, the service
    # is assumed to have an external process managing its endpoints" -- `{}` selects no pod,
    # unlike an empty NetworkPolicy podSelector.
    empty = service("manual", "LoadBalancer", "  - {port: 80, targetPort: 8080}\n")
    empty = empty.replace("selector: {app: web}", "selector: {}")
    missing = service("bare", "NodePort", "  - {port: 81, targetPort: 8080}\n")
    missing = missing.replace("  selector: {app: web}\n", "")
    rep = report(tmp_path, empty, missing, ingress("manual", 80))
    assert len(rep.entries) == 3
    for entry in rep.entries:
        assert entry.workload is None, entry
        assert entry.status is EntryStatus.NO_ENDPOINTS
    assert {e.name for e in rep.entries} == {"manual", "bare", "web"}
    # the pods stay reachable by their policies, but through no entry point
    assert only(rep, WEB).entries == ()


def test_an_empty_service_selector_is_no_selector_in_the_model(tmp_path: Path) -> None:
    # Decided at ingest, so every user of Service.selector (Ingress backends, Istio
    # targetRefs, exposure) sees the same thing as for a missing selector.
    path = tmp_path / "svc.yaml"
    empty = service("manual", "NodePort", "  - {port: 80}\n").replace("{app: web}", "{}")
    path.write_text(EDGE + empty + service("web", "NodePort", "  - {port: 80}\n"), "utf-8")
    selectors = {s.name: s.selector for s in load([str(path)]).services}
    assert selectors["manual"] is None
    assert selectors["web"] == {"app": "web"}
