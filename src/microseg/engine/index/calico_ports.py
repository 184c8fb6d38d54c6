"""The connections a Calico rule matches: protocol, ports, ICMP type and code.

Rule reference (docs.tigera.io/calico/latest/reference/resources/networkpolicy#rule):
`protocol`/`notProtocol` (a name or a number 1-255), `icmp`/`notICMP` (a type, and a code
within it), and on the destination side `ports`/`notPorts` (numbers, `start:end` ranges,
named ports resolved on the endpoint that has them). Every field given must match. The
destination's ports are the connection's port whichever side the policy's endpoint is;
the source's are the client's ephemeral ports, decided at compile time
(ingest/calico.py, MS170).

One rule is `(include | named(d)) & ~exclude & ~not_named(d)` toward a destination d:
`include` the protocol filter's connections with the numeric ports, `exclude` the numeric
notPorts, `named`/`not_named` the named ones. engine/index/calico_compile.py packs it for
the tables, engine/explain/calico.py evaluates it as connection sets, with one meaning.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from microseg.model.calico import CalicoPort, CalicoRule, IcmpMatch, ProtocolMatch, ServiceMatch
from microseg.model.cluster import Cluster
from microseg.model.netpol import PortSpec
from microseg.model.objects import Pod, Service
from microseg.model.sets import ConnSet, IntervalSet, IPSet, Protocol, domain

__all__ = [
    "EPHEMERAL",
    "RulePorts",
    "calico_ip_sets",
    "calico_port_names",
    "calico_port_ranges",
    "rule_ports",
    "source_ports_match",
]

# Linux's default ephemeral range (net.ipv4.ip_local_port_range); ingest/calico.py EPHEMERAL.
EPHEMERAL = (32768, 60999)


@dataclass(frozen=True, slots=True)
class RulePorts:
    include: ConnSet
    exclude: ConnSet = field(default_factory=ConnSet)
    named: tuple[PortSpec, ...] = ()
    not_named: tuple[PortSpec, ...] = ()

    def toward(self, destination: Pod | None) -> ConnSet:
        """The connections matched toward `destination` (None: an address)."""
        out = self.include
        if destination is not None:
            for spec in self.named:
                number = destination.named_port(spec.name, spec.protocol)
                if number is not None:
                    out = out | ConnSet.single(spec.protocol, number)
        out = out - self.exclude
        if destination is not None:
            for spec in self.not_named:
                number = destination.named_port(spec.name, spec.protocol)
                if number is not None:
                    out = out - ConnSet.single(spec.protocol, number)
        return out


def _proto(match: ProtocolMatch) -> ConnSet:
    if match.protocol is Protocol.IP:
        return ConnSet.of({Protocol.IP: IntervalSet.span(match.number, match.number)}, wide=True)
    return ConnSet.of({match.protocol: domain(match.protocol)}, wide=True)


def _icmp(protocol: Protocol, match: IcmpMatch) -> ConnSet:
    # ICMP "ports" are type * 256 + code (model/sets.py, Protocol).
    lo = match.type * 256 + (match.code if match.code is not None else 0)
    hi = match.type * 256 + (match.code if match.code is not None else 255)
    return ConnSet.of({protocol: IntervalSet.span(lo, hi)}, wide=True)


def protocol_filter(rule: CalicoRule) -> ConnSet:
    """The connections the rule's protocol, notProtocol, icmp and notICMP allow."""
    return _filter(rule.protocol, rule.not_protocol, rule.icmp, rule.not_icmp)


# Policies repeat a few protocol and port shapes thousands of times: each is built once.
@functools.lru_cache(maxsize=4096)
def _filter(
    protocol: ProtocolMatch | None,
    not_protocol: ProtocolMatch | None,
    icmp: IcmpMatch | None,
    not_icmp: IcmpMatch | None,
) -> ConnSet:
    out = ConnSet.everything()
    if protocol is not None:
        out = _proto(protocol)
        if protocol.protocol in (Protocol.ICMP, Protocol.ICMPV6):
            if icmp is not None:
                out = _icmp(protocol.protocol, icmp)
            if not_icmp is not None:
                out = out - _icmp(protocol.protocol, not_icmp)
    if not_protocol is not None:
        out = out - _proto(not_protocol)
    return out


def _numbers(ports: tuple[CalicoPort, ...], protocol: Protocol) -> ConnSet:
    spans = [(max(p.start, 1), p.end) for p in ports if not p.name]
    return ConnSet.of({protocol: IntervalSet.of(spans)}, wide=True)


def _names(ports: tuple[CalicoPort, ...], protocol: Protocol) -> tuple[PortSpec, ...]:
    return tuple(PortSpec(protocol, name=p.name) for p in ports if p.name)


def _service_ports(service: Service | None, allowed: ConnSet) -> RulePorts:
    """A destination `services` match: the Service's ports as its endpoints serve them
    (targetPort: a number, or a container port's name resolved on each endpoint)."""
    if service is None:
        return RulePorts(ConnSet.none())
    numbers: dict[Protocol, list[tuple[int, int]]] = {}
    named: list[PortSpec] = []
    for sp in service.ports:
        if isinstance(sp.target, int):
            numbers.setdefault(sp.protocol, []).append((sp.target, sp.target))
        else:
            named.append(PortSpec(sp.protocol, name=sp.target))
    include = ConnSet.of({p: IntervalSet.of(v) for p, v in numbers.items()}, wide=True) & allowed
    named = [s for s in named if allowed.get(s.protocol)]
    return RulePorts(include, named=tuple(named))


def rule_ports(rule: CalicoRule, services: dict[tuple[str, str], Service]) -> RulePorts:
    """The rule's matched connections, as RulePorts (see the module docstring)."""
    dst = rule.destination
    if dst.services is not None:
        allowed = protocol_filter(rule)
        return _service_ports(services.get((dst.services.namespace, dst.services.name)), allowed)
    return _port_form(
        rule.protocol, rule.not_protocol, rule.icmp, rule.not_icmp, dst.ports, dst.not_ports
    )


@functools.lru_cache(maxsize=4096)
def _port_form(
    protocol: ProtocolMatch | None,
    not_protocol: ProtocolMatch | None,
    icmp: IcmpMatch | None,
    not_icmp: IcmpMatch | None,
    ports: tuple[CalicoPort, ...] | None,
    not_ports: tuple[CalicoPort, ...],
) -> RulePorts:
    allowed = _filter(protocol, not_protocol, icmp, not_icmp)
    proto = protocol.protocol if protocol is not None else None
    if proto is None or (ports is None and not not_ports):
        return RulePorts(allowed)
    include = allowed
    named: tuple[PortSpec, ...] = ()
    if ports is not None:
        include = _numbers(ports, proto) & allowed
        named = _names(ports, proto)
    exclude = _numbers(not_ports, proto)
    return RulePorts(include, exclude, named, _names(not_ports, proto))


def source_ports_match(rule: CalicoRule) -> bool:
    """Whether a client's connection matches the rule's source ports: every ephemeral
    port must (the port is not known statically). True without source ports."""
    src = rule.source
    if src.ports is None and not src.not_ports:
        return True
    lo, hi = EPHEMERAL
    ephemeral = IntervalSet.span(lo, hi)
    allowed = IntervalSet.span(1, 65535)
    if src.ports is not None:
        allowed = IntervalSet.of((p.start, p.end) for p in src.ports if not p.name)
    denied = IntervalSet.of((p.start, p.end) for p in src.not_ports if not p.name)
    return ephemeral <= (allowed - denied)


def service_key(match: ServiceMatch) -> tuple[str, str]:
    return (match.namespace, match.name)


def _rules_of(cluster: Cluster) -> list[CalicoRule]:
    calico = cluster.calico
    out = [r for p in calico.policies for r in p.ingress + p.egress]
    out += [r for p in calico.profiles for r in p.ingress + p.egress]
    return out


def calico_port_ranges(cluster: Cluster) -> list[tuple[Protocol, int, int]]:
    """Every numeric (protocol, range) a Calico rule or failsafe pinhole draws a line at."""
    services = {(s.namespace, s.name): s for s in cluster.services}
    out: list[tuple[Protocol, int, int]] = []
    for rule in _rules_of(cluster):
        form = rule_ports(rule, services)
        for conns in (form.include, form.exclude):
            out += [(p, lo, hi) for p, ports in conns.ports for lo, hi in ports]
    for hole in cluster.calico.failsafe_inbound + cluster.calico.failsafe_outbound:
        out.append((hole.protocol, hole.port, hole.port))
    return out


def calico_port_names(cluster: Cluster) -> set[tuple[Protocol, str]]:
    """Every (protocol, name) a Calico rule resolves on its destination."""
    services = {(s.namespace, s.name): s for s in cluster.services}
    out: set[tuple[Protocol, str]] = set()
    for rule in _rules_of(cluster):
        form = rule_ports(rule, services)
        out |= {(s.protocol, s.name) for s in form.named + form.not_named}
    return out


def calico_ip_sets(cluster: Cluster) -> list[IPSet]:
    """Every address range a Calico rule, network set or failsafe pinhole names."""
    out: list[IPSet] = [s.nets for s in cluster.calico.network_sets]
    for rule in _rules_of(cluster):
        for side in (rule.source, rule.destination):
            out += [n for n in (side.nets, side.not_nets) if n is not None]
    for hole in cluster.calico.failsafe_inbound + cluster.calico.failsafe_outbound:
        if hole.net:
            out.append(IPSet.from_cidr(hole.net))
    return out
