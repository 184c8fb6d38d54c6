"""Pods and every pod-template kind built around one pod spec, for the guardrail tests."""

from __future__ import annotations

import copy
from typing import Any

from microseg.errors import Origin
from microseg.ingest.podspec import parse_workload
from microseg.model.podspec import POD_TEMPLATE_PATHS, WorkloadObject

KINDS = tuple(POD_TEMPLATE_PATHS)
_API = {
    "Pod": "v1",
    "ReplicationController": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def restricted_spec() -> dict[str, Any]:
    """A pod spec that meets the restricted level (and so baseline)."""
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "ghcr.io/acme/app:1.0",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }


def wrap(kind: str, spec: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """`spec` (and pod `meta`) as a `kind` object in namespace shop."""
    pod_meta = {"labels": {"app": "app"}, **(meta or {})}
    template = {"metadata": pod_meta, "spec": copy.deepcopy(spec)}
    obj: dict[str, Any] = {
        "apiVersion": _API[kind],
        "kind": kind,
        "metadata": {"name": "app", "namespace": "shop"},
    }
    if kind == "Pod":
        obj["metadata"].update(pod_meta)
        obj["spec"] = template["spec"]
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        obj["spec"] = {"selector": {"matchLabels": {"app": "app"}}, "template": template}
    return obj


def workload(kind: str, spec: dict[str, Any], meta: dict[str, Any] | None = None) -> WorkloadObject:
    return parse_workload(wrap(kind, spec, meta), Origin(kind=kind))


def prefix(kind: str) -> tuple[str, ...]:
    return (*POD_TEMPLATE_PATHS[kind], "spec")
