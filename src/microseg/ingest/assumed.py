"""Objects a real cluster has that manifests rarely carry, added on request.

`--assume-system-pods`: an application's manifests allow DNS with an egress rule to
`kube-system` pods labelled `k8s-app: kube-dns`, but those pods are the cluster's, never in
the application's files, so the rule matches nothing and DNS shows as closed. The flag adds
the CoreDNS Deployment as kubeadm, kind, EKS, GKE and AKS install it (the label
`k8s-app: kube-dns`, container ports 53/UDP `dns`, 53/TCP `dns-tcp`, 9153/TCP `metrics`;
https://github.com/coredns/deployment/blob/master/kubernetes/coredns.yaml.sed), unless
the input already has a kube-dns pod.

`-n/--namespace`: objects without `metadata.namespace` land in the namespace given, as
`kubectl apply -n NS` puts them (cluster-scoped kinds excepted).
"""

from __future__ import annotations

from typing import Any

from microseg.ingest.documents import Document

__all__ = [
    "ASSUMED_FILE",
    "CLUSTER_SCOPED",
    "DNS_LABEL",
    "is_cluster_dns",
    "system_dns_document",
    "with_namespace",
]

ASSUMED_FILE = "<--assume-system-pods>"
DNS_LABEL = ("k8s-app", "kube-dns")
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "ClusterNetworkPolicy",
        "ClusterUserDefinedNetwork",
        "List",
        # Calico's cluster-scoped kinds (docs.tigera.io/calico/latest/reference/resources/)
        "GlobalNetworkPolicy",
        "StagedGlobalNetworkPolicy",
        "Tier",
        "GlobalNetworkSet",
        "HostEndpoint",
        "Profile",
        "FelixConfiguration",
    }
)


def with_namespace(doc: Document, namespace: str) -> None:
    """Give a namespaced object without `metadata.namespace` the namespace `-n` names.
    The metadata map is copied: equal maps may be shared between documents."""
    data = doc.data
    if str(data.get("kind")) in CLUSTER_SCOPED:
        return
    meta = data.get("metadata")
    if isinstance(meta, dict) and not meta.get("namespace"):
        data["metadata"] = {**meta, "namespace": namespace}


def _pod_labels(data: dict[str, Any]) -> Any:
    if data.get("kind") == "Pod":
        meta = data.get("metadata")
    else:
        spec = data.get("spec")
        template = spec.get("template") if isinstance(spec, dict) else None
        meta = template.get("metadata") if isinstance(template, dict) else None
    return meta.get("labels") if isinstance(meta, dict) else None


def is_cluster_dns(data: dict[str, Any]) -> bool:
    """Whether a workload object is the cluster DNS: kube-system pods with k8s-app=kube-dns."""
    meta = data.get("metadata")
    if not isinstance(meta, dict) or meta.get("namespace") != "kube-system":
        return False
    labels = _pod_labels(data)
    return isinstance(labels, dict) and labels.get(DNS_LABEL[0]) == DNS_LABEL[1]


def system_dns_document() -> Document:
    """The CoreDNS Deployment as the common distributions install it."""
    labels = {DNS_LABEL[0]: DNS_LABEL[1]}
    ports = [
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
    ]
    data: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": "coredns",
                    "containers": [{"name": "coredns", "ports": ports}],
                },
            },
        },
    }
    return Document(data, ASSUMED_FILE, 0, None)
