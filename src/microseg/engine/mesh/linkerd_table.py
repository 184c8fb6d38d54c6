"""The fast Linkerd layer: its verdict for every (destination class in Linkerd's mesh,
source column, TCP port atom), written into the mesh table beside Istio's.

Per destination class, the port atoms are grouped by the policy Linkerd applies there
(linkerd_match.py `port_policy`); per distinct policy, each authorization is a boolean
vector over all source columns at once (the client's network, its mesh membership and
identity), memoised across classes, and the verdict per column comes from the signature of
which authorizations admit it (linkerd_verdict.py `assemble`, once per distinct row).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.mesh.linkerd_match import Authz, LinkerdIndex, PortPolicy
from microseg.engine.mesh.linkerd_verdict import assemble
from microseg.engine.query import MeshVerdict
from microseg.model.cluster import Cluster
from microseg.model.linkerd import (
    OPAQUE_PORTS,
    REQUIRE_IDENTITY,
    SKIP_INBOUND,
    Authentication,
    Network,
    client_address,
    holds_unknown,
    network_holds,
    network_lists,
)
from microseg.model.mesh import MeshMode
from microseg.model.sets import IPSet, Protocol

__all__ = ["LinkerdLayer", "linkerd_ip_sets", "linkerd_port_ranges"]

Mask = npt.NDArray[np.bool_]


def linkerd_port_ranges(cluster: Cluster) -> list[tuple[Protocol, int, int]]:
    """Ports the Linkerd layer tells apart: Servers' ports (names resolved on the pods of
    their namespace), port annotations, the default opaque ports, probe ports."""
    lx = LinkerdIndex(cluster)
    spans: set[tuple[int, int]] = set()
    named: dict[str, set[str]] = {}
    for s in cluster.linkerd.servers:
        if isinstance(s.port, int):
            spans.add((s.port, s.port))
        else:
            named.setdefault(s.namespace, set()).add(s.port)
    seen: set[object] = set()
    for pod in cluster.pods:
        for p in pod.ports:
            if p.name and p.name in named.get(pod.namespace, ()):
                spans.add((p.port, p.port))
        key = (pod.linkerd, pod.namespace, pod.ports)
        if key in seen:
            continue
        seen.add(key)
        for k, default in (
            (OPAQUE_PORTS, cluster.linkerd.opaque_ports),
            (REQUIRE_IDENTITY, ""),
            (SKIP_INBOUND, ""),
        ):
            spans.update(lx.port_setting(pod, k, default))
        if pod.linkerd is not None:
            spans.update((p, p) for p, _ in pod.linkerd.http_probes)
    return [(Protocol.TCP, lo, hi) for lo, hi in sorted(spans)]


def linkerd_ip_sets(cluster: Cluster) -> tuple[list[IPSet], list[IPSet]]:
    """Address blocks the Linkerd layer tells apart: (sets, quiet sets). The quiet ones are
    the default cluster networks' IPv6 ULA block, which must cut the address atoms but does
    not on its own make lists print IPv6 ranges."""
    sets: list[IPSet] = []
    quiet: list[IPSet] = []
    default = LinkerdIndex(cluster).policies.cluster_networks
    for nets in network_lists(cluster.linkerd):
        for n in nets:
            if n.universal:
                continue
            v6_default = nets is default and ":" in n.cidr
            (quiet if v6_default else sets).append(n.addresses)
    return sets, quiet


class LinkerdLayer:
    """Source columns as Linkerd sees them, and the verdicts of Linkerd's destinations."""

    def __init__(
        self,
        cluster: Cluster,
        classes: EndpointClasses,
        ports: PortAtoms,
        ips: IPAtoms,
        modes: tuple[MeshMode, ...],
    ) -> None:
        self.index = LinkerdIndex(cluster)
        self.classes, self.ports, self.ips, self.modes = classes, ports, ips, modes
        c = len(classes)
        self.c, self.n = c, c + len(ips)
        reps = classes.reps
        self.meshed = np.zeros(self.n, dtype=np.bool_)
        self.meshed[:c] = [m is MeshMode.LINKERD for m in modes]
        ids = [
            self.index.identity(p) if m is MeshMode.LINKERD else ""
            for p, m in zip(reps, modes, strict=True)
        ]
        self.identities = np.array(ids + [""] * len(ips), dtype=np.str_)
        self.addresses = [client_address(p.ips, p.host_network, p.host_ip) for p in reps]
        self._authz: dict[Authz, Mask] = {}
        self._nets: dict[tuple[Network, ...] | None, Mask] = {}
        self._decided: dict[int, tuple[Mask, npt.NDArray[np.int32]]] = {}
        """By the policy's identity: LinkerdIndex.port_policy interns equal policies."""

    def _networks(self, networks: tuple[Network, ...] | None) -> Mask:
        found = self._nets.get(networks)
        if found is not None:
            return found
        nets = networks if networks is not None else self.index.policies.cluster_networks
        out = np.zeros(self.n, dtype=np.bool_)
        cluster = self.index.policies.cluster_networks
        for i, address in enumerate(self.addresses):
            out[i] = (
                holds_unknown(nets, cluster) if address is None else network_holds(nets, address)
            )
        total = IPSet()
        for n in nets:
            total = total | n.addresses
        out[self.c :] = self.ips.mask(total)
        self._nets[networks] = out
        return out

    def authz_mask(self, a: Authz) -> Mask:
        """The source columns `a` admits (proxy: `check_authorized`)."""
        found = self._authz.get(a)
        if found is not None:
            return found
        out = self._networks(a.networks).copy()
        if a.authentication is Authentication.TLS_UNAUTHENTICATED:
            out &= self.meshed
        elif a.authentication is Authentication.TLS_AUTHENTICATED:
            hits = np.zeros(self.n, dtype=np.bool_)
            for pattern in a.identities:
                if pattern == "*":
                    hits |= True
                elif pattern.startswith("*."):
                    hits |= np.char.endswith(self.identities, pattern[1:])
                else:
                    hits |= self.identities == pattern
            out &= self.meshed & hits
        self._authz[a] = out
        return out

    def _any(self, authz: tuple[Authz, ...]) -> Mask:
        out = np.zeros(self.n, dtype=np.bool_)
        for a in authz:
            out |= self.authz_mask(a)
        return out

    def decide(
        self, policy: PortPolicy, index: dict[MeshVerdict, int]
    ) -> tuple[Mask, npt.NDArray[np.int32]]:
        """Per source column: allowed, and the id of its verdict in `index`."""
        found = self._decided.get(id(policy))
        if found is not None:
            return found
        server = self._any(policy.authorizations)
        columns = [server, *(self._any(r.authorizations) for r in policy.routes)]
        probe = policy.probe
        columns.append(
            self._any(probe.authorizations) if probe is not None else np.zeros(self.n, np.bool_)
        )
        sig = np.stack(columns, axis=1)
        rows, inverse = np.unique(sig, axis=0, return_inverse=True)
        ok_rows = np.zeros(len(rows), dtype=np.bool_)
        id_rows = np.zeros(len(rows), dtype=np.int32)
        k = len(policy.routes)
        for r, row in enumerate(rows.tolist()):
            verdict = assemble(policy, row[0], tuple(row[1 : 1 + k]), row[1 + k])
            ok_rows[r] = verdict.allowed
            if verdict.allowed:
                id_rows[r] = index.setdefault(verdict, len(index))
        inverse = inverse.reshape(-1)
        result = (ok_rows[inverse], id_rows[inverse])
        self._decided[id(policy)] = result
        return result

    def fill(
        self,
        allow: npt.NDArray[np.bool_],
        cond: npt.NDArray[np.int32],
        index: dict[MeshVerdict, int],
    ) -> None:
        reps = self.classes.reps
        tcp = [(k, lo) for k, (pr, lo, _) in enumerate(self.ports.atoms) if pr is Protocol.TCP]
        for d, mode in enumerate(self.modes):
            if mode is not MeshMode.LINKERD:
                continue
            groups: dict[int, tuple[PortPolicy, list[int]]] = {}
            for k, lo in tcp:
                policy = self.index.port_policy(reps[d], lo)
                groups.setdefault(id(policy), (policy, []))[1].append(k)
            for policy, atoms in groups.values():
                ok, ids = self.decide(policy, index)
                allow[d][:, atoms] = ok[:, None]
                cond[d][:, atoms] = ids[:, None]
