"""Regenerate fixtures/*.json: AdmissionReview requests as the API server sends them, around
objects made by kubectl (`--dry-run=client -o json`, so with kubectl's own defaults and
field order).

    .venv/bin/python tests/unit/webhook/make_fixtures.py

kubectl makes Deployments, Jobs, CronJobs, Namespaces and ConfigMaps (the kind
the guardrails do not judge). `kubectl run` and `create -f --dry-run=client` need a server, and
there is no generator for the other pod-template kinds or for policies, so the Pod is the
Deployment's template and StatefulSet, DaemonSet, ReplicaSet and ReplicationController are
kubectl's Deployment reshaped as the API defines them, and NetworkPolicy and AdminNetworkPolicy are written here. The envelope follows the
AdmissionRequest reference (kubernetes.io/docs/reference/access-authn-authz/
extensible-admission-controllers/, "Request").
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "fixtures"
NS = "shop"
RESOURCES = {
    "Pod": ("", "v1", "pods"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "ReplicationController": ("", "v1", "replicationcontrollers"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "Namespace": ("", "v1", "namespaces"),
    "ConfigMap": ("", "v1", "configmaps"),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies"),
    "AdminNetworkPolicy": ("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies"),
}


def kubectl(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["kubectl", *args, "--dry-run=client", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def reshaped(deployment: dict[str, Any], kind: str) -> dict[str, Any]:
    obj = copy.deepcopy(deployment)
    obj["kind"] = kind
    spec = obj["spec"]
    spec.pop("strategy", None)
    if kind == "StatefulSet":
        spec["serviceName"] = obj["metadata"]["name"]
    elif kind == "DaemonSet":
        spec.pop("replicas", None)
    elif kind == "ReplicationController":
        obj["apiVersion"] = "v1"
        spec["selector"] = spec["selector"]["matchLabels"]
    return obj


def objects() -> dict[str, dict[str, Any]]:
    deployment = kubectl(
        "create", "deployment", "web", "--image=nginx:1.27", "--port=8080", "-n", NS
    )
    out = {
        "Deployment": deployment,
        "Job": kubectl("create", "job", "report", "--image=nginx:1.27", "-n", NS),
        "CronJob": kubectl(
            "create", "cronjob", "report", "--image=nginx:1.27", "--schedule=0 * * * *", "-n", NS
        ),
        "Namespace": kubectl("create", "namespace", "team-a"),
        "ConfigMap": kubectl(
            "create", "configmap", "settings", "--from-literal=mode=prod", "-n", NS
        ),
    }
    for kind in ("StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"):
        out[kind] = reshaped(deployment, kind)
    template = deployment["spec"]["template"]
    out["Pod"] = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {**template["metadata"], "name": "web", "namespace": NS},
        "spec": template["spec"],
        "status": {},
    }
    out["NetworkPolicy"] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "postgres-from-frontend", "namespace": NS},
        "spec": {
            "podSelector": {"matchLabels": {"app": "postgres"}},
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"tenant": "web"}}}],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }
            ],
            "policyTypes": ["Ingress"],
        },
    }
    out["AdminNetworkPolicy"] = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "allow-frontend-to-db"},
        "spec": {
            "priority": 10,
            "subject": {"namespaces": {"matchLabels": {"tenant": "shop"}}},
            "ingress": [
                {
                    "name": "from-frontend",
                    "action": "Allow",
                    "from": [{"namespaces": {"matchLabels": {"tenant": "web"}}}],
                }
            ],
        },
    }
    return out


def review(obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    group, version, resource = RESOURCES[obj["kind"]]
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    namespaced = obj["kind"] not in ("Namespace", "AdminNetworkPolicy")
    request: dict[str, Any] = {
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"microseg/{obj['kind']}")),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": obj["metadata"]["name"],
        "operation": operation,
        "userInfo": {
            "username": "kubernetes-admin",
            "groups": ["kubeadm:cluster-admins", "system:authenticated"],
        },
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {
            "apiVersion": "meta.k8s.io/v1",
            "kind": "CreateOptions",
            "fieldManager": "kubectl-create",
        },
    }
    if namespaced:
        request["namespace"] = obj["metadata"].get("namespace", NS)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for kind, obj in objects().items():
        (HERE / f"{kind}.json").write_text(json.dumps(review(obj), indent=2) + "\n")


if __name__ == "__main__":
    main()
