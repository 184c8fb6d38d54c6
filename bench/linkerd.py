"""Linkerd mesh layer figures: a generated Linkerd cluster (namespaces injected, each with
Servers on two of three ports, AuthorizationPolicies with MeshTLS, Network and
ServiceAccount authentications, a route per namespace, default policies varied per
namespace), timed through load, the combined index (network and Linkerd layers) and the
all-pairs matrix. Results in bench/results/linkerd.json:

    .venv/bin/python bench/linkerd.py --workloads 1000 --namespaces 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import microseg
from microseg.engine import Connectivity, Layer

POLICIES = ("all-unauthenticated", "cluster-authenticated", "all-authenticated", "deny")


def generate(workloads: int, namespaces: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = []
    names = [f"ns{i}" for i in range(namespaces)]
    for ns in names:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns,
                    "annotations": {
                        "linkerd.io/inject": "enabled",
                        "config.linkerd.io/default-inbound-policy": rng.choice(POLICIES),
                    },
                },
            }
        )
    for w in range(workloads):
        ns = names[w % namespaces]
        app = f"app{w}"
        for r in range(2):
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{app}-{r}",
                        "namespace": ns,
                        "labels": {"app": app, "tier": f"t{w % 5}"},
                    },
                    "spec": {
                        "serviceAccountName": f"sa{w % 7}",
                        "containers": [
                            {
                                "name": "c",
                                "image": "i",
                                "ports": [
                                    {"containerPort": 8080, "name": "http"},
                                    {"containerPort": 9090, "name": "grpc"},
                                    {"containerPort": 5432},
                                ],
                                "readinessProbe": {"httpGet": {"port": 8080, "path": "/ready"}},
                            }
                        ],
                    },
                    "status": {"podIP": f"10.{(w >> 8) & 255}.{w & 255}.{r + 1}"},
                }
            )
    for i, ns in enumerate(names):
        for tier in range(5):
            for port, proto in (("http", "HTTP/1"), (5432, "opaque")):
                name = f"s-{tier}-{port}"
                docs.append(
                    {
                        "apiVersion": "policy.linkerd.io/v1beta3",
                        "kind": "Server",
                        "metadata": {"name": name, "namespace": ns},
                        "spec": {
                            "podSelector": {"matchLabels": {"tier": f"t{tier}"}},
                            "port": port,
                            "proxyProtocol": proto,
                        },
                    }
                )
                peer = names[(i + tier + 1) % namespaces]
                docs.append(
                    {
                        "apiVersion": "policy.linkerd.io/v1alpha1",
                        "kind": "MeshTLSAuthentication",
                        "metadata": {"name": f"m-{name}", "namespace": ns},
                        "spec": {
                            "identityRefs": [
                                {"kind": "ServiceAccount", "name": f"sa{tier}", "namespace": peer},
                                {"kind": "Namespace", "name": ns},
                            ]
                        },
                    }
                )
                refs: list[dict[str, str]] = [
                    {
                        "group": "policy.linkerd.io",
                        "kind": "MeshTLSAuthentication",
                        "name": f"m-{name}",
                    }
                ]
                if tier % 2:
                    refs.append(
                        {
                            "group": "policy.linkerd.io",
                            "kind": "NetworkAuthentication",
                            "name": "pods",
                        }
                    )
                docs.append(
                    {
                        "apiVersion": "policy.linkerd.io/v1alpha1",
                        "kind": "AuthorizationPolicy",
                        "metadata": {"name": f"ap-{name}", "namespace": ns},
                        "spec": {
                            "targetRef": {
                                "group": "policy.linkerd.io",
                                "kind": "Server",
                                "name": name,
                            },
                            "requiredAuthenticationRefs": refs,
                        },
                    }
                )
        docs.append(
            {
                "apiVersion": "policy.linkerd.io/v1alpha1",
                "kind": "NetworkAuthentication",
                "metadata": {"name": "pods", "namespace": ns},
                "spec": {"networks": [{"cidr": "10.0.0.0/8", "except": [f"10.{i % 4}.0.0/16"]}]},
            }
        )
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="bench/results/linkerd.json")
    args = parser.parse_args(argv)
    docs = generate(args.workloads, args.namespaces, args.seed)
    with tempfile.TemporaryDirectory(prefix="microseg-linkerd-") as folder:
        path = Path(folder) / "cluster.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
        cpu0, t0 = time.process_time(), time.perf_counter()
        cluster = microseg.load([str(path)])
        t1 = time.perf_counter()
        conn = Connectivity.build(cluster).with_layer(Layer.BOTH)
        t2 = time.perf_counter()
        matrix = conn.pod_to_pod()
        t3 = time.perf_counter()
        cpu = time.process_time() - cpu0
    result = {
        "pods": len(cluster.pods),
        "workloads": len(cluster.workloads),
        "namespaces": args.namespaces,
        "servers": len(cluster.linkerd.servers),
        "authorizationPolicies": len(cluster.linkerd.authorization_policies),
        "classes": conn.n_classes,
        "portAtoms": len(conn.ports.atoms),
        "classPairsAllowedSomePort": int(
            matrix.reshape(matrix.shape[0], matrix.shape[1], -1).any(axis=2).sum()
        ),
        "classPairsPortsAllowed": f"{float(matrix.mean()):.3f}",
        "seconds": {
            "load": round(t1 - t0, 3),
            "index": round(t2 - t1, 3),
            "matrix": round(t3 - t2, 3),
        },
        "cpuSeconds": round(cpu, 3),
        "peakRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load1": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
