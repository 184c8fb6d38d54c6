"""The webhook's Kubernetes objects, as `microseg webhook install` writes them (the Helm chart
in deploy/helm/microseg renders the same objects; a test holds the two to one shape).

- Deployment: 3 replicas spread over nodes (preferred pod anti-affinity on the hostname),
  the restricted Pod Security Standard met (non-root, seccomp RuntimeDefault, all
  capabilities dropped, no privilege escalation, read-only root), probes over HTTPS;
- PodDisruptionBudget: at most one replica down at a time;
- Service: 443 to the pods' 8443;
- ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1, kubernetes.io/docs/
  reference/access-authn-authz/extensible-admission-controllers/): Pods and every
  pod-template kind on CREATE/UPDATE, NetworkPolicies, guardrail-tier policies and
  Namespaces also on DELETE; `namespaceSelector` leaves out kube-system and the webhook's own
  namespace (so the webhook can never block its own recovery); `matchConditions` leave out
  the webhook's own service account and the namespace controller (deleting a namespace
  deletes its policies, which must not be refused); `sideEffects: None` (a dry run changes
  nothing: the snapshot only follows real changes); `timeoutSeconds: 5`; `failurePolicy`
  Fail with `--fail-closed` (nothing is admitted while the webhook is down) or Ignore (the
  default: admission goes on without guardrails while it is down);
- TLS: a Secret with a serving certificate from a self-signed CA whose certificate is the
  caBundle, or with `--cert-manager` the Issuers and Certificates of cert-manager and its
  `cert-manager.io/inject-ca-from` annotation instead.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["InstallOptions", "install_objects", "install_yaml"]

NAME = "microseg-webhook"
WEBHOOK = "guardrails.microseg.dev"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "microseg"}
MOUNT = "/etc/microseg"


@dataclass(frozen=True, slots=True)
class InstallOptions:
    namespace: str = "microseg"
    image: str = "ghcr.io/microseg/microseg:0.1.0"
    replicas: int = 3
    fail_closed: bool = False
    cert_manager: bool = False
    ca_cert: str = ""
    cert: str = ""
    key: str = ""
    guardrails: dict[str, str] = field(default_factory=dict)
    """File name -> text of every guardrail and intent file, mounted side by side."""
    rule_files: tuple[str, ...] = ()
    """The names among `guardrails` given to --guardrails."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _meta(name: str, o: InstallOptions, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": o.namespace, "labels": dict(LABELS), **extra}


def _deployment(o: InstallOptions) -> dict[str, Any]:
    args = ["webhook", "serve", "--port", "8443"]
    for f in o.rule_files:
        args += ["--guardrails", f"{MOUNT}/guardrails/{f}"]
    args += ["--tls-cert", f"{MOUNT}/tls/tls.crt", "--tls-key", f"{MOUNT}/tls/tls.key"]
    probe = {"httpGet": {"path": "/healthz", "port": "https", "scheme": "HTTPS"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME, o),
        "spec": {
            "replicas": o.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {
                                            "matchLabels": {"app.kubernetes.io/name": NAME}
                                        },
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [
                        {
                            "name": "webhook",
                            "image": o.image,
                            "args": args,
                            "ports": [{"name": "https", "containerPort": 8443, "protocol": "TCP"}],
                            "readinessProbe": {
                                **probe,
                                "httpGet": {**probe["httpGet"], "path": "/readyz"},
                                "periodSeconds": 5,
                            },
                            "livenessProbe": {**probe, "periodSeconds": 10},
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "tls", "mountPath": f"{MOUNT}/tls", "readOnly": True},
                                {
                                    "name": "guardrails",
                                    "mountPath": f"{MOUNT}/guardrails",
                                    "readOnly": True,
                                },
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "tls", "secret": {"secretName": f"{NAME}-tls"}},
                        {"name": "guardrails", "configMap": {"name": f"{NAME}-guardrails"}},
                    ],
                },
            },
        },
    }


RULES = [
    (
        [""],
        ["v1"],
        ["CREATE", "UPDATE"],
        ["pods", "pods/ephemeralcontainers", "replicationcontrollers"],
        "Namespaced",
    ),
    (
        ["apps"],
        ["v1"],
        ["CREATE", "UPDATE"],
        ["deployments", "statefulsets", "daemonsets", "replicasets"],
        "Namespaced",
    ),
    (["batch"], ["v1"], ["CREATE", "UPDATE"], ["jobs", "cronjobs"], "Namespaced"),
    (
        ["networking.k8s.io"],
        ["v1"],
        ["CREATE", "UPDATE", "DELETE"],
        ["networkpolicies"],
        "Namespaced",
    ),
    (
        ["policy.networking.k8s.io"],
        ["v1alpha1", "v1alpha2"],
        ["CREATE", "UPDATE", "DELETE"],
        ["adminnetworkpolicies", "baselineadminnetworkpolicies", "clusternetworkpolicies"],
        "Cluster",
    ),
    ([""], ["v1"], ["CREATE", "UPDATE", "DELETE"], ["namespaces"], "Cluster"),
]


def _webhook_configuration(o: InstallOptions) -> dict[str, Any]:
    client: dict[str, Any] = {
        "service": {"namespace": o.namespace, "name": NAME, "path": "/validate", "port": 443}
    }
    meta: dict[str, Any] = {"name": "microseg-guardrails", "labels": dict(LABELS)}
    if o.cert_manager:
        meta["annotations"] = {"cert-manager.io/inject-ca-from": f"{o.namespace}/{NAME}-tls"}
    else:
        client["caBundle"] = _b64(o.ca_cert)
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": meta,
        "webhooks": [
            {
                "name": WEBHOOK,
                "admissionReviewVersions": ["v1"],
                "clientConfig": client,
                "rules": [
                    {
                        "apiGroups": g,
                        "apiVersions": v,
                        "operations": ops,
                        "resources": res,
                        "scope": scope,
                    }
                    for g, v, ops, res, scope in RULES
                ],
                "failurePolicy": "Fail" if o.fail_closed else "Ignore",
                "matchPolicy": "Equivalent",
                "sideEffects": "None",
                "timeoutSeconds": 5,
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "NotIn",
                            "values": ["kube-system", o.namespace],
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "not-the-webhook-itself",
                        "expression": "request.userInfo.username != "
                        f"'system:serviceaccount:{o.namespace}:{NAME}'",
                    },
                    {
                        "name": "not-namespace-cleanup",
                        "expression": "request.userInfo.username != "
                        "'system:serviceaccount:kube-system:namespace-controller'",
                    },
                ],
            }
        ],
    }


def _cert_manager(o: InstallOptions) -> list[dict[str, Any]]:
    """A self-signed root, a CA Issuer from it, and the serving Certificate (cert-manager.io/v1)."""
    dns = [f"{NAME}.{o.namespace}.svc", f"{NAME}.{o.namespace}.svc.cluster.local"]
    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": _meta(f"{NAME}-selfsigned", o),
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": _meta(f"{NAME}-ca", o),
            "spec": {
                "isCA": True,
                "commonName": "microseg webhook CA",
                "secretName": f"{NAME}-ca",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {"name": f"{NAME}-selfsigned", "kind": "Issuer"},
            },
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": _meta(f"{NAME}-ca", o),
            "spec": {"ca": {"secretName": f"{NAME}-ca"}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": _meta(f"{NAME}-tls", o),
            "spec": {
                "secretName": f"{NAME}-tls",
                "dnsNames": dns,
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {"name": f"{NAME}-ca", "kind": "Issuer"},
            },
        },
    ]


def install_objects(o: InstallOptions) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": o.namespace,
                "labels": {
                    **LABELS,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(NAME, o),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(f"{NAME}-guardrails", o),
            "data": dict(o.guardrails),
        },
    ]
    if o.cert_manager:
        objects += _cert_manager(o)
    else:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(f"{NAME}-tls", o),
                "type": "kubernetes.io/tls",
                "data": {
                    "tls.crt": _b64(o.cert),
                    "tls.key": _b64(o.key),
                    "ca.crt": _b64(o.ca_cert),
                },
            }
        )
    objects += [
        _deployment(o),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(NAME, o),
            "spec": {
                "maxUnavailable": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(NAME, o),
            "spec": {
                "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
            },
        },
        _webhook_configuration(o),
    ]
    return objects


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the mounted guardrail files) as literal blocks, readable in a diff."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.startswith(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def install_yaml(objects: list[dict[str, Any]]) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
