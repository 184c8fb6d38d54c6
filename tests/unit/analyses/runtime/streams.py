"""Replayable event streams in the formats' documented shapes, for the watch tests.

Falco: the JSON output of falco.yaml `json_output: true` (https://falco.org/docs/concepts/
outputs/formatting/; fields: https://falco.org/docs/reference/rules/supported-fields/), with
the rule names and tags of falcosecurity/rules. Audit: `audit.k8s.io/v1` Events as the log
backend writes them (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/). Flows:
Hubble's `hubble observe -o json` lines (`{"flow": {...}}`, api/v1/flow/flow.proto).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 12, 7, 16, 32, 56, tzinfo=UTC)


def stamp(seconds: float, nanos: bool = True) -> str:
    t = T0 + timedelta(seconds=seconds)
    if nanos:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def falco(
    seconds: float,
    rule: str = "Terminal shell in container",
    namespace: str = "frontend",
    pod: str = "webapp-7d9f8b6c5-x7k2p",
    priority: str = "Notice",
    tags: list[str] | None = None,
    cmdline: str = "bash",
    process: str = "bash",
) -> str:
    fields: dict[str, Any] = {
        "container.id": "f4c4cd7a2f03",
        "container.name": "webapp",
        "evt.type": "execve",
        "k8s.ns.name": namespace,
        "k8s.pod.name": pod,
        "proc.cmdline": cmdline,
        "proc.name": process,
        "proc.exepath": f"/bin/{process}",
        "proc.pname": "runc",
        "proc.tty": 34816,
        "user.loginuid": -1,
        "user.name": "root",
        "user.uid": 0,
    }
    return json.dumps(
        {
            "hostname": "worker-1",
            "output": f"{stamp(seconds)[11:29]}: {priority} A shell was spawned in a container "
            f"with an attached terminal (user=root process={process} command={cmdline} "
            f"k8s_ns={namespace} k8s_pod={pod})",
            "output_fields": fields,
            "priority": priority,
            "rule": rule,
            "source": "syscall",
            "tags": tags
            if tags is not None
            else ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
            "time": stamp(seconds),
        }
    )


def audit(
    seconds: float,
    verb: str = "get",
    resource: str = "secrets",
    namespace: str = "shop",
    name: str = "db-password",
    user: str = "system:serviceaccount:frontend:webapp",
    code: int = 200,
    stage: str = "ResponseComplete",
    subresource: str = "",
    audit_id: str | None = None,
    pod: str | None = "webapp-7d9f8b6c5-x7k2p",
    body: dict[str, Any] | None = None,
    api_group: str = "",
) -> str:
    ref: dict[str, Any] = {
        "resource": resource,
        "namespace": namespace,
        "name": name,
        "apiVersion": "v1",
    }
    if subresource:
        ref["subresource"] = subresource
    if api_group:
        ref["apiGroup"] = api_group
        ref["apiVersion"] = "v1"
    extra = {"authentication.kubernetes.io/pod-name": [pod]} if pod else {}
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Request" if body is not None else "Metadata",
        "auditID": audit_id or f"id-{seconds}-{verb}-{resource}-{subresource}-{code}",
        "stage": stage,
        "requestURI": f"/api/v1/namespaces/{namespace}/{resource}/{name}",
        "verb": verb,
        "user": {
            "username": user,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "extra": extra,
        },
        "sourceIPs": ["10.244.1.17"],
        "userAgent": "kubectl/v1.32.0",
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": stamp(seconds, nanos=False),
        "stageTimestamp": stamp(seconds + 0.002, nanos=False),
        "annotations": {
            "authorization.k8s.io/decision": "allow" if code != 403 else "forbid",
            "authorization.k8s.io/reason": "",
        },
    }
    if body is not None:
        event["requestObject"] = body
    return json.dumps(event)


def hubble(
    seconds: float,
    src_pod: str = "webapp-7d9f8b6c5-x7k2p",
    src_ns: str = "frontend",
    dst_ip: str = "10.244.2.9",
    port: int = 5432,
    verdict: str = "DROPPED",
    src_ip: str = "10.244.1.17",
) -> str:
    return json.dumps(
        {
            "flow": {
                "time": stamp(seconds),
                "verdict": verdict,
                "drop_reason_desc": "POLICY_DENIED" if verdict == "DROPPED" else "",
                "IP": {"source": src_ip, "destination": dst_ip, "ipVersion": "IPv4"},
                "l4": {"TCP": {"source_port": 40000 + port % 1000, "destination_port": port}},
                "source": {
                    "namespace": src_ns,
                    "pod_name": src_pod,
                    "workloads": [{"name": "webapp", "kind": "Deployment"}],
                },
                "destination": {},
                "Type": "L3_L4",
                "traffic_direction": "EGRESS",
                "is_reply": False,
            },
            "node_name": "worker-1",
            "time": stamp(seconds),
        }
    )
