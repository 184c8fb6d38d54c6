"""Sources of workload identity beside the meshes: SPIRE registrations and cloud workload
identities bound to service accounts.

- SPIRE: spire-controller-manager's `ClusterSPIFFEID` (spire.spiffe.io/v1alpha1,
  github.com/spiffe/spire-controller-manager docs/clusterspiffeid-crd.md) registers the
  pods its selectors pick with a SPIFFE ID rendered from a Go text/template.
- Cloud: the annotations that bind a Kubernetes service account to a cloud identity (AWS
  EKS IAM roles for service accounts, GKE Workload Identity, Azure Workload Identity, which
  also needs the pod label `azure.workload.identity/use: "true"`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.errors import Origin
from microseg.model.selectors import LabelSelector

__all__ = [
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_USE",
    "CLOUD_ANNOTATIONS",
    "EKS_ROLE",
    "GKE_ACCOUNT",
    "ClusterSPIFFEID",
    "SpireSettings",
]

# docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
EKS_ROLE = "eks.amazonaws.com/role-arn"
# cloud.google.com/kubernetes-engine/docs/how-to/workload-identity (linking to an IAM
# service account)
GKE_ACCOUNT = "iam.gke.io/gcp-service-account"
# azure.github.io/azure-workload-identity/docs/topics/service-account-labels-and-annotations.html
AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_TENANT_ID = "azure.workload.identity/tenant-id"
AZURE_USE = "azure.workload.identity/use"
CLOUD_ANNOTATIONS = (EKS_ROLE, GKE_ACCOUNT, AZURE_CLIENT_ID, AZURE_TENANT_ID)
"""The service account annotations microseg keeps."""


@dataclass(frozen=True, slots=True)
class ClusterSPIFFEID:
    """One ClusterSPIFFEID (cluster-scoped). An absent selector selects everything."""

    name: str
    spiffe_id_template: str
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    workload_selector_templates: tuple[str, ...] = ()
    dns_name_templates: tuple[str, ...] = ()
    federates_with: tuple[str, ...] = ()
    class_name: str = ""
    fallback: bool = False
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class SpireSettings:
    """The controller manager's configuration (docs/spire-controller-manager-config.md):
    the trust domain and cluster name templates read, the class it syncs, and the
    namespaces it ignores (regular expressions, matched anywhere in the name)."""

    trust_domain: str = "cluster.local"
    cluster_name: str = ""
    cluster_domain: str = "cluster.local"
    class_name: str = ""
    watch_classless: bool = False
    ignore_namespaces: tuple[str, ...] = ("kube-system", "kube-public", "spire-system")
