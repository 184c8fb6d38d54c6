"""Seeded, deterministic synthetic clusters for the microseg benchmarks.

The same (workloads, replicas, policies, seed, pods_list, guardrails) always gives byte-identical files,
so timings taken on different days or machines compare the same input. Everything is built
from plain dicts; pods go out through json's one-shot C encoder and YAML through a small
block-style writer (`to_yaml`), because PyYAML represents every scalar in Python even with
CSafeDumper. The generator must never be the slow part of a benchmark: 150,000 pods and
50,000 policies take about 17 s. `--check` reads every YAML file back with PyYAML.

Layout of OUT:

    namespaces.yaml        about W/20 labelled namespaces, plus kube-system
    workloads.yaml         W Deployments (default), plus the coredns Deployment
    pods.json              with --pods-list instead: every replica as a Pod in one v1 List,
                           as `kubectl get pods -A -o json` gives it (coredns included)
    policies/<ns>.yaml     M NetworkPolicies, one file per namespace
    policies/guardrails.yaml
                           with --guardrails N: N AdminNetworkPolicies (priorities 10, 20,
                           ...) and the BaselineAdminNetworkPolicy `default`
    .generated.json        the parameters and counts (a dot file: microseg skips it)

Every policy is valid per the Kubernetes API (and the v1alpha1 CRDs), because microseg validates strictly and a
benchmark that stops at the first diagnostic measures nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["GENERATOR_VERSION", "MARKER", "generate"]

Obj = dict[str, Any]

MARKER = ".generated.json"
# A digest of this file's source: run.py reuses a generated cluster only when it matches,
# so a change here can never be benchmarked against a cluster made by the old code.
GENERATOR_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
WORKLOADS_PER_NAMESPACE = 20
COREDNS_REPLICAS = 2
TEAMS = ("payments", "checkout", "search", "identity", "catalog", "billing", "media", "ads")
ENVS = ("prod", "staging", "dev")
TENANTS = 7
# The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
POD_NETWORK_BASE = (10 << 24) | (244 << 16)  # 10.244.0.0/14: room for 262,144 pod IPs
NODE_NETWORK_BASE = (172 << 24) | (20 << 16)  # 172.20.0.0/16
PODS_PER_NODE = 30
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

# Container ports per tier: (name, protocol, number). Names are IANA_SVC_NAMEs so policies
# can refer to them; UDP and SCTP ports make protocol handling part of every run.
TIER_PORTS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "web": (("http", "TCP", 8080), ("metrics", "TCP", 9090)),
    "api": (("http", "TCP", 8080), ("grpc", "TCP", 9000), ("metrics", "TCP", 9090)),
    "db": (("postgres", "TCP", 5432), ("metrics", "TCP", 9187)),
    "cache": (("redis", "TCP", 6379),),
    "worker": (("metrics", "TCP", 9090), ("statsd", "UDP", 8125)),
    "gateway": (("https", "TCP", 8443), ("sip", "UDP", 5060), ("diameter", "SCTP", 3868)),
}
TIER_WEIGHTS = {"web": 4, "api": 5, "db": 2, "cache": 2, "worker": 3, "gateway": 1}
IMAGES = {
    "web": "nginx:1.27",
    "api": "ghcr.io/example/api:2.4.1",
    "db": "postgres:16",
    "cache": "redis:7.2",
    "worker": "ghcr.io/example/worker:2.4.1",
    "gateway": "envoyproxy/envoy:v1.31",
}
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.11.1"
# Allowed tier flows (source, destination, destination port names): web -> api -> db.
TIER_FLOWS = (
    ("web", "api", ("http", "grpc")),
    ("api", "db", ("postgres",)),
    ("api", "cache", ("redis",)),
    ("worker", "db", ("postgres",)),
    ("worker", "cache", ("redis",)),
    ("gateway", "web", ("http",)),
    ("gateway", "api", ("grpc",)),
)
PORT_RANGES: tuple[Obj, ...] = (
    {"protocol": "TCP", "port": 30000, "endPort": 32767},
    {"protocol": "UDP", "port": 5000, "endPort": 5100},
    {"protocol": "SCTP", "port": 3868, "endPort": 3870},
    {"protocol": "TCP", "port": 8000, "endPort": 8100},
)
DNS_PEER: Obj = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
DNS_PORTS: list[Obj] = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class App:
    namespace: str
    name: str
    tier: str
    labels: dict[str, str]
    ports: tuple[tuple[str, str, int], ...]


@dataclass(slots=True)
class Cluster:
    """What the policy builders choose from: namespaces, their apps, and partner ranges."""

    namespaces: list[Namespace]
    apps: dict[str, list[App]]
    partner_cidrs: list[tuple[str, str]]
    rng: random.Random
    # Calico objects in the subset NCA 2.1.0 reads: no tiers, no serviceAccounts, no
    # projectcalico.org/* labels, distinct orders (make_calico).
    nca_subset: bool = False

    def app(self, ns: str, tier: str | None = None) -> App:
        """A random app of `ns`, of `tier` when the namespace has one."""
        pool = self.apps[ns]
        if tier is not None:
            pool = [a for a in pool if a.tier == tier] or pool
        return self.rng.choice(pool)


# ---------------------------------------------------------------- namespaces and workloads


def make_namespaces(count: int) -> list[Namespace]:
    """Labels vary on team, env and tenant so namespaceSelectors match different subsets."""
    out = []
    for i in range(count):
        # 8 teams and 3 envs are coprime, so even a few namespaces mix prod, staging and dev.
        team, env = TEAMS[i % len(TEAMS)], ENVS[i % len(ENVS)]
        name = f"{team}-{env}-{i}"
        labels = {
            "kubernetes.io/metadata.name": name,
            "team": team,
            "env": env,
            "tenant": f"tenant-{i % TENANTS}",
        }
        out.append(Namespace(name, labels))
    return out


def make_apps(namespaces: list[Namespace], workloads: int, rng: random.Random) -> list[App]:
    """Workloads fill the namespaces in contiguous blocks; tiers and versions are drawn."""
    tiers, weights = list(TIER_WEIGHTS), list(TIER_WEIGHTS.values())
    apps = []
    for w in range(workloads):
        ns = namespaces[w * len(namespaces) // workloads]
        tier = rng.choices(tiers, weights)[0]
        name = f"{tier}-{w}"
        labels = {
            "app": name,
            "tier": tier,
            "version": "canary" if rng.random() < 0.1 else rng.choice(("v1", "v2")),
            "team": ns.labels["team"],
        }
        if rng.random() < 0.5:
            labels["monitoring"] = "enabled"
        apps.append(App(ns.name, name, tier, labels, TIER_PORTS[tier]))
    return apps


def coredns_app() -> App:
    return App(
        "kube-system",
        "coredns",
        "infra",
        {"k8s-app": "kube-dns"},
        (("dns", "UDP", 53), ("dns-tcp", "TCP", 53), ("metrics", "TCP", 9153)),
    )


def containers(app: App) -> list[Obj]:
    ports = [{"name": n, "containerPort": p, "protocol": proto} for n, proto, p in app.ports]
    if app.tier not in IMAGES:  # coredns
        return [{"name": app.name, "image": COREDNS_IMAGE, "ports": ports}]
    return [{"name": app.tier, "image": IMAGES[app.tier], "ports": ports}]


def selector_labels(app: App) -> dict[str, str]:
    """The Deployment selector must match its template: `app` where set, else all labels."""
    return {"app": app.labels["app"]} if "app" in app.labels else dict(app.labels)


def deployment(app: App, replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app.name, "namespace": app.namespace, "labels": app.labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(app)},
            "template": {
                "metadata": {"labels": app.labels},
                "spec": {"containers": containers(app)},
            },
        },
    }


def template_hash(app: App) -> str:
    """A stable stand-in for the controller's pod-template-hash (10 suffix characters)."""
    digest = hashlib.sha256(f"{app.namespace}/{app.name}".encode()).digest()
    return "".join(SUFFIX_ALPHABET[b % len(SUFFIX_ALPHABET)] for b in digest[:10])


def ip(base: int, n: int) -> str:
    value = base + n
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def make_uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def pods(app: App, replicas: int, first_index: int, rng: random.Random) -> list[Obj]:
    """The app's replicas as a ReplicaSet-owned Pod each, with IPs, node and named ports."""
    pth = template_hash(app)
    rs_name = f"{app.name}-{pth}"
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": rs_name,
        "uid": make_uid(rng),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    labels = {**app.labels, "pod-template-hash": pth}
    spec_containers = containers(app)
    out = []
    for r in range(replicas):
        n = first_index + r
        suffix = "".join(rng.choice(SUFFIX_ALPHABET) for _ in range(5))
        pod_ip = ip(POD_NETWORK_BASE, n + 2)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{rs_name}-{suffix}",
                    "namespace": app.namespace,
                    "uid": make_uid(rng),
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "spec": {
                    "containers": spec_containers,
                    "nodeName": f"node-{n // PODS_PER_NODE}",
                    "serviceAccountName": "default",
                    "restartPolicy": "Always",
                },
                "status": {
                    "phase": "Running",
                    "hostIP": ip(NODE_NETWORK_BASE, n // PODS_PER_NODE + 10),
                    "podIP": pod_ip,
                    "podIPs": [{"ip": pod_ip}],
                },
            }
        )
    return out


# ---------------------------------------------------------------- NetworkPolicies


def np_doc(ns: str, name: str, spec: Obj) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def app_or_tier(c: Cluster, app: App) -> Obj:
    """Half the policies pick one app, half a whole tier: both shapes are common."""
    if c.rng.random() < 0.5:
        return {"matchLabels": {"app": app.name}}
    return {"matchLabels": {"tier": app.tier}}


def default_deny(c: Cluster, ns: Namespace) -> Obj:
    """Ingress-only deny, or (in prod) deny both ways but keep DNS to kube-system."""
    if ns.labels["env"] != "prod":
        return {"podSelector": {}, "policyTypes": ["Ingress"]}
    return {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "egress": [{"to": [DNS_PEER], "ports": DNS_PORTS}],
    }


def tier_ingress(c: Cluster, ns: Namespace) -> Obj:
    src, dst, names = c.rng.choice(TIER_FLOWS)
    target = c.app(ns.name, dst)
    selector = {"matchLabels": {"tier": dst}} if target.tier != dst else app_or_tier(c, target)
    return {
        "podSelector": selector,
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"tier": src}}}],
                "ports": [{"protocol": "TCP", "port": n} for n in names],
            }
        ],
    }


def tier_egress(c: Cluster, ns: Namespace) -> Obj:
    """The egress half of a tier flow, needed where prod namespaces deny egress."""
    src, dst, names = c.rng.choice(TIER_FLOWS)
    return {
        "podSelector": {"matchLabels": {"tier": src}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"podSelector": {"matchLabels": {"tier": dst}}}],
                "ports": [{"protocol": "TCP", "port": n} for n in names],
            },
            {"to": [DNS_PEER], "ports": DNS_PORTS},
        ],
    }


def app_to_app(c: Cluster, ns: Namespace) -> Obj:
    dst, src = c.app(ns.name), c.app(ns.name)
    name, proto, _ = dst.ports[0]
    return {
        "podSelector": {"matchLabels": {"app": dst.name}},
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"app": src.name}}}],
                "ports": [{"protocol": proto, "port": name}],
            }
        ],
    }


def cross_namespace(c: Cluster, ns: Namespace) -> Obj:
    """namespaceSelector alone, with a podSelector, or by tenant with an expression."""
    dst = c.app(ns.name)
    name, proto, number = dst.ports[0]
    variant = c.rng.randrange(3)
    if variant == 0:
        peer: Obj = {"namespaceSelector": {"matchLabels": {"team": c.rng.choice(TEAMS)}}}
        port: Obj = {"protocol": proto, "port": number}
    elif variant == 1:
        peer = {
            "namespaceSelector": {"matchLabels": {"env": c.rng.choice(ENVS)}},
            "podSelector": {"matchLabels": {"tier": c.rng.choice(("web", "api", "gateway"))}},
        }
        port = {"protocol": proto, "port": name}
    else:
        peer = {
            "namespaceSelector": {"matchLabels": {"tenant": ns.labels["tenant"]}},
            "podSelector": {
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "worker"]}]
            },
        }
        port = {"protocol": proto, "port": name}
    return {"podSelector": app_or_tier(c, dst), "ingress": [{"from": [peer], "ports": [port]}]}


def ip_block(c: Cluster, ns: Namespace) -> Obj:
    """Internet egress minus private ranges, or ingress from a partner range with a hole."""
    target = c.app(ns.name, c.rng.choice(("gateway", "web", "api")))
    if c.rng.random() < 0.5:
        return {
            "podSelector": app_or_tier(c, target),
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                },
                {"to": [DNS_PEER], "ports": DNS_PORTS},
            ],
        }
    cidr, hole = c.rng.choice(c.partner_cidrs)
    _, proto, number = target.ports[0]
    return {
        "podSelector": app_or_tier(c, target),
        "ingress": [
            {
                "from": [{"ipBlock": {"cidr": cidr, "except": [hole]}}],
                "ports": [{"protocol": proto, "port": number}],
            }
        ],
    }


def port_range(c: Cluster, ns: Namespace) -> Obj:
    target = c.app(ns.name)
    ports = c.rng.sample(PORT_RANGES, c.rng.randint(1, len(PORT_RANGES)))
    peer: Obj = (
        {"podSelector": {}}
        if c.rng.random() < 0.5
        else {"namespaceSelector": {"matchLabels": {"team": c.rng.choice(TEAMS)}}}
    )
    return {"podSelector": app_or_tier(c, target), "ingress": [{"from": [peer], "ports": ports}]}


def expressions(c: Cluster, ns: Namespace) -> Obj:
    """matchExpressions with In, NotIn, Exists (and now and then DoesNotExist)."""
    exprs: list[Obj] = [
        {"key": "tier", "operator": "In", "values": c.rng.sample(sorted(TIER_PORTS), 2)},
        {"key": "version", "operator": "NotIn", "values": ["canary"]},
    ]
    if c.rng.random() < 0.2:
        exprs.append({"key": "monitoring", "operator": "DoesNotExist"})
    return {
        "podSelector": {"matchExpressions": exprs},
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchExpressions": [
                                {"key": "env", "operator": "In", "values": ["prod", "staging"]}
                            ]
                        },
                        "podSelector": {
                            "matchExpressions": [{"key": "monitoring", "operator": "Exists"}]
                        },
                    }
                ],
                "ports": [{"protocol": "TCP", "port": "metrics"}],
            }
        ],
    }


def allow_all(c: Cluster, ns: Namespace) -> Obj:
    target = c.app(ns.name)
    if c.rng.random() < 0.5:
        return {"podSelector": {"matchLabels": {"app": target.name}}, "ingress": [{}]}
    return {
        "podSelector": {"matchLabels": {"app": target.name}},
        "policyTypes": ["Egress"],
        "egress": [{}],
    }


PolicyBuilder = Callable[[Cluster, Namespace], Obj]
# Weighted mix after each namespace's default deny; see the module docstring.
POLICY_MIX: dict[str, tuple[PolicyBuilder, int]] = {
    "tier-ingress": (tier_ingress, 18),
    "tier-egress": (tier_egress, 12),
    "app-to-app": (app_to_app, 18),
    "cross-ns": (cross_namespace, 16),
    "ipblock": (ip_block, 10),
    "port-range": (port_range, 8),
    "expr": (expressions, 12),
    "allow-all": (allow_all, 3),
}


def partner_cidrs(rng: random.Random, count: int = 64) -> list[tuple[str, str]]:
    """A fixed pool of public /16 partner ranges, each with one /24 excepted: a cluster has a
    handful of partners, not one per policy."""
    out = []
    for _ in range(count):
        a = rng.choice([x for x in range(11, 224) if x not in (127, 169, 172, 192)])
        b, hole = rng.randrange(256), rng.randrange(256)
        out.append((f"{a}.{b}.0.0/16", f"{a}.{b}.{hole}.0/24"))
    return out


def make_policies(c: Cluster, count: int) -> tuple[dict[str, list[Obj]], Counter[str]]:
    """One default deny per namespace first (while the budget lasts), then the weighted mix
    spread round-robin over the namespaces."""
    by_ns: dict[str, list[Obj]] = {ns.name: [] for ns in c.namespaces}
    kinds: Counter[str] = Counter()
    names, weights = list(POLICY_MIX), [w for _, w in POLICY_MIX.values()]
    for j in range(count):
        ns = c.namespaces[j % len(c.namespaces)]
        if j < len(c.namespaces):
            kind, spec = "default-deny", default_deny(c, ns)
        else:
            kind = c.rng.choices(names, weights)[0]
            spec = POLICY_MIX[kind][0](c, ns)
        kinds[kind] += 1
        by_ns[ns.name].append(np_doc(ns.name, f"{kind}-{j}", spec))
    return by_ns, kinds


# ---------------------------------------------------------------- guardrail tiers


# Its own stream: the guardrails depend on the seed and the cluster, never on how many
# NetworkPolicies came first, and adding them leaves every other file byte-identical.
GUARDRAIL_STREAM = 0x7A4D
GUARDRAIL_PRIORITY_STEP = 10
MAX_RULES_PER_GUARDRAIL = 4
METADATA_CIDR = "169.254.169.254/32"
KUBE_DNS_PEER: Obj = {
    "pods": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
}
NODE_PORTS: Obj = {"portRange": {"protocol": "TCP", "start": 30000, "end": 32767}}
# The named ports the generated containers have, per tier (coredns: dns, dns-tcp, metrics).
TIER_PORT_NAMES = {tier: tuple(name for name, _, _ in ports) for tier, ports in TIER_PORTS.items()}


@dataclass(frozen=True, slots=True)
class Scope:
    """A guardrail's subject, reduced to what its rules choose from: the namespace it was
    drawn from and the tier it narrows to (None: whole namespaces)."""

    ns: Namespace
    tier: str | None


# A rule builder: (name stem, action, peers, ports or None for every port).
RuleParts = tuple[str, str, list[Obj], list[Obj] | None]
RuleBuilder = Callable[[Cluster, Scope], RuleParts]


def ns_match(c: Cluster, ns: Namespace) -> Obj:
    """One of the namespace's real labels: its team, env, tenant or name."""
    key = c.rng.choice(("team", "env", "tenant", "kubernetes.io/metadata.name"))
    return {"matchLabels": {key: ns.labels[key]}}


def pods_peer(namespaces: Obj, pods: Obj) -> Obj:
    """The CRD requires both selectors of a `pods` peer or subject."""
    return {"pods": {"namespaceSelector": namespaces, "podSelector": pods}}


def guardrail_subject(c: Cluster) -> tuple[Obj, Scope]:
    """Whole namespaces by one label, or a tier (an app, in one named namespace) within them."""
    ns = c.rng.choice(c.namespaces)
    namespaces = ns_match(c, ns)
    if c.rng.random() < 0.5:
        return {"namespaces": namespaces}, Scope(ns, None)
    app = c.app(ns.name)
    if "kubernetes.io/metadata.name" in namespaces["matchLabels"] and c.rng.random() < 0.5:
        pods: Obj = {"matchLabels": {"app": app.name}}
    else:
        pods = {"matchLabels": {"tier": app.tier}}
    return pods_peer(namespaces, pods), Scope(ns, app.tier)


def named_ports(c: Cluster, tier: str | None, count: int = 1) -> list[Obj]:
    names = TIER_PORT_NAMES.get(tier or "", ("http", "metrics"))
    return [{"namedPort": n} for n in c.rng.sample(names, min(count, len(names)))]


def port_number(c: Cluster, tier: str | None) -> Obj:
    """A real container port of the tier (any tier's when the subject has none)."""
    _, proto, number = c.rng.choice(TIER_PORTS[tier or c.rng.choice(sorted(TIER_PORTS))])
    return {"portNumber": {"protocol": proto, "port": number}}


def ingress_monitoring(c: Cluster, s: Scope) -> RuleParts:
    """Scrapers may always reach the metrics port, whatever the namespace's own policies say."""
    peer = pods_peer(
        {"matchLabels": {"env": c.rng.choice(("prod", "staging"))}},
        {"matchLabels": {"monitoring": "enabled"}},
    )
    return "allow-monitoring", "Allow", [peer], [{"namedPort": "metrics"}, port_number(c, s.tier)]


def ingress_tier_flow(c: Cluster, s: Scope) -> RuleParts:
    """Allow the tiers that feed this one, from the same team's namespaces."""
    flows = [f for f in TIER_FLOWS if f[1] == s.tier] or list(TIER_FLOWS)
    src, dst, names = c.rng.choice(flows)
    peer = pods_peer({"matchLabels": {"team": s.ns.labels["team"]}}, {"matchLabels": {"tier": src}})
    ports: list[Obj] = [{"namedPort": n} for n in names]
    if c.rng.random() < 0.5:
        ports.append(port_number(c, dst))
    return f"allow-from-{src}", "Allow", [peer], ports


def ingress_pass_tenant(c: Cluster, s: Scope) -> RuleParts:
    """Within a tenant, leave the decision to the namespaces' NetworkPolicies."""
    peers: list[Obj] = [{"namespaces": {"matchLabels": {"tenant": s.ns.labels["tenant"]}}}]
    if c.rng.random() < 0.5:
        peers.append({"namespaces": {"matchLabels": {"team": s.ns.labels["team"]}}})
    return "pass-tenant", "Pass", peers, None


def ingress_deny_node_ports(c: Cluster, s: Scope) -> RuleParts:
    """No one reaches NodePort-range or media ports on these pods, from anywhere."""
    ports = [NODE_PORTS]
    if c.rng.random() < 0.5:
        ports.append({"portRange": {"protocol": "UDP", "start": 5000, "end": 5100}})
    return "deny-node-ports", "Deny", [{"namespaces": {}}], ports


def ingress_deny_env(c: Cluster, s: Scope) -> RuleParts:
    """Lower environments may not reach these pods (a staging worker tier in particular)."""
    peers: list[Obj] = [{"namespaces": {"matchLabels": {"env": "dev"}}}]
    if c.rng.random() < 0.5:
        peers.append(
            pods_peer({"matchLabels": {"env": "staging"}}, {"matchLabels": {"tier": "worker"}})
        )
    ports = None if c.rng.random() < 0.5 else named_ports(c, s.tier, 2)
    return "deny-lower-envs", "Deny", peers, ports


def egress_dns(c: Cluster, s: Scope) -> RuleParts:
    """DNS to kube-dns, by number or by coredns's port names."""
    if c.rng.random() < 0.5:
        ports: list[Obj] = [
            {"portNumber": {"protocol": "UDP", "port": 53}},
            {"portNumber": {"protocol": "TCP", "port": 53}},
        ]
    else:
        ports = [{"namedPort": "dns"}, {"namedPort": "dns-tcp"}]
    return "allow-dns", "Allow", [KUBE_DNS_PEER], ports


def egress_deny_metadata(c: Cluster, s: Scope) -> RuleParts:
    return "deny-cloud-metadata", "Deny", [{"networks": [METADATA_CIDR]}], None


def egress_partners(c: Cluster, s: Scope) -> RuleParts:
    """Partner ranges: allowed over HTTPS or an API port range, or cut off entirely."""
    cidrs = sorted({cidr for cidr, _ in c.rng.sample(c.partner_cidrs, c.rng.randint(1, 3))})
    if c.rng.random() < 0.4:
        return "deny-partners", "Deny", [{"networks": cidrs}], None
    ports: list[Obj] = [{"portNumber": {"protocol": "TCP", "port": 443}}]
    if c.rng.random() < 0.5:
        ports.append({"portRange": {"protocol": "TCP", "start": 8000, "end": 8100}})
    return "allow-partners", "Allow", [{"networks": cidrs}], ports


def egress_tier_flow(c: Cluster, s: Scope) -> RuleParts:
    """Allow this tier's downstream tiers, in any namespace of the same environment."""
    flows = [f for f in TIER_FLOWS if f[0] == s.tier] or list(TIER_FLOWS)
    _, dst, names = c.rng.choice(flows)
    peer = pods_peer({"matchLabels": {"env": s.ns.labels["env"]}}, {"matchLabels": {"tier": dst}})
    ports: list[Obj] = [{"namedPort": n} for n in names]
    if c.rng.random() < 0.3:
        ports.append({"portRange": {"protocol": "TCP", "start": 5432, "end": 6379}})
    return f"allow-to-{dst}", "Allow", [peer], ports


def egress_pass_team(c: Cluster, s: Scope) -> RuleParts:
    team = c.rng.choice(TEAMS)
    return f"pass-team-{team}", "Pass", [{"namespaces": {"matchLabels": {"team": team}}}], None


def egress_deny_internet(c: Cluster, s: Scope) -> RuleParts:
    """Everything outside the private ranges, on the well-known ports (and SIP over UDP)."""
    ports: list[Obj] = [{"portRange": {"protocol": "TCP", "start": 1, "end": 1023}}]
    if c.rng.random() < 0.5:
        ports.append({"portNumber": {"protocol": "UDP", "port": 5060}})
    return "deny-internet", "Deny", [{"networks": ["0.0.0.0/0"]}], ports


# Weighted mixes per direction: Allow, Deny and Pass all well represented.
INGRESS_RULES: dict[RuleBuilder, int] = {
    ingress_monitoring: 3,
    ingress_tier_flow: 4,
    ingress_pass_tenant: 3,
    ingress_deny_node_ports: 2,
    ingress_deny_env: 3,
}
EGRESS_RULES: dict[RuleBuilder, int] = {
    egress_dns: 3,
    egress_deny_metadata: 2,
    egress_partners: 3,
    egress_tier_flow: 3,
    egress_pass_team: 2,
    egress_deny_internet: 1,
}


def admin_rules(
    c: Cluster, s: Scope, count: int, kinds: Counter[str]
) -> tuple[list[Obj], list[Obj]]:
    """`count` rules split over ingress and egress, named `<stem>-<index>` (unique)."""
    ingress: list[Obj] = []
    egress: list[Obj] = []
    for k in range(count):
        is_ingress = c.rng.random() < 0.5
        mix = INGRESS_RULES if is_ingress else EGRESS_RULES
        build = c.rng.choices(list(mix), list(mix.values()))[0]
        stem, action, peers, ports = build(c, s)
        rule: Obj = {
            "name": f"{stem}-{k}",
            "action": action,
            ("from" if is_ingress else "to"): peers,
        }
        if ports is not None:
            rule["ports"] = ports
        (ingress if is_ingress else egress).append(rule)
        kinds[f"{'ingress' if is_ingress else 'egress'}-{action}"] += 1
    return ingress, egress


def guardrail_priorities(count: int) -> list[int]:
    """Distinct priorities 10, 20, ... while they fit in 0..1000, else packed closer."""
    if count > 1001:
        raise ValueError("at most 1001 AdminNetworkPolicies: priorities are distinct, 0-1000")
    step = max(1, min(GUARDRAIL_PRIORITY_STEP, 1000 // max(count, 1)))
    first = step if count * step <= 1000 else 0
    return [first + i * step for i in range(count)]


def baseline_policy() -> Obj:
    """The singleton BANP: every namespace but kube-system defaults to deny ingress (except
    scrapers) and to DNS plus private ranges on egress, never the cloud metadata service."""
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "default"},
        "spec": {
            "subject": {
                "namespaces": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "NotIn",
                            "values": ["kube-system"],
                        }
                    ]
                }
            },
            "ingress": [
                {
                    "name": "allow-monitoring",
                    "action": "Allow",
                    "from": [pods_peer({}, {"matchLabels": {"monitoring": "enabled"}})],
                    "ports": [{"namedPort": "metrics"}],
                },
                {"name": "deny-ingress", "action": "Deny", "from": [{"namespaces": {}}]},
            ],
            "egress": [
                {
                    "name": "allow-dns",
                    "action": "Allow",
                    "to": [KUBE_DNS_PEER],
                    "ports": [
                        {"portNumber": {"protocol": "UDP", "port": 53}},
                        {"portNumber": {"protocol": "TCP", "port": 53}},
                    ],
                },
                {
                    "name": "deny-cloud-metadata",
                    "action": "Deny",
                    "to": [{"networks": [METADATA_CIDR]}],
                },
                {
                    "name": "allow-private",
                    "action": "Allow",
                    "to": [{"networks": PRIVATE_RANGES}],
                    "ports": [{"portRange": {"protocol": "TCP", "start": 1024, "end": 65535}}],
                },
                {"name": "deny-egress", "action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]},
            ],
        },
    }


def make_guardrails(cluster: Cluster, count: int, seed: int) -> tuple[list[Obj], Counter[str]]:
    """`count` AdminNetworkPolicies (distinct priorities, 1-4 rules each) and the BANP."""
    c = replace(cluster, rng=random.Random(seed ^ GUARDRAIL_STREAM))
    kinds: Counter[str] = Counter()
    docs = []
    for i, priority in enumerate(guardrail_priorities(count)):
        subject, scope = guardrail_subject(c)
        ingress, egress = admin_rules(c, scope, c.rng.randint(1, MAX_RULES_PER_GUARDRAIL), kinds)
        spec: Obj = {"priority": priority, "subject": subject}
        if ingress:
            spec["ingress"] = ingress
        if egress:
            spec["egress"] = egress
        first = (ingress or egress)[0]["name"].rsplit("-", 1)[0]
        docs.append(
            {
                "apiVersion": "policy.networking.k8s.io/v1alpha1",
                "kind": "AdminNetworkPolicy",
                "metadata": {"name": f"guardrail-{i}-{first}"},
                "spec": spec,
            }
        )
    return [*docs, baseline_policy()], kinds


# ---------------------------------------------------------------- Calico tiers


# Its own stream, like the guardrails': the Calico objects depend on the seed and the
# cluster only, and adding them leaves every other file byte-identical.
CALICO_STREAM = 0xCA1C0
CALICO_API = "projectcalico.org/v3"
# (tier, order, defaultAction, share of the policies, kinds drawn): the default tier (the
# Kubernetes NetworkPolicies, https://docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy)
# comes after all five.
CALICO_TIERS: tuple[tuple[str, int, str, int, tuple[str, ...]], ...] = (
    ("security", 100, "Pass", 2, ("GlobalNetworkPolicy",)),
    ("platform", 200, "Pass", 4, ("GlobalNetworkPolicy", "NetworkPolicy")),
    ("compliance", 300, "Deny", 2, ("GlobalNetworkPolicy",)),
    ("tenant", 400, "Pass", 6, ("NetworkPolicy",)),
    ("apps", 500, "Deny", 6, ("NetworkPolicy",)),
)
# Policy orders drawn (None: no order, after every ordered policy; ties go by name).
CALICO_ORDERS = (None, 10, 100, 100, 200, 500, 1000)
MAX_CALICO_RULES = 4
PARTNER_SETS = 16
THREAT_FEEDS = 4


def q(value: str) -> str:
    return f"'{value}'"


def calico_doc(
    kind: str, name: str, spec: Obj, ns: str | None = None, labels: Obj | None = None
) -> Obj:
    meta: Obj = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    if labels:
        meta["labels"] = labels
    return {"apiVersion": CALICO_API, "kind": kind, "metadata": meta, "spec": spec}


def calico_subject(c: Cluster, kind: str, ns: Namespace) -> Obj:
    """selector (and, for a GlobalNetworkPolicy, namespaceSelector) of the endpoints a policy
    applies to, in Calico's selector language."""
    app = c.app(ns.name)
    if kind == "NetworkPolicy":
        return {
            "selector": c.rng.choice(
                (
                    f"app == {q(app.name)}",
                    f"tier == {q(app.tier)}",
                    f"tier in {{{q(app.tier)}, 'worker'}} && version != 'canary'",
                    "all()",
                    f"app starts with {q(app.tier + '-')} && has(monitoring)",
                )
            )
        }
    variant = c.rng.randrange(5)
    if variant == 0:
        return {
            "selector": f"tier == {q(app.tier)}",
            "namespaceSelector": f"env == {q(ns.labels['env'])}",
        }
    if variant == 1:
        return {"selector": "has(monitoring) && version in {'v1', 'v2'}"}
    if variant == 2:
        team = c.rng.choice(TEAMS)
        return {"selector": f"team in {{{q(team)}, {q(ns.labels['team'])}}} && tier != 'gateway'"}
    if variant == 3 and not c.nca_subset:
        return {"selector": f"projectcalico.org/namespace == {q(ns.name)} && !has(monitoring)"}
    return {"selector": "all()", "namespaceSelector": f"tenant == {q(ns.labels['tenant'])}"}


def calico_peer_pods(c: Cluster, kind: str) -> Obj:
    """Pods by tier in the namespaces of a team (or, now and then, by service account)."""
    tier = c.rng.choice(sorted(TIER_PORTS))
    entity: Obj = {"selector": f"tier == {q(tier)}"}
    roll = c.rng.random()
    if roll < 0.4:
        entity["namespaceSelector"] = f"team == {q(c.rng.choice(TEAMS))}"
    elif roll < 0.55:
        entity["namespaceSelector"] = "all()"
    elif roll < 0.65 and not c.nca_subset:
        entity = {
            "serviceAccounts": {"names": ["default"]},
            "namespaceSelector": f"env == {q(c.rng.choice(ENVS))}",
        }
    elif roll < 0.75 and kind == "GlobalNetworkPolicy" and not c.nca_subset:
        entity = {
            "selector": f"tier == {q(tier)} && projectcalico.org/namespace starts with {q(c.rng.choice(TEAMS))}"
        }
    return entity


def calico_ports(c: Cluster) -> list[Obj | int | str]:
    """Numbers, ranges and names, as Calico writes them (`"8000:8100"`)."""
    tier = c.rng.choice(sorted(TIER_PORTS))
    name, _, number = c.rng.choice(TIER_PORTS[tier])
    out: list[Any] = [c.rng.choice((name, number))]
    if c.rng.random() < 0.4:
        out.append(c.rng.choice(("8000:8100", "30000:32767", 443, "5432:6379")))
    return out


def calico_rule(
    c: Cluster, kind: str, ingress: bool, gns: list[str], local_sets: list[str]
) -> tuple[str, Obj]:
    """One rule: (its shape, for the summary; the rule)."""
    peer_side = "source" if ingress else "destination"
    roll = c.rng.randrange(12)
    if roll <= 2:  # allow some pods on some ports
        if ingress:
            return "allow-pods", {
                "action": "Allow",
                "protocol": "TCP",
                "source": calico_peer_pods(c, kind),
                "destination": {"ports": calico_ports(c)},
            }
        return "allow-pods", {
            "action": "Allow",
            "protocol": "TCP",
            "destination": {**calico_peer_pods(c, kind), "ports": calico_ports(c)},
        }
    if roll == 3:  # deny lower environments except on the metrics port
        if ingress:
            return "deny-env-not-ports", {
                "action": "Deny",
                "protocol": "TCP",
                "source": {"namespaceSelector": "env == 'dev'"},
                "destination": {"notPorts": ["metrics"]},
            }
        return "deny-env-not-ports", {
            "action": "Deny",
            "protocol": "TCP",
            "destination": {"namespaceSelector": "env == 'dev'", "notPorts": ["metrics"]},
        }
    if roll == 4:  # pass everyone but one tier on
        return "pass-not-selector", {
            "action": "Pass",
            peer_side: {"notSelector": f"tier == {q(c.rng.choice(sorted(TIER_PORTS)))}"},
        }
    if roll == 5:
        return "log", {"action": "Log", **({"protocol": "UDP"} if c.rng.random() < 0.5 else {})}
    if roll == 6:  # ping from the scrapers of one team allowed, other ICMP types denied
        if c.rng.random() < 0.5:
            peer: Obj = {
                "selector": "has(monitoring)",
                "namespaceSelector": f"team == {q(c.rng.choice(TEAMS))}",
            }
            return "allow-icmp-echo", {
                "action": "Allow",
                "protocol": "ICMP",
                "icmp": {"type": 8},
                peer_side: peer,
            }
        # NCA 2.1.0 drops a code (or type) 0 (bench/nca.py ICMP_ZERO): not in its subset.
        not_icmp = {"type": 8} if c.nca_subset else {"type": 8, "code": 0}
        return "deny-icmp-not-echo", {"action": "Deny", "protocol": "ICMP", "notICMP": not_icmp}
    if roll == 7:  # partners, by their GlobalNetworkSet
        entity: Obj = {"selector": f"role == 'partner' && partner == {q(c.rng.choice(gns))}"}
        if kind == "NetworkPolicy":
            entity["namespaceSelector"] = "global()"
        action = c.rng.choice(("Allow", "Deny"))
        ports: list[Any] = [443, "8000:8100"]
        if ingress:
            rule: Obj = {"source": entity, "destination": {"ports": ports}}
        else:
            rule = {"destination": {**entity, "ports": ports}}
        return f"{action.lower()}-partners", {"action": action, "protocol": "TCP", **rule}
    if roll == 8:  # threat feeds and the metadata service, denied
        if c.rng.random() < 0.5:
            entity = {"selector": "feed == 'threat'"}
            if kind == "NetworkPolicy":
                entity["namespaceSelector"] = "global()"
            return "deny-threats", {"action": "Deny", peer_side: entity}
        return "deny-metadata", {"action": "Deny", peer_side: {"nets": [METADATA_CIDR]}}
    if roll == 9:  # the internet on 443, outside the private ranges
        if ingress:
            return "allow-internet", {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"notNets": PRIVATE_RANGES},
                "destination": {"ports": [443]},
            }
        return "allow-internet", {
            "action": "Allow",
            "protocol": "TCP",
            "destination": {"notNets": PRIVATE_RANGES, "ports": [443]},
        }
    if roll == 10:  # everything but TCP from a tier is denied
        return "deny-not-tcp", {
            "action": "Deny",
            "notProtocol": "TCP",
            peer_side: {"selector": f"tier == {q(c.rng.choice(sorted(TIER_PORTS)))}"},
        }
    if local_sets and c.rng.random() < 0.5:  # a namespace's own NetworkSet
        return "allow-netset", {
            "action": "Allow",
            peer_side: {"selector": f"role == 'vpn' && set == {q(c.rng.choice(local_sets))}"},
        }
    if ingress:  # the namespace's own pods (a GlobalNetworkPolicy: a team's), on TCP ports
        source: Obj = {"selector": "all()"}
        if kind == "GlobalNetworkPolicy":
            source["namespaceSelector"] = f"team == {q(c.rng.choice(TEAMS))}"
        return "allow-neighbours", {
            "action": "Allow",
            "protocol": "TCP",
            "source": source,
            "destination": {"ports": calico_ports(c)},
        }
    return "allow-dns", {
        "action": "Allow",
        "protocol": "UDP",
        "destination": {
            "selector": "k8s-app == 'kube-dns'",
            "namespaceSelector": "kubernetes.io/metadata.name == 'kube-system'",
            "ports": [53],
        },
    }


def make_calico(
    cluster: Cluster, count: int, seed: int, nca_subset: bool = False
) -> tuple[list[Obj], dict[str, list[Obj]], Counter[str]]:
    """Five tiers, GlobalNetworkSets (partners and threat feeds), a NetworkSet in every
    fourth namespace, and `count` policies shared over the tiers: (global documents,
    namespaced documents by namespace, counts by kind and rule shape).

    `nca_subset`: what NCA 2.1.0 reads, for the differential bench. It has no tiers (every
    policy goes to the default tier, ending in Deny), no serviceAccounts and no
    projectcalico.org/* labels, and it breaks order ties by input order where Calico uses
    the name, so every policy gets its own order (never 1000, the Kubernetes
    NetworkPolicies' order)."""
    c = replace(cluster, rng=random.Random(seed ^ CALICO_STREAM), nca_subset=nca_subset)
    kinds: Counter[str] = Counter()
    global_docs: list[Obj] = []
    by_ns: dict[str, list[Obj]] = {ns.name: [] for ns in c.namespaces}
    for tier, order, default, _, _ in () if nca_subset else CALICO_TIERS:
        global_docs.append(calico_doc("Tier", tier, {"order": order, "defaultAction": default}))
    gns = [f"p{i}" for i in range(PARTNER_SETS)]
    for i, name in enumerate(gns):
        cidr, _ = c.partner_cidrs[i % len(c.partner_cidrs)]
        global_docs.append(
            calico_doc(
                "GlobalNetworkSet",
                f"partner-{name}",
                {"nets": [cidr]},
                labels={"role": "partner", "partner": name},
            )
        )
    for i in range(THREAT_FEEDS):
        nets = sorted(
            {
                f"{c.rng.randrange(11, 100)}.{c.rng.randrange(256)}.{c.rng.randrange(256)}.0/24"
                for _ in range(8)
            }
        )
        global_docs.append(
            calico_doc(
                "GlobalNetworkSet", f"threat-feed-{i}", {"nets": nets}, labels={"feed": "threat"}
            )
        )
    local_sets: dict[str, list[str]] = {}
    for k, ns in enumerate(c.namespaces):
        if k % 4 == 0:
            name = f"vpn-{k}"
            net = f"192.168.{k % 256}.0/24"
            by_ns[ns.name].append(
                calico_doc(
                    "NetworkSet", name, {"nets": [net]}, ns.name, {"role": "vpn", "set": name}
                )
            )
            local_sets[ns.name] = [name]
            kinds["NetworkSet"] += 1
    kinds["GlobalNetworkSet"] = PARTNER_SETS + THREAT_FEEDS
    shares = sum(t[3] for t in CALICO_TIERS)
    quotas = [count * t[3] // shares for t in CALICO_TIERS]
    quotas[-1] += count - sum(quotas)
    j = 0
    for (tier, _, default, _, tier_kinds), quota in zip(CALICO_TIERS, quotas, strict=True):
        for _ in range(quota):
            kind = c.rng.choice(tier_kinds)
            ns = c.namespaces[j % len(c.namespaces)]
            spec: Obj = {"tier": tier, **calico_subject(c, kind, ns)}
            order = c.rng.choice(CALICO_ORDERS)
            if nca_subset:
                del spec["tier"]
                default, order = "Deny", j + 1 if j + 1 < 1000 else j + 2
            if order is not None:
                spec["order"] = order
            types = c.rng.choice((("Ingress",), ("Egress",), ("Ingress", "Egress")))
            spec["types"] = list(types)
            for t in types:
                rules = []
                for _ in range(c.rng.randint(1, MAX_CALICO_RULES)):
                    shape, rule = calico_rule(
                        c, kind, t == "Ingress", gns, local_sets.get(ns.name, [])
                    )
                    rules.append(rule)
                    kinds[f"rule-{shape}"] += 1
                # Most policies of a Deny tier end by passing on what they did not decide.
                if default == "Deny" and c.rng.random() < 0.7:
                    rules.append({"action": "Pass"})
                    kinds["rule-pass-rest"] += 1
                spec[t.lower()] = rules
            name = f"{'np' if kind == 'NetworkPolicy' else 'gnp'}-{j}"
            if not nca_subset:
                name = f"{tier}.{name}"
            if kind == "NetworkPolicy":
                by_ns[ns.name].append(calico_doc(kind, name, spec, ns.name))
            else:
                global_docs.append(calico_doc(kind, name, spec))
            kinds[kind] += 1
            kinds[f"tier-{tier}"] += 1
            j += 1
    return global_docs, by_ns, kinds


# ---------------------------------------------------------------- writing


def namespace_doc(ns: Namespace) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns.name, "labels": ns.labels},
    }


# A string YAML 1.1 reads back as itself when written plain; anything else is double-quoted
# (JSON string syntax is valid YAML), e.g. CIDRs, which would otherwise look numeric-ish.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def yaml_lines(value: Obj | list[Any], indent: int, out: list[str]) -> None:
    """Block-style YAML as yaml.safe_dump(default_flow_style=False) lays it out (sequences
    not indented under their key). PyYAML builds a node per scalar in Python even with the
    C dumper: 50,000 policies took ~18 s that way, which this writer does in ~3 s."""
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict) and item:
                out.append(f"{pad}{yaml_scalar(key)}:")
                yaml_lines(item, indent + 2, out)
            elif isinstance(item, list) and item:
                out.append(f"{pad}{yaml_scalar(key)}:")
                yaml_lines(item, indent, out)
            else:
                out.append(f"{pad}{yaml_scalar(key)}: {yaml_flow_empty(item)}")
        return
    for item in value:
        if isinstance(item, dict | list) and item:
            start = len(out)
            yaml_lines(item, indent + 2, out)
            if isinstance(item, dict):
                out[start] = f"{pad}- {out[start][indent + 2 :]}"
            else:
                out.insert(start, f"{pad}-")
        else:
            out.append(f"{pad}- {yaml_flow_empty(item)}")


def yaml_flow_empty(value: Any) -> str:
    """An empty mapping or list in flow style, or a scalar."""
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return yaml_scalar(value)


def to_yaml(docs: list[Obj]) -> str:
    lines: list[str] = []
    for doc in docs:
        lines.append("---")
        yaml_lines(doc, 0, lines)
    return "\n".join(lines) + "\n"


def write_yaml(path: Path, docs: list[Obj], check: bool) -> None:
    """`check` reads the text back with PyYAML and insists on the same objects: proof that
    the fast writer and the real parser agree, for when the generator changes."""
    text = to_yaml(docs)
    if check and list(yaml.load_all(text, Loader=_Loader)) != docs:
        raise AssertionError(f"{path}: YAML does not read back as written")
    path.write_text(text, encoding="utf-8")


def write_pods_list(path: Path, items: list[Obj]) -> None:
    """One pod per line: each json.dumps call is a one-shot C encode (indent= would fall back
    to the pure-Python encoder, several times slower); the document is still a v1 List."""
    with path.open("w", encoding="utf-8") as f:
        f.write(
            '{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [\n'
        )
        f.write(",\n".join(json.dumps(p) for p in items))
        f.write("\n]}\n")


def prepare(out: Path) -> None:
    """Empty OUT, but only if it is empty already or was made by this generator: stale
    policy files from a bigger run would silently join the next benchmark. The marker goes
    in first, so an interrupted run still leaves a folder we may empty next time."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SystemExit(f"{out} is not empty and was not made by bench/generate.py")
        shutil.rmtree(out)
    (out / "policies").mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text('{"complete": false}\n', encoding="utf-8")


def write_workloads(
    out: Path, apps: list[App], replicas: int, pods_list: bool, seed: int, check: bool
) -> int:
    """Deployments as YAML, or every replica as a Pod in pods.json; returns the pod count."""
    dns = coredns_app()
    if not pods_list:
        docs = [deployment(a, replicas) for a in apps]
        write_yaml(out / "workloads.yaml", [*docs, deployment(dns, COREDNS_REPLICAS)], check)
        return len(apps) * replicas + COREDNS_REPLICAS
    rng = random.Random(seed ^ 0x5EED)  # apart from the policy stream: same policies either way
    items = pods(dns, COREDNS_REPLICAS, 0, rng)
    for a in apps:
        items.extend(pods(a, replicas, len(items), rng))
    write_pods_list(out / "pods.json", items)
    return len(items)


def build_cluster(workloads: int, seed: int) -> tuple[Cluster, list[App]]:
    """Namespaces and apps from the seed; the returned Cluster's rng then drives policies."""
    rng = random.Random(seed)
    namespaces = make_namespaces(max(1, round(workloads / WORKLOADS_PER_NAMESPACE)))
    apps = make_apps(namespaces, workloads, rng)
    by_ns: dict[str, list[App]] = {ns.name: [] for ns in namespaces}
    for a in apps:
        by_ns[a.namespace].append(a)
    return Cluster(namespaces, by_ns, partner_cidrs(rng), rng), apps


def generate(
    out_dir: str | Path,
    workloads: int,
    replicas: int,
    policies: int,
    seed: int,
    pods_list: bool = False,
    check: bool = False,
    guardrails: int = 0,
    calico: int = 0,
    calico_nca: bool = False,
) -> dict[str, Any]:
    """Write a cluster into `out_dir` and return its parameters and counts (also written to
    OUT/.generated.json, which run.py reads to reuse an identical cluster). `check` reads
    every YAML file back to prove the fast writer right (slower; for changes to this file).
    `guardrails` > 0 adds that many AdminNetworkPolicies and the BaselineAdminNetworkPolicy;
    every other file stays as it is without them. `calico` > 0 adds five Calico tiers, network
    sets and that many Calico policies (policies/calico*.yaml), likewise; `calico_nca` keeps
    them to what NCA 2.1.0 reads (make_calico)."""
    if workloads < 1 or replicas < 1 or policies < 0 or guardrails < 0 or calico < 0:
        raise ValueError("workloads and replicas must be >= 1, policies and guardrails >= 0")
    if guardrails > 1001:
        raise ValueError("at most 1001 guardrails: AdminNetworkPolicy priorities are 0-1000")
    out = Path(out_dir)
    prepare(out)
    cluster, apps = build_cluster(workloads, seed)
    policy_docs, kinds = make_policies(cluster, policies)
    guardrail_docs, rule_kinds = (
        make_guardrails(cluster, guardrails, seed) if guardrails else ([], Counter())
    )
    calico_global, calico_ns, calico_kinds = (
        make_calico(cluster, calico, seed, calico_nca) if calico else ([], {}, Counter())
    )

    kube_system = Namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"})
    ns_docs = [namespace_doc(ns) for ns in [kube_system, *cluster.namespaces]]
    write_yaml(out / "namespaces.yaml", ns_docs, check)
    pod_count = write_workloads(out, apps, replicas, pods_list, seed, check)
    for ns_name, docs in policy_docs.items():
        if docs:
            write_yaml(out / "policies" / f"{ns_name}.yaml", docs, check)
    if guardrail_docs:
        write_yaml(out / "policies" / "guardrails.yaml", guardrail_docs, check)
    if calico_global:
        write_yaml(out / "policies" / "calico.yaml", calico_global, check)
    for ns_name, docs in calico_ns.items():
        if docs:
            write_yaml(out / "policies" / f"calico-{ns_name}.yaml", docs, check)
    summary = {
        "complete": True,
        "generator": GENERATOR_VERSION,
        "params": {
            "workloads": workloads,
            "replicas": replicas,
            "policies": policies,
            "seed": seed,
            "pods_list": pods_list,
            "guardrails": guardrails,
            **({"calico": calico} if calico else {}),
            **({"calico_nca": True} if calico and calico_nca else {}),
        },
        "namespaces": len(cluster.namespaces) + 1,
        "workloads": len(apps) + 1,
        "pods": pod_count,
        "policies": sum(kinds.values()),
        "policy_kinds": dict(sorted(kinds.items())),
        "admin_network_policies": guardrails,
        "baseline_admin_network_policies": 1 if guardrails else 0,
        "admin_rules": dict(sorted(rule_kinds.items())),
        **({"calico": dict(sorted(calico_kinds.items()))} if calico else {}),
    }
    (out / MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", help="output folder (created; emptied if made by this script)")
    parser.add_argument("--workloads", type=int, required=True)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--policies", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pods-list", action="store_true", help="Pods in one v1 List JSON")
    parser.add_argument("--check", action="store_true", help="read each YAML file back")
    parser.add_argument(
        "--guardrails",
        type=int,
        default=0,
        metavar="N",
        help="also N AdminNetworkPolicies and the BaselineAdminNetworkPolicy (N <= 1001)",
    )
    parser.add_argument(
        "--calico",
        type=int,
        default=0,
        metavar="N",
        help="also five Calico tiers, network sets and N Calico policies",
    )
    parser.add_argument(
        "--calico-nca",
        action="store_true",
        help="Calico policies in the subset NCA 2.1.0 reads (no tiers; distinct orders)",
    )
    args = parser.parse_args(argv)
    summary = generate(
        args.out,
        args.workloads,
        args.replicas,
        args.policies,
        args.seed,
        args.pods_list,
        args.check,
        args.guardrails,
        args.calico,
        args.calico_nca,
    )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
