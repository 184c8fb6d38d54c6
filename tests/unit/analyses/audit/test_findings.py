"""Each audit finding on a minimal cluster that has it, and on one that does not.

The base cluster is clean: one namespace labelled for restricted Pod Security Admission,
a default deny both ways, one Deployment that meets the restricted profile, pins its
image, limits its resources, runs read-only with its own service account and no token.
Every case changes one thing and expects its code; the base expects no finding at all.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from microseg.analyses.audit import CODES, AuditReport, Patch
from microseg.engine import Connectivity
from microseg.ingest.documents import read_paths
from microseg.ingest.intents import load_intents
from microseg.ingest.manifests import load_documents
from microseg.model.guardrails import GuardrailSet, ImageRule, Rule
from microseg.model.rbac import AuditEvent
from microseg.render.audit import patch_text
from tests.unit.analyses.audit._support import audit_folder, codes

Obj = dict[str, Any]


def namespace(name: str, **labels: str) -> Obj:
    labels.setdefault("pod-security.kubernetes.io/enforce", "restricted")
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deployment(ns: str, name: str, sa: str | None = None, port: int = 8080) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "serviceAccountName": sa or name,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": name,
                            "image": f"registry.example.com/{name}:1.2.3",
                            "ports": [{"containerPort": port, "name": "http"}],
                            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def deny_all(ns: str) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def policy(ns: str, name: str, app: str, ingress: Any = None, egress: Any = None) -> Obj:
    spec: Obj = {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": []}
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def base() -> list[Obj]:
    return [namespace("a"), deny_all("a"), deployment("a", "web")]


def open_namespace(name: str, app: str, **labels: str) -> list[Obj]:
    """A namespace whose one workload no policy selects."""
    return [namespace(name, **labels), deployment(name, app)]


def pod_spec(objs: list[Obj], name: str = "web") -> Obj:
    d = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
    spec: Obj = d["spec"]["template"]["spec"]
    return spec


def container(objs: list[Obj]) -> Obj:
    c: Obj = pod_spec(objs)["containers"][0]
    return c


def rbac(kind: str, name: str, body: Obj, ns: str | None = None) -> Obj:
    meta: Obj = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, **body}


def grant(
    resources: list[str], verbs: list[str], subject: Obj, group: str = "", name: str = "r"
) -> list[Obj]:
    role = rbac(
        "ClusterRole",
        name,
        {"rules": [{"apiGroups": [group], "resources": resources, "verbs": verbs}]},
    )
    bind = rbac(
        "ClusterRoleBinding",
        name,
        {
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [subject],
        },
    )
    return [role, bind]


ALICE = {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}
WEB_SA = {"kind": "ServiceAccount", "name": "web", "namespace": "a"}


def run(tmp_path: Path, objs: list[Obj], **kw: Any) -> AuditReport:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "in.yaml").write_text(yaml.safe_dump_all(objs), encoding="utf-8")
    return audit_folder(tmp_path, **kw)


def test_the_base_cluster_has_no_finding(tmp_path: Path) -> None:
    report = run(tmp_path, base())
    assert report.findings == ()
    assert report.overall.score == 100.0
    assert report.overall.checks > 20


Change = Callable[[list[Obj]], list[Obj]]


def _drop_egress(objs: list[Obj]) -> list[Obj]:
    objs[1]["spec"]["policyTypes"] = ["Ingress"]
    return objs


def _drop_ingress(objs: list[Obj]) -> list[Obj]:
    objs[1]["spec"]["policyTypes"] = ["Egress"]
    return objs


def _exposed(objs: list[Obj]) -> list[Obj]:
    return [
        *objs,
        policy("a", "web-in", "web", ingress=[{"ports": [{"port": 8080}]}]),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "a"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        },
    ]


def _public_ingress(objs: list[Obj]) -> list[Obj]:
    return [
        *objs,
        policy("a", "web-in", "web", ingress=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]),
    ]


def _public_egress(objs: list[Obj]) -> list[Obj]:
    return [
        *objs,
        policy("a", "web-out", "web", egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]),
    ]


def _open_to_all_namespaces(objs: list[Obj]) -> list[Obj]:
    objs += open_namespace("b", "x") + open_namespace("c", "y")
    return [*objs, policy("a", "web-in", "web", ingress=[{"from": [{"namespaceSelector": {}}]}])]


def _cross_tenant(objs: list[Obj]) -> list[Obj]:
    objs[0]["metadata"]["labels"]["tenant"] = "red"
    return (
        objs
        + open_namespace("b", "x", tenant="blue")
        + [policy("a", "web-in", "web", ingress=[{"from": [{"namespaceSelector": {}}]}])]
    )


def _lateral(objs: list[Obj]) -> list[Obj]:
    objs = _exposed(objs)
    # a/web -> b/x -> c/y: the internet reaches c/y in two hops past its entry
    objs.append(policy("a", "web-out", "web", egress=[{}]))

    def only_from(ns: str) -> Any:
        return [
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}]}
        ]

    return [
        *objs,
        *open_namespace("b", "x"),
        policy("b", "x-in", "x", ingress=only_from("a")),
        *open_namespace("c", "y"),
        policy("c", "y-in", "y", ingress=only_from("b")),
    ]


def _set(path: str, value: Any) -> Change:
    def change(objs: list[Obj]) -> list[Obj]:
        target: Any = container(objs) if path.startswith("c.") else pod_spec(objs)
        keys = path.split(".")[1:]
        for k in keys[:-1]:
            target = target.setdefault(k, {})
        target[keys[-1]] = value
        return objs

    return change


def _no_limits(objs: list[Obj]) -> list[Obj]:
    del container(objs)["resources"]
    return objs


def _no_psa_label(objs: list[Obj]) -> list[Obj]:
    del objs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
    return objs


def _default_namespace(objs: list[Obj]) -> list[Obj]:
    return [namespace("default"), deny_all("default"), deployment("default", "web")]


def _host_path(objs: list[Obj]) -> list[Obj]:
    pod_spec(objs)["volumes"] = [{"name": "h", "hostPath": {"path": "/var"}}]
    return objs


def _host_port(objs: list[Obj]) -> list[Obj]:
    container(objs)["ports"][0]["hostPort"] = 8080
    return objs


def _shared_sa(objs: list[Obj]) -> list[Obj]:
    return [*objs, deployment("a", "api", sa="web")]


def _mesh(mode: str, rules: Any = None) -> Change:
    def change(objs: list[Obj]) -> list[Obj]:
        objs[0]["metadata"]["labels"]["istio-injection"] = "enabled"
        objs.append(
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "default", "namespace": "a"},
                "spec": {"mtls": {"mode": mode}},
            }
        )
        if rules is not None:
            objs.append(
                {
                    "apiVersion": "security.istio.io/v1",
                    "kind": "AuthorizationPolicy",
                    "metadata": {"name": "web", "namespace": "a"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "web"}},
                        "action": "ALLOW",
                        "rules": rules,
                    },
                }
            )
        return objs

    return change


def _outside_mesh(objs: list[Obj]) -> list[Obj]:
    objs = _mesh("STRICT")(objs)
    return [*objs, namespace("b"), deny_all("b"), deployment("b", "x")]


def _rbac(*extra: Obj) -> Change:
    return lambda objs: [*objs, *extra]


CASES: dict[str, tuple[Change, Change | None]] = {
    # code: (a change that makes the finding, a change close to it that does not)
    "AUD-NET-001": (_drop_ingress, _drop_egress),
    "AUD-NET-002": (_drop_egress, _drop_ingress),
    "AUD-NET-003": (lambda o: o + open_namespace("b", "x"), None),
    "AUD-NET-004": (_exposed, None),
    "AUD-NET-005": (_public_ingress, _exposed),
    "AUD-NET-006": (_public_egress, None),
    "AUD-NET-007": (
        _open_to_all_namespaces,
        lambda o: o + open_namespace("b", "x") + open_namespace("c", "y"),
    ),
    "AUD-NET-008": (_cross_tenant, lambda o: _cross_tenant(o)[:3] + open_namespace("b", "x")),
    "AUD-NET-010": (_lateral, _exposed),
    "AUD-IDN-001": (_outside_mesh, _mesh("STRICT")),
    "AUD-IDN-002": (_mesh("PERMISSIVE"), _mesh("STRICT")),
    "AUD-IDN-003": (
        _mesh("STRICT", [{}]),
        _mesh("STRICT", [{"from": [{"source": {"principals": ["cluster.local/ns/a/sa/web"]}}]}]),
    ),
    "AUD-IDN-004": (_shared_sa, lambda o: [*o, deployment("a", "api")]),
    "AUD-POD-001": (
        _set("c.securityContext.privileged", True),
        _set("c.securityContext.privileged", False),
    ),
    "AUD-POD-002": (_set("p.hostPID", True), _set("p.hostPID", False)),
    "AUD-POD-003": (_set("p.hostIPC", True), _set("p.hostIPC", False)),
    "AUD-POD-004": (_set("p.hostNetwork", True), _set("p.hostNetwork", False)),
    "AUD-POD-005": (_set("c.securityContext.allowPrivilegeEscalation", True), None),
    "AUD-POD-006": (_set("p.securityContext.runAsNonRoot", False), None),
    "AUD-POD-007": (
        _set("c.securityContext.capabilities", {"add": ["NET_ADMIN"], "drop": ["ALL"]}),
        _set("c.securityContext.capabilities", {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}),
    ),
    "AUD-POD-008": (_host_path, None),
    "AUD-POD-009": (_host_port, None),
    "AUD-POD-010": (_set("p.securityContext.windowsOptions", {"hostProcess": True}), None),
    "AUD-POD-011": (
        _set("p.securityContext.seccompProfile", {"type": "Unconfined"}),
        _set(
            "p.securityContext.seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"}
        ),
    ),
    "AUD-POD-012": (
        _set("c.securityContext.procMount", "Unmasked"),
        _set("c.securityContext.procMount", "Default"),
    ),
    "AUD-POD-014": (
        _set("c.image", "registry.example.com/web:latest"),
        _set("c.image", "registry.example.com/web@sha256:" + "a" * 64),
    ),
    "AUD-POD-015": (_no_limits, None),
    "AUD-POD-016": (_set("c.securityContext.readOnlyRootFilesystem", False), None),
    "AUD-POD-017": (_set("p.automountServiceAccountToken", True), None),
    "AUD-POD-018": (_no_psa_label, None),
    "AUD-POD-019": (_default_namespace, None),
    "AUD-POD-020": (
        _set("c.env", [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]),
        _set(
            "c.env", [{"name": "PW", "valueFrom": {"configMapKeyRef": {"name": "db", "key": "pw"}}}]
        ),
    ),
    "AUD-RBAC-001": (
        _rbac(*grant(["*"], ["*"], ALICE, "*")),
        _rbac(*grant(["pods"], ["*"], ALICE)),
    ),
    "AUD-RBAC-002": (_rbac(*grant(["*"], ["get"], ALICE)), _rbac(*grant(["pods"], ["get"], ALICE))),
    "AUD-RBAC-003": (
        _rbac(*grant(["secrets"], ["list"], ALICE)),
        _rbac(*grant(["configmaps"], ["list"], ALICE)),
    ),
    "AUD-RBAC-004": (
        _rbac(*grant(["pods/exec"], ["create"], ALICE)),
        _rbac(*grant(["pods/log"], ["get"], ALICE)),
    ),
    "AUD-RBAC-005": (
        _rbac(*grant(["deployments"], ["create"], ALICE, "apps")),
        _rbac(*grant(["deployments"], ["get"], ALICE, "apps")),
    ),
    "AUD-RBAC-006": (
        _rbac(*grant(["users"], ["impersonate"], ALICE)),
        _rbac(*grant(["users"], ["get"], ALICE)),
    ),
    "AUD-RBAC-007": (
        _rbac(*grant(["nodes/proxy"], ["get"], ALICE)),
        _rbac(*grant(["nodes"], ["get"], ALICE)),
    ),
    "AUD-RBAC-008": (
        _rbac(*grant(["serviceaccounts/token"], ["create"], ALICE)),
        _rbac(*grant(["serviceaccounts"], ["get"], ALICE)),
    ),
    "AUD-RBAC-009": (
        _rbac(*grant(["persistentvolumes"], ["create"], ALICE)),
        _rbac(*grant(["persistentvolumeclaims"], ["create"], ALICE)),
    ),
    "AUD-RBAC-010": (
        _rbac(
            *grant(
                ["certificatesigningrequests/approval"], ["update"], ALICE, "certificates.k8s.io"
            )
        ),
        _rbac(*grant(["certificatesigningrequests"], ["create"], ALICE, "certificates.k8s.io")),
    ),
    "AUD-RBAC-011": (
        _rbac(
            *grant(
                ["mutatingwebhookconfigurations"], ["patch"], ALICE, "admissionregistration.k8s.io"
            )
        ),
        _rbac(
            *grant(
                ["mutatingwebhookconfigurations"], ["get"], ALICE, "admissionregistration.k8s.io"
            )
        ),
    ),
    "AUD-RBAC-012": (
        _rbac(
            *grant(
                ["pods"],
                ["get"],
                {
                    "kind": "Group",
                    "name": "system:authenticated",
                    "apiGroup": "rbac.authorization.k8s.io",
                },
            )
        ),
        _rbac(*grant(["pods"], ["get"], ALICE)),
    ),
    "AUD-RBAC-013": (
        _rbac(*grant(["pods"], ["get"], WEB_SA)),
        lambda o: _set("p.automountServiceAccountToken", True)(
            _rbac(*grant(["pods"], ["get"], WEB_SA))(o)
        ),
    ),
    "AUD-RBAC-014": (
        _rbac(
            *grant(
                ["pods"], ["get"], {"kind": "ServiceAccount", "name": "default", "namespace": "a"}
            )
        ),
        _rbac(*grant(["pods"], ["get"], WEB_SA)),
    ),
    "AUD-RBAC-015": (
        _rbac(
            rbac(
                "ClusterRoleBinding",
                "dangling",
                {
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "gone",
                    },
                    "subjects": [ALICE],
                },
            )
        ),
        _rbac(*grant(["pods"], ["get"], ALICE)),
    ),
}


def test_every_code_has_a_case() -> None:
    # AUD-NET-009 (intents) and AUD-POD-013 (registries) need inputs of their own: below.
    assert set(CODES) - set(CASES) == {"AUD-NET-009", "AUD-POD-013"}


@pytest.mark.parametrize("code", sorted(CASES))
def test_finding_present_and_absent(tmp_path: Path, code: str) -> None:
    make, near = CASES[code]
    report = run(tmp_path / "has", make(copy.deepcopy(base())), max_hops=1)
    hits = [f for f in report.findings if f.code == code]
    assert hits, sorted(codes(report))
    for f in hits:
        assert f.message
        assert f.remediation.summary
        assert f.level is not None
    clean = run(tmp_path / "not", (near or (lambda o: o))(copy.deepcopy(base())), max_hops=1)
    assert code not in codes(clean), [f.message for f in clean.findings if f.code == code]


def test_intent_violation_and_registries(tmp_path: Path) -> None:
    objs = base() + open_namespace("b", "x")
    intents = tmp_path / "intents.yaml"
    intents.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: t}\n"
        "spec:\n  groups:\n    x: {workload: b/x}\n    web: {workload: a/web}\n"
        "  deny:\n    - {from: x, to: web}\n    - {from: web, to: x}\n",
        encoding="utf-8",
    )
    intent_set, _ = load_intents([str(intents)])
    objs.append(policy("a", "web-in", "web", ingress=[{"from": [{"namespaceSelector": {}}]}]))
    report = run(tmp_path / "v", objs, intents=intent_set)
    (violated,) = [f for f in report.findings if f.code == "AUD-NET-009"]
    assert "b/x[Deployment] -> a/web[Deployment]" in " ".join(e.text for e in violated.evidence)
    assert any(
        e.origin is not None and e.origin.file.endswith("intents.yaml") for e in violated.evidence
    )
    # the second intent holds: one finding, and the checks count both
    assert sum(c.code == "AUD-NET-009" for c in report.checks) == 2
    rules = GuardrailSet((Rule("img", ImageRule(registries=("ghcr.io/",))),))
    assert "AUD-POD-013" in codes(run(tmp_path / "g", base(), guardrails=rules))
    ok = GuardrailSet((Rule("img", ImageRule(registries=("registry.example.com/",))),))
    report = run(tmp_path / "h", base(), guardrails=ok)
    assert "AUD-POD-013" not in codes(report)
    assert "registries" in report.available


def test_evidence_points_at_the_field_line(tmp_path: Path) -> None:
    objs = _set("c.securityContext.privileged", True)(base())
    report = run(tmp_path, objs)
    (f,) = [f for f in report.findings if f.code == "AUD-POD-001"]
    (e,) = f.evidence
    assert e.origin is not None
    assert e.origin.line is not None
    line = (tmp_path / "in.yaml").read_text().splitlines()[e.origin.line - 1]
    assert "privileged" in line
    (p,) = f.remediation.patches
    assert p.value is False
    assert p.path[-1] == "privileged"


def test_default_deny_remediation_is_a_generated_policy(tmp_path: Path) -> None:
    report = run(tmp_path, _drop_ingress(base()))
    (f,) = [f for f in report.findings if f.code == "AUD-NET-001"]
    (g,) = f.remediation.policies
    assert g.name == "default-deny-ingress"
    assert g.namespace == "a"


def test_audit_log_shows_unused_permissions_and_writes_the_least_role(tmp_path: Path) -> None:
    objs = _set("p.automountServiceAccountToken", True)(base())
    objs += grant(["pods", "secrets"], ["get", "list"], WEB_SA)
    user = "system:serviceaccount:a:web"
    groups = ("system:serviceaccounts", "system:serviceaccounts:a", "system:authenticated")
    used = (AuditEvent(user, groups, "get", "a", "", "pods", "", "p1"),)
    report = run(tmp_path / "used", objs, events=used)
    (f,) = [f for f in report.findings if f.code == "AUD-RBAC-013"]
    assert "never used" in f.message
    role, binding = f.remediation.objects
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert binding["kind"] == "RoleBinding"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "web-used",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "web", "namespace": "a"}]
    # and the patch takes the account out of the binding that over-grants it
    (revoke,) = f.remediation.patches
    bound = next(o for o in objs if o["kind"] == "ClusterRoleBinding")
    assert _apply(revoke, bound)["subjects"] == []
    everything = (
        *used,
        AuditEvent(user, groups, "list", "a", "", "pods"),
        AuditEvent(user, groups, "get", "b", "", "secrets", "", "s"),
        AuditEvent(user, groups, "list", "b", "", "secrets"),
    )
    report = run(tmp_path / "all", objs, events=everything)
    assert "AUD-RBAC-013" not in codes(report)
    # a forbidden request uses nothing
    denied = (*used, AuditEvent(user, groups, "list", "b", "", "secrets", allowed=False))
    assert "AUD-RBAC-013" in codes(run(tmp_path / "denied", objs, events=denied))


def test_cluster_admin_subsumes_the_capabilities_it_implies(tmp_path: Path) -> None:
    report = run(tmp_path, _rbac(*grant(["*"], ["*"], ALICE, "*"))(base()))
    alice = [f.code for f in report.findings if f.subject == "User alice"]
    assert alice == ["AUD-RBAC-001"]
    (top,) = report.power[:1]
    assert top.subject == "User alice"
    assert {c for c, _ in top.capabilities} >= {"AUD-RBAC-001", "AUD-RBAC-003", "AUD-RBAC-006"}


def test_namespaced_grant_is_less_severe_than_cluster_wide(tmp_path: Path) -> None:
    role = rbac(
        "Role",
        "r",
        {"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
        "a",
    )
    bind = rbac(
        "RoleBinding",
        "r",
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [ALICE],
        },
        "a",
    )
    report = run(tmp_path / "ns", [*base(), role, bind])
    (f,) = [f for f in report.findings if f.code == "AUD-RBAC-003"]
    assert f.level.value == "medium"
    assert "namespace(s) a" in f.message
    wide = run(tmp_path / "wide", _rbac(*grant(["secrets"], ["get"], ALICE))(base()))
    (g,) = [f for f in wide.findings if f.code == "AUD-RBAC-003"]
    assert g.level.value == "high"
    assert "cluster-wide" in g.message


def _body(p: Patch) -> tuple[str, Any]:
    """The patch type and body of the `kubectl patch` command the report prints."""
    words = shlex.split(patch_text(p))
    assert words[:2] == ["kubectl", "patch"]
    kind = words[words.index("-p") - 1].removeprefix("--type=")
    return kind, json.loads(words[words.index("-p") + 1])


def _apply(p: Patch, obj: Obj) -> Obj:
    kind, body = _body(p)
    assert kind == "json", patch_text(p)
    result: Obj = jsonpatch.apply_patch(obj, body)
    return result


def test_rbac_fix_takes_the_subject_out_of_its_bindings(tmp_path: Path) -> None:
    bob = {"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}
    role, bind = grant(["secrets"], ["get"], ALICE)
    bind["subjects"] = [ALICE, bob, dict(ALICE)]
    report = run(tmp_path, [*base(), role, bind])
    (f,) = [f for f in report.findings if f.code == "AUD-RBAC-003" and f.subject == "User alice"]
    patches = f.remediation.patches
    assert [p.path for p in patches] == [("subjects", 2), ("subjects", 0)]
    obj = copy.deepcopy(bind)
    for p in patches:  # in the order printed
        obj = _apply(p, obj)
    assert obj["subjects"] == [bob]
    # a binding whose subjects moved since the audit is refused, not mangled
    moved = copy.deepcopy(bind)
    moved["subjects"] = [bob, ALICE]
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        _apply(patches[1], moved)


def test_grant_to_everyone_fix_removes_only_the_broad_subjects(tmp_path: Path) -> None:
    everyone = {
        "kind": "Group",
        "name": "system:authenticated",
        "apiGroup": "rbac.authorization.k8s.io",
    }
    anonymous = {
        "kind": "User",
        "name": "system:anonymous",
        "apiGroup": "rbac.authorization.k8s.io",
    }
    role, bind = grant(["pods"], ["get"], everyone)
    bind["subjects"] = [everyone, ALICE, anonymous]
    report = run(tmp_path, [*base(), role, bind])
    (f,) = [f for f in report.findings if f.code == "AUD-RBAC-012"]
    obj = copy.deepcopy(bind)
    for p in f.remediation.patches:
        obj = _apply(p, obj)
    assert obj["subjects"] == [ALICE]


def test_pod_fix_is_a_strategic_merge_by_container_name(tmp_path: Path) -> None:
    # no securityContext on the container: a JSON patch `add` would fail on the missing
    # parent; the strategic merge patch creates it and finds the container by its name
    objs = base()
    del container(objs)["securityContext"]
    report = run(tmp_path, objs)
    (f,) = [f for f in report.findings if f.code == "AUD-POD-005"]
    (p,) = f.remediation.patches
    assert _body(p) == (
        "strategic",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "web", "securityContext": {"allowPrivilegeEscalation": False}}
                        ]
                    }
                }
            }
        },
    )
    assert patch_text(p).startswith("kubectl patch deployment web -n a ")
    (ns,) = [
        f for f in run(tmp_path / "ns", _no_psa_label(base())).findings if f.code == "AUD-POD-018"
    ]
    assert _body(ns.remediation.patches[0]) == (
        "strategic",
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
    )


def test_internet_egress_evidence_names_the_rule(tmp_path: Path) -> None:
    report = run(tmp_path, _public_egress(base()))
    (f,) = [f for f in report.findings if f.code == "AUD-NET-006"]
    (rule,) = [e for e in f.evidence if e.origin is not None]
    assert "a/web-out" in rule.text
    assert rule.origin is not None
    assert rule.origin.line is not None
    assert rule.origin.file.endswith("in.yaml")
    # another policy opens it: a new one cannot close it, so none is generated
    assert f.remediation.policies == ()


def test_internet_egress_fix_closes_it_and_keeps_the_cluster(tmp_path: Path) -> None:
    from microseg.render.audit import remediation_yaml

    objs = [*_drop_egress(base()), *open_namespace("b", "x")]
    report = run(tmp_path / "before", objs)
    (f,) = [f for f in report.findings if f.code == "AUD-NET-006" and f.subject.startswith("a/")]
    (g,) = f.remediation.policies
    assert (g.kind, g.namespace) == ("NetworkPolicy", "a")
    fixed = [*objs, *yaml.safe_load_all(remediation_yaml(f))]
    after = run(tmp_path / "after", fixed)
    assert "a/web[Deployment]" not in {x.subject for x in after.findings if x.code == "AUD-NET-006"}
    # the rest of the cluster stays reachable: a/web still reaches b/x
    assert any(x.code == "AUD-NET-002" and x.subject == "Namespace b" for x in after.findings)
    conn = Connectivity.build(load_documents(read_paths([str(tmp_path / "after")])))
    assert conn.reach("a/web", "b/x").allowed.is_all()
    assert not conn.reach("a/web", "8.8.8.8").allowed


def test_outside_the_mesh_fix_labels_the_namespace(tmp_path: Path) -> None:
    report = run(tmp_path, _outside_mesh(base()))
    (f,) = [f for f in report.findings if f.code == "AUD-IDN-001"]
    (p,) = f.remediation.patches
    assert _body(p) == ("strategic", {"metadata": {"labels": {"istio-injection": "enabled"}}})
    assert patch_text(p).startswith("kubectl patch namespace b ")


def test_open_namespace_evidence_explains_a_path_in(tmp_path: Path) -> None:
    report = run(tmp_path, _open_to_all_namespaces(base()))
    (f,) = [f for f in report.findings if f.code == "AUD-NET-007"]
    texts = [e.text for e in f.evidence]
    assert "-> a/web" in texts[0]
    assert any("a/web-in" in t for t in texts), texts
    assert any(e.origin is not None and e.origin.file.endswith("in.yaml") for e in f.evidence)


def test_secret_env_evidence_points_at_each_entry(tmp_path: Path) -> None:
    objs = base()
    container(objs)["envFrom"] = [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "api"}}]
    objs[2]["spec"]["template"]["spec"]["initContainers"] = [
        {
            "name": "init",
            "image": "registry.example.com/init:1",
            "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}}],
        }
    ]
    report = run(tmp_path, objs)
    (f,) = [f for f in report.findings if f.code == "AUD-POD-020"]
    assert "api, tok" in f.message
    texts = [e.text for e in f.evidence]
    assert any("'init'" in t and "secretKeyRef" in t and "Secret tok" in t for t in texts), texts
    assert any("'web'" in t and "envFrom[1].secretRef" in t for t in texts), texts
    lines = (tmp_path / "in.yaml").read_text().splitlines()
    for e in f.evidence:
        assert e.origin is not None
        assert e.origin.line is not None
        assert lines[e.origin.line - 1].strip() in ("name: api", "name: tok")
