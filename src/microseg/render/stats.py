"""`microseg stats` as a table for people and a JSON document for programs."""

from __future__ import annotations

import json

from microseg.analyses.stats import Stats
from microseg.render.shape import envelope

__all__ = ["stats_json", "stats_rows"]


def stats_rows(s: Stats) -> list[tuple[str, str]]:
    rows = [
        ("workloads", f"{s.workloads:,}"),
        # "pods (explicit) 0" for controllers-only input read as "no pods": say both kinds.
        *([("pods (explicit)", f"{s.pods:,}")] if s.pods or not s.template_pods else []),
        *([("pods (from templates)", f"{s.template_pods:,}")] if s.template_pods else []),
        ("namespaces", f"{s.namespaces:,}"),
        ("NetworkPolicies", f"{s.network_policies:,}"),
        ("guardrail policies (ANP/BANP/CNP)", f"{s.guardrail_policies:,}"),
        ("equivalence classes", f"{s.classes:,}"),
        ("port atoms", f"{s.port_atoms:,}"),
        ("IP atoms", f"{s.ip_atoms:,}"),
        ("isolated for ingress", f"{s.isolated_ingress:,}"),
        ("isolated for egress", f"{s.isolated_egress:,}"),
        ("isolated both ways", f"{s.isolated_both:,}"),
        ("allowed workload pairs", f"{s.allowed_pairs:,}"),
    ]
    rows += [(f"  pairs allowed some {p.value}", f"{n:,}") for p, n in s.pairs_per_protocol]
    rows += [
        ("  pairs allowed on all ports", f"{s.pairs_all_ports:,}"),
        ("workloads reachable from outside", f"{s.workloads_open_to_external:,}"),
    ]
    return rows


def stats_json(s: Stats, timings: dict[str, float]) -> str:
    doc = envelope(
        "ClusterStats",
        workloads=s.workloads,
        pods=s.pods,
        templatePods=s.template_pods,
        namespaces=s.namespaces,
        networkPolicies=s.network_policies,
        guardrailPolicies=s.guardrail_policies,
        classes=s.classes,
        portAtoms=s.port_atoms,
        ipAtoms=s.ip_atoms,
        isolated={
            "ingress": s.isolated_ingress,
            "egress": s.isolated_egress,
            "both": s.isolated_both,
        },
        allowedPairs=s.allowed_pairs,
        pairsPerProtocol={p.value: n for p, n in s.pairs_per_protocol},
        pairsAllPorts=s.pairs_all_ports,
        workloadsOpenToExternal=s.workloads_open_to_external,
        seconds={k: round(v, 4) for k, v in timings.items()},
    )
    return json.dumps(doc, indent=2) + "\n"
