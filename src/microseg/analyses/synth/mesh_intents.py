"""`generate --format istio`: AuthorizationPolicies from allow intents.

Each workload in the mesh that some allow intent names as a destination gets an ALLOW
policy whose rules admit the intent's source group: its workloads in the mesh by their
principals (`<trust domain>/ns/<ns>/sa/<service account>`), its workloads outside the mesh
as plaintext callers (`notPrincipals: ["*"]`), `cidr` groups by `ipBlocks`, `internet` by
the public ranges as CIDRs. Ports: numbers (a range written port by port: AuthorizationPolicy
ports are single values), a named port resolved on the destination's pods, no ports: no
`to` (every port). Per namespace with such workloads, `microseg-allow-nothing`.
(istio.io/latest/docs/reference/config/security/authorization-policy/)

AuthorizationPolicies govern what a workload in the mesh accepts, nothing else: egress,
UDP and workloads outside the mesh stay with the network layer, so the proof (verify and
the excess check, at the layer `--layer both` gives) counts whatever the cluster's own
NetworkPolicies leave open there.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from microseg.analyses.synth.build import BuildContext, policy_name
from microseg.analyses.synth.labels import Choice, stable_labels
from microseg.analyses.synth.mesh import ALLOW_NOTHING, Note, in_mesh
from microseg.analyses.synth.types import Generated
from microseg.model.addresses import PUBLIC
from microseg.model.cluster import Cluster
from microseg.model.intent import INTERNET_GROUP, FlowKind, IntentPort, IntentSet
from microseg.model.labels import FrozenLabels
from microseg.model.mesh import (
    AuthorizationPolicy,
    AuthzAction,
    AuthzRule,
    Operation,
    Source,
    principal,
)
from microseg.model.sets import Protocol

__all__ = ["MAX_PORTS", "generate_mesh"]

MAX_PORTS = 1024
_PLAIN = "plaintext"


def _public_cidrs(v6: bool) -> tuple[str, ...]:
    out: list[str] = []
    for family, cls in ((PUBLIC.v4, ipaddress.IPv4Address), (PUBLIC.v6, ipaddress.IPv6Address)):
        if cls is ipaddress.IPv6Address and not v6:
            continue
        for lo, hi in family:
            out += [str(n) for n in ipaddress.summarize_address_range(cls(lo), cls(hi))]
    return tuple(out)


def _ports(
    cluster: Cluster, dst: int, ports: tuple[IntentPort, ...]
) -> tuple[str, ...] | str | None:
    """Port strings for one destination; None for every port; a str explains a refusal."""
    if not ports:
        return None
    out: set[int] = set()
    for p in ports:
        if p.protocol is not Protocol.TCP:
            continue  # the mesh governs TCP only
        if p.name:
            pods = [x for x in cluster.pods if x.workload == cluster.workloads[dst].key]
            numbers = {x.named_port(p.name, p.protocol) for x in pods}
            if None in numbers or len(numbers) != 1:
                return f"named port {p} does not resolve to one number on every pod"
            out |= {n for n in numbers if n is not None}
        elif p.end - p.start + 1 > MAX_PORTS:
            return (
                f"{p} holds more than {MAX_PORTS} ports, which AuthorizationPolicy lists one by one"
            )
        else:
            out |= set(range(p.start, p.end + 1))
    return tuple(str(n) for n in sorted(out))


def generate_mesh(
    cluster: Cluster,
    intents: IntentSet,
    of_group: dict[str, list[int]],
    choices: dict[int, Choice],
    covered_ns: list[str],
    ctx: BuildContext,
    v6: bool,
) -> tuple[list[Generated], list[Note]]:
    notes: list[Note] = []
    mesh = in_mesh(cluster)
    td = cluster.mesh.trust_domain
    per: dict[int, dict[tuple[str, ...] | None, list[Source]]] = defaultdict(
        lambda: defaultdict(list)
    )
    why: dict[int, set[str]] = defaultdict(set)
    outside: set[str] = set()
    callers: dict[str, set[str]] = defaultdict(set)
    for flow in intents.flows:
        if flow.kind is not FlowKind.ALLOW:
            continue
        spec = intents.group(flow.src)
        for d in of_group.get(flow.dst, []):
            if not mesh.get(d, False):
                outside.add(str(cluster.workloads[d].key))
                continue
            ports = _ports(cluster, d, flow.ports)
            if isinstance(ports, str):
                notes.append(
                    (
                        "MS530",
                        "warning",
                        flow.id,
                        f"{cluster.workloads[d].key}: {ports}; not written",
                    )
                )
                continue
            if ports == ():
                continue  # UDP or SCTP only: the network layer's
            sources: list[Source] = []
            if flow.src == INTERNET_GROUP:
                sources.append(Source(ip_blocks=_public_cidrs(v6)))
            elif spec is not None and spec.cidrs:
                sources.append(Source(ip_blocks=tuple(spec.cidrs)))
            else:
                whos = set()
                plain = False
                for s in of_group.get(flow.src, []):
                    if mesh.get(s, False):
                        src = cluster.workloads[s]
                        who = principal(td, src.key.namespace, src.service_account)
                        whos.add(who)
                        callers[who].add(str(src.key))
                    else:
                        plain = True
                if whos:
                    sources.append(Source(principals=tuple(sorted(whos))))
                if plain:
                    sources.append(Source(not_principals=("*",)))
            per[d][ports] += sources
            why[d].add(flow.id)
    out: list[Generated] = []
    names = policy_name(cluster, set(per))
    for ns in covered_ns:
        mine = sorted(
            (d for d in per if cluster.workloads[d].key.namespace == ns),
            key=lambda d: cluster.workloads[d].key,
        )
        if not mine:
            continue
        nothing = AuthorizationPolicy(ns, ALLOW_NOTHING, AuthzAction.ALLOW, None, ())
        note = (
            ("spec", -1, -1),
            f"every workload of {ns} in the mesh: no request unless another policy allows it",
        )
        out.append(
            Generated(
                "AuthorizationPolicy",
                ns,
                ALLOW_NOTHING,
                nothing,
                ns,
                "",
                ctx.annotations,
                (note,),
                ctx.header,
            )
        )
        for d in mine:
            w = cluster.workloads[d].key
            labels = choices[d].match_labels
            if labels is None:
                first = next((p for p in cluster.pods if p.workload == w), None)
                labels = stable_labels(first.labels) if first is not None else {}
            if not labels:
                notes.append(
                    (
                        "MS530",
                        "warning",
                        str(w),
                        "no plain labels to select it by: no policy written",
                    )
                )
                continue
            rules = []
            for k, ports in enumerate(sorted(per[d], key=lambda p: (p is not None, p or ()))):
                merged: dict[str, set[str]] = defaultdict(set)
                for one in per[d][ports]:
                    for field, values in (
                        ("p", one.principals),
                        ("n", one.not_principals),
                        ("i", one.ip_blocks),
                    ):
                        merged[field] |= set(values or ())
                sources = []
                if merged["p"]:
                    sources.append(Source(principals=tuple(sorted(merged["p"]))))
                if merged["n"]:
                    sources.append(Source(not_principals=("*",)))
                if merged["i"]:
                    sources.append(Source(ip_blocks=tuple(sorted(merged["i"]))))
                ops = None if ports is None else (Operation(ports=ports),)
                rules.append(AuthzRule(k, tuple(sources), ops))
            policy = AuthorizationPolicy(
                w.namespace, names[d], AuthzAction.ALLOW, FrozenLabels(labels), tuple(rules)
            )
            note = (("spec", -1, -1), f"{w}: from the intents {', '.join(sorted(why[d]))}")
            out.append(
                Generated(
                    "AuthorizationPolicy",
                    w.namespace,
                    names[d],
                    policy,
                    w.namespace,
                    str(w),
                    (*ctx.annotations, ("microseg.dev/workload", str(w))),
                    (note,),
                    ctx.header,
                )
            )
    if outside:
        notes.append(
            (
                "MS530",
                "warning",
                f"{len(outside)} workloads",
                "outside the mesh, so an AuthorizationPolicy would not apply: "
                + ", ".join(sorted(outside)[:10]),
            )
        )
    for who, ws in sorted(callers.items()):
        if len(ws) > 1:
            notes.append(
                (
                    "MS524",
                    "warning",
                    who,
                    f"shared by {', '.join(sorted(ws))}: a rule for one admits all of them",
                )
            )
    return out, notes
