"""Forbidding intents as masks for the flow detector: `deny` flows and `noInternetEgress`
(docs/intents.md), their groups resolved as `verify` resolves them (analyses/groups.py)."""

from __future__ import annotations

import ipaddress

from microseg.analyses.groups import GroupResolver
from microseg.analyses.runtime.detect_flows import IntentCheck
from microseg.engine import Connectivity, WorkloadGraph
from microseg.model.addresses import PUBLIC
from microseg.model.intent import IntentSet, NoInternetEgress
from microseg.model.sets import IPSet, Protocol

__all__ = ["intent_checks"]


def _contains(addresses: IPSet):  # type: ignore[no-untyped-def]
    def test(ip: str) -> bool:
        try:
            return bool(IPSet.from_cidr(str(ipaddress.ip_address(ip))) & addresses)
        except ValueError:
            return False

    return test


def intent_checks(
    conn: Connectivity, graph: WorkloadGraph, intents: IntentSet, resolver: GroupResolver
) -> list[IntentCheck]:
    out: list[IntentCheck] = []
    names = {g.name for g in intents.groups}

    def members(name: str):  # type: ignore[no-untyped-def]
        return resolver.resolve(name, intents.group(name) if name in names else None)

    pods = conn.cluster.pods
    for flow in intents.denies:
        src, dst = members(flow.src), members(flow.dst)
        wanted = flow.ports

        def ports(proto: str, port: int, pod: int, wanted=wanted) -> bool:  # type: ignore[no-untyped-def]
            if not wanted:
                return True
            for p in wanted:
                if p.protocol.value != proto:
                    continue
                if p.name:
                    if pod >= 0 and pods[pod].named_port(p.name, Protocol(proto)) == port:
                        return True
                elif p.start <= port <= p.end:
                    return True
            return False

        out.append(
            IntentCheck(
                flow.id, flow.describe(), src.nodes, dst.nodes, _contains(dst.addresses), ports
            )
        )
    for exp in intents.expectations:
        if isinstance(exp, NoInternetEgress):
            group = members(exp.group)
            out.append(
                IntentCheck(
                    f"{exp.intent}/noInternetEgress",
                    f"{exp.group} must not reach the internet",
                    group.nodes,
                    group.nodes & False,
                    _contains(PUBLIC),
                    lambda proto, port, pod: True,
                )
            )
    return out
