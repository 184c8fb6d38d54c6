"""Identity sources beside the meshes, per pod: the SPIFFE IDs SPIRE registers for it, and
the cloud identities its service account is bound to; and the findings about them.

SPIRE: spire-controller-manager renders one registration per ClusterSPIFFEID that selects a
pod (https://github.com/spiffe/spire-controller-manager/blob/main/docs/clusterspiffeid-crd.md):
its `namespaceSelector` and `podSelector` must match (absent: everything), namespaces the
manager ignores are skipped (its `ignoreNamespaces`, by default kube-system, kube-public and
spire-system), a ClusterSPIFFEID with a `className` is only the business of the manager of
that class, and a `fallback` one applies only to pods no other ClusterSPIFFEID selects. The
templates see the manager's `TrustDomain`, `ClusterName`, `ClusterDomain` and the pod's
`PodMeta`, `PodSpec` (and the node's, unknown before scheduling).

A mesh that takes its certificates from SPIRE needs the ID it expects: Istio's SPIRE
integration (https://istio.io/latest/docs/ops/integrations/spire/) authorizes peers by
`spiffe://<trust domain>/ns/<namespace>/sa/<service account>`, so a pod of Istio's mesh
registered under another ID is a `spiffe-mismatch`.

Cloud: the service account annotations of EKS IAM roles for service accounts
(https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html),
GKE Workload Identity
(https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity) and Azure
Workload Identity, which only projects a token into pods labelled
`azure.workload.identity/use: "true"`
(https://azure.github.io/azure-workload-identity/docs/topics/service-account-labels-and-annotations.html).
One cloud identity bound to workloads of several namespaces joins trust boundaries the
namespaces were meant to keep apart (`shared-cloud-identity`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from microseg.model.cluster import Cluster
from microseg.model.gotemplate import TemplateError, parse, render
from microseg.model.identity import (
    AZURE_CLIENT_ID,
    AZURE_USE,
    EKS_ROLE,
    GKE_ACCOUNT,
    ClusterSPIFFEID,
    SpireSettings,
)
from microseg.model.objects import Namespace, Pod

__all__ = ["CloudIdentity", "SpireId", "cloud_identities", "spire_ids"]

_CLOUD = ((EKS_ROLE, "aws-iam-role"), (GKE_ACCOUNT, "gcp-service-account"))


@dataclass(frozen=True, slots=True)
class SpireId:
    spiffe_id: str
    """The rendered ID; parts unknown before the pod runs show as `<PodMeta.UID>`."""
    exact: bool
    source: str
    """The ClusterSPIFFEID's name."""


@dataclass(frozen=True, slots=True)
class CloudIdentity:
    provider: str
    """`aws-iam-role`, `gcp-service-account` or `azure-client-id`."""
    value: str
    active: bool = True
    """False for an Azure client ID on a pod without the `azure.workload.identity/use`
    label: the webhook does not give the pod a token."""

    def __str__(self) -> str:
        return f"{self.provider}:{self.value}" + ("" if self.active else " (inactive)")


def _template_data(pod: Pod, settings: SpireSettings) -> dict[str, Any]:
    """The manager's template data (spiffeid template `templateData`); a dict marked
    `__struct__` is a Go struct whose unmodelled fields are unknown, not missing."""
    meta: dict[str, Any] = {
        "__struct__": True,
        "Namespace": pod.namespace,
        "Labels": dict(pod.labels.items()),
    }
    if not pod.from_template:
        meta["Name"] = pod.name
    return {
        "TrustDomain": settings.trust_domain,
        "ClusterName": settings.cluster_name,
        "ClusterDomain": settings.cluster_domain,
        "PodMeta": meta,
        "PodSpec": {"__struct__": True, "ServiceAccountName": pod.service_account},
        "NodeMeta": {"__struct__": True},
        "NodeSpec": {"__struct__": True},
    }


def _selects(spec: ClusterSPIFFEID, pod: Pod, namespace: Namespace | None) -> bool:
    if spec.pod_selector is not None and not spec.pod_selector.matches(pod.labels):
        return False
    if spec.namespace_selector is not None:
        labels = namespace.labels if namespace is not None else None
        if labels is None or not spec.namespace_selector.matches(labels):
            return False
    return True


def _handled(spec: ClusterSPIFFEID, settings: SpireSettings) -> bool:
    """Whether the manager of `settings` reconciles `spec` (its className)."""
    if spec.class_name:
        return spec.class_name == settings.class_name
    return not settings.class_name or settings.watch_classless


def spire_ids(
    cluster: Cluster, pod: Pod, settings: SpireSettings | None = None
) -> tuple[SpireId, ...]:
    """The SPIFFE IDs SPIRE registers for `pod`, sorted by ClusterSPIFFEID name."""
    if not cluster.spiffe_ids:
        return ()
    chosen = settings or SpireSettings(trust_domain=cluster.mesh.trust_domain)
    if any(re.search(p, pod.namespace) for p in chosen.ignore_namespaces):
        return ()
    namespace = cluster.namespace(pod.namespace)
    matched = [
        s
        for s in sorted(cluster.spiffe_ids, key=lambda s: s.name)
        if _handled(s, chosen) and _selects(s, pod, namespace)
    ]
    if any(not s.fallback for s in matched):
        matched = [s for s in matched if not s.fallback]
    out = []
    data = _template_data(pod, chosen)
    for spec in matched:
        try:
            rendered = render(parse(spec.spiffe_id_template), data)
        except TemplateError:
            out.append(SpireId(f"<{spec.spiffe_id_template}>", False, spec.name))
            continue
        out.append(SpireId(rendered.text, rendered.exact, spec.name))
    return tuple(out)


def cloud_identities(cluster: Cluster, pod: Pod) -> tuple[CloudIdentity, ...]:
    """The cloud identities bound to the pod's service account."""
    account = next(
        (
            a
            for a in cluster.service_accounts
            if (a.namespace, a.name) == (pod.namespace, pod.service_account)
        ),
        None,
    )
    if account is None:
        return ()
    out = [
        CloudIdentity(provider, account.annotations[key])
        for key, provider in _CLOUD
        if account.annotations.get(key)
    ]
    client = account.annotations.get(AZURE_CLIENT_ID)
    if client:
        active = pod.labels.get(AZURE_USE) == "true"
        out.append(CloudIdentity("azure-client-id", client, active))
    return tuple(out)
