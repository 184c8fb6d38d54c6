"""Generated manifests are valid for the API server and stable.

- NetworkPolicy: every generated object validated by `kubernetes-validate` (the API's
  OpenAPI schemas, shipped in the package, strict: unknown fields refused).
- AdminNetworkPolicy, BaselineAdminNetworkPolicy, AuthorizationPolicy, Calico's
  projectcalico.org/v3 NetworkPolicy: no published CRD
  schema ships in a PyPI package (the npm `@kubernetes-models/istio` only has compiled
  JavaScript validators), so they are read back by microseg's own reader, which validates
  those kinds field by field against the published API (unknown fields, enums, ranges) and
  must give the same model objects.
- YAML: read back by PyYAML equals the manifest, and two runs write the same bytes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import microseg
from microseg.analyses.synth import PolicyFormat, RecommendOptions, recommend
from microseg.analyses.synth.needs import AddressOptions
from microseg.analyses.synth.types import LinkerdObject
from microseg.model import Cluster, NetworkPolicy
from microseg.model.calico import CalicoPolicy
from microseg.model.labels import FrozenLabels
from microseg.model.linkerd import Server
from microseg.render.policy_yaml import dump, manifest
from microseg.render.recommend import plan_files
from tests.unit.analyses.synth_support import demo_window

K8S_VERSION = "1.33"


def _linkerd_demo(cluster: Cluster) -> Cluster:
    """The demo with every namespace injected by Linkerd (the Istio objects left out)."""
    inject = FrozenLabels({"linkerd.io/inject": "enabled"})
    return replace(
        cluster,
        namespaces=tuple(replace(ns, annotations=inject) for ns in cluster.namespaces),
        peer_authentications=(),
        authorization_policies=(),
    )


def _all_formats(demo_dir: Path) -> list[object]:
    cluster = microseg.load([str(demo_dir)])
    options = [
        RecommendOptions(format=f, allow_probes=True, node_cidrs=("10.0.0.0/24",))
        for f in PolicyFormat
        if f is not PolicyFormat.LINKERD
    ]
    options.append(
        RecommendOptions(addresses=AddressOptions(internet_egress=True, internet_ingress=True))
    )
    options.append(RecommendOptions(granularity="namespace"))
    # the demo has a BANP: without it, ours is written too
    bare = replace(cluster, admin_policies=())
    out = [recommend(cluster, demo_window(), o) for o in options]
    out.append(
        recommend(bare, demo_window(), RecommendOptions(format=PolicyFormat.ADMINNETWORKPOLICY))
    )
    linkerd = RecommendOptions(format=PolicyFormat.LINKERD)
    out.append(recommend(_linkerd_demo(cluster), demo_window(), linkerd))
    return out


@pytest.fixture(scope="module")
def recs(demo_dir: Path) -> list[object]:
    return _all_formats(demo_dir)


def test_network_policies_pass_kubernetes_validate(recs: list[object]) -> None:
    n = 0
    for rec in recs:
        for g in rec.generated:  # type: ignore[attr-defined]
            if not isinstance(g.policy, NetworkPolicy):
                continue
            doc = yaml.safe_load(dump(g))
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            n += 1
    assert n > 50


def test_invalid_documents_are_refused_by_the_validator() -> None:
    """The oracle is not vacuous: a misspelt field and a bad port are refused."""
    doc = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "x", "namespace": "a"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"prot": "TCP"}]}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_yaml_reads_back_to_the_manifest(recs: list[object]) -> None:
    for rec in recs:
        for name, text, objs in plan_files(rec.generated):  # type: ignore[attr-defined]
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
            assert docs == [manifest(g) for g in objs], name
            for d in docs:
                labels = d["metadata"]["labels"]
                assert labels == {"app.kubernetes.io/managed-by": "microseg"}
                assert d["metadata"]["annotations"]["microseg.dev/flow-window"] == (
                    "2026-11-20T10:00:00Z/2026-11-20T11:00:00Z"
                )


def test_every_kind_reads_back_through_microseg(recs: list[object], tmp_path: Path) -> None:
    kinds: set[str] = set()
    for k, rec in enumerate(recs):
        folder = tmp_path / str(k)
        folder.mkdir()
        for name, text, _ in plan_files(rec.generated):  # type: ignore[attr-defined]
            (folder / name).write_text(text)
        back = microseg.load([str(folder)])
        assert not back.diagnostics, back.diagnostics
        for g in rec.generated:  # type: ignore[attr-defined]
            if isinstance(g.policy, CalicoPolicy):
                kinds.add(f"projectcalico.org/v3 {g.kind}")
                got_c = next(
                    p
                    for p in back.calico.policies
                    if (p.kind, p.namespace, p.name) == (g.policy.kind, g.namespace, g.name)
                )
                assert (
                    got_c.tier,
                    got_c.order,
                    got_c.selector,
                    got_c.types,
                    got_c.ingress,
                    got_c.egress,
                ) == (
                    g.policy.tier,
                    g.policy.order,
                    g.policy.selector,
                    g.policy.types,
                    g.policy.ingress,
                    g.policy.egress,
                )
                continue
            kinds.add(g.kind)
            if g.kind == "NetworkPolicy":
                got = next(
                    p for p in back.policies if (p.namespace, p.name) == (g.namespace, g.name)
                )
                assert (got.pod_selector, got.policy_types, got.ingress, got.egress) == (
                    g.policy.pod_selector,
                    g.policy.policy_types,
                    g.policy.ingress,
                    g.policy.egress,
                )
            elif isinstance(g.policy, LinkerdObject):
                lk = back.linkerd
                pool = (
                    *lk.servers,
                    *lk.authorization_policies,
                    *lk.mesh_tls,
                    *lk.network_authentications,
                )
                got_l = next(
                    o
                    for o in pool
                    if type(o) is type(g.policy) and (o.namespace, o.name) == (g.namespace, g.name)
                )
                if isinstance(got_l, Server):  # its metadata labels (managed-by) are read too
                    got_l = replace(got_l, labels=g.policy.labels)  # type: ignore[union-attr]
                assert replace(got_l, origin=g.policy.origin) == g.policy  # type: ignore[type-var]
            elif g.kind == "AuthorizationPolicy":
                got_a = next(a for a in back.authorization_policies if a.ref == g.policy.ref)
                assert (got_a.action, got_a.selector, got_a.rules) == (
                    g.policy.action,
                    g.policy.selector,
                    g.policy.rules,
                )
            else:
                got_p = next(a for a in back.admin_policies if (a.kind, a.name) == (g.kind, g.name))
                assert (got_p.priority, got_p.subject, got_p.ingress, got_p.egress) == (
                    g.policy.priority,
                    g.policy.subject,
                    g.policy.ingress,
                    g.policy.egress,
                )
    assert kinds == {
        "NetworkPolicy",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "AuthorizationPolicy",
        "projectcalico.org/v3 NetworkPolicy",
        "Server",
        "MeshTLSAuthentication",
        "NetworkAuthentication",
    }


def test_output_is_stable_between_runs(demo_dir: Path) -> None:
    a = _all_formats(demo_dir)
    b = _all_formats(demo_dir)
    for x, y in zip(a, b, strict=True):
        assert [t for _, t, _ in plan_files(x.generated)] == [
            t for _, t, _ in plan_files(y.generated)
        ]  # type: ignore[attr-defined]
