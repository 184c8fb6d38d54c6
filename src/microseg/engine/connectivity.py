"""The engine's facade: build once from a Cluster, then answer queries and lists.

Combining directions: a connection between two pods is allowed iff the source's egress
and the destination's ingress both allow it (API reference, "Behavior of to and from
selectors" / isolation). External addresses have no policies of their own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from microseg.engine.assembly import Endpoint, Index, used_port_names
from microseg.engine.explain.netpol import explain_direction, external_trace
from microseg.engine.index.entries import INGRESS_CONTROLLER_NAME, entry_steps
from microseg.engine.index.packed import Bits, pack
from microseg.engine.index.unique import sorted_unique
from microseg.engine.query import Decision, Layer, MeshVerdict, NetworkSplit, Verdict
from microseg.errors import MicrosegError
from microseg.model.netpol import Direction
from microseg.model.objects import WorkloadKey
from microseg.model.sets import ConnSet, IPSet, Protocol

if TYPE_CHECKING:
    from microseg.model.changes import Change

__all__ = ["Connectivity", "Endpoint", "UnknownEndpointError", "used_port_names"]


class UnknownEndpointError(MicrosegError):
    """A query named a workload, pod or address that is not in the input."""


def _may_be_address(spec: str) -> bool:
    """False when `spec` cannot parse as an address or CIDR, so that naming a workload
    skips a parse that would fail (raising and catching ValueError was a sixth of a B4
    query). With a `/`, `ipaddress` needs a `.` (IPv4: four dotted octets) or a `:` (IPv6)
    before it; a namespace never has either, since namespace names are RFC 1123 DNS labels
    (kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/, "Namespaces and
    DNS"), so `ns/name` goes straight to the name lookup, and anything else is parsed as
    before."""
    if "/" not in spec:
        return True
    head = spec.split("/", 1)[0]
    return "." in head or ":" in head


@dataclass(frozen=True, slots=True)
class Connectivity(Index):
    """The engine's facade: build it from a Cluster, then ask it. The parts it holds are
    an `Index` (engine/assembly.py); the queries, the combined matrices and `apply` are
    here."""

    def with_layer(self, layer: Layer) -> Connectivity:
        """The same index counting other layers. Without mesh resources the mesh allows
        everything: `mesh` then allows all, and `both` equals `network`."""
        return replace(self, layer=layer)

    def _mesh_in(self) -> npt.NDArray[np.bool_] | None:
        """[dst class, src column, atom] of the mesh, or None when it does not count."""
        if self.layer is Layer.NETWORK or self.mesh is None:
            return None
        return self.mesh.allow

    # -- matrices --------------------------------------------------------------------
    def pod_to_pod(self) -> npt.NDArray[np.bool_]:
        """[src class, dst class, port atom]."""
        c = self.n_classes
        mesh = self._mesh_in()
        if self.layer is Layer.MESH:
            full = np.ones((c, c, len(self.ports)), dtype=np.bool_)
            return full if mesh is None else mesh[:, :c, :].transpose(1, 0, 2).copy()
        out = self.egress.allow[:, :c, :] & self.ingress.allow[:, :c, :].transpose(1, 0, 2)
        if self.isolation is not None:
            out &= self.isolation.same()[:, :, None]  # other primary networks: unreachable
        return out if mesh is None else out & mesh[:, :c, :].transpose(1, 0, 2)

    def to_external(self) -> npt.NDArray[np.bool_]:
        """[src class, ip atom, port atom]. The mesh governs inbound traffic only."""
        if self.layer is Layer.MESH:
            return np.ones_like(self.egress.allow[:, self.n_classes :, :])
        return self.egress.allow[:, self.n_classes :, :]

    def from_external(self) -> npt.NDArray[np.bool_]:
        """[dst class, ip atom, port atom]."""
        c = self.n_classes
        mesh = self._mesh_in()
        if self.layer is Layer.MESH:
            return np.ones_like(self.ingress.allow[:, c:, :]) if mesh is None else mesh[:, c:, :]
        out = self.ingress.allow[:, c:, :]
        return out if mesh is None else out & mesh[:, c:, :]

    def packed_matrices(self) -> tuple[Bits, Bits, Bits]:
        """`pod_to_pod`, `to_external` and `from_external` with port atoms packed into words
        (engine/index/packed.py), which is how the tables are held: when only the NetworkPolicy
        layer counts, no boolean matrix is ever unpacked."""
        if self._mesh_in() is not None or self.layer is Layer.MESH:
            return pack(self.pod_to_pod()), pack(self.to_external()), pack(self.from_external())
        c = self.n_classes
        eg, ing = self.egress.bits, self.ingress.bits
        pairs = eg[:, :c] & ing[:, :c].transpose(1, 0, 2)
        if self.isolation is not None:
            pairs[~self.isolation.same()] = 0  # other primary networks: unreachable
        return pairs, eg[:, c:], ing[:, c:]

    # -- endpoints -------------------------------------------------------------------
    def resolve(self, text: str) -> Endpoint:
        """`ns/name` (a workload, or a pod), `ns/name[Kind]`, an IP address, a CIDR, or
        `{ingress-controller}` (what Ingress and Route objects expose)."""
        spec = text.strip()
        if spec == INGRESS_CONTROLLER_NAME:
            if self.classes.controller is None:
                raise UnknownEndpointError(
                    f"{spec}: the input has no Ingress or Route objects, so nothing is exposed"
                )
            return Endpoint(spec, klass=self.classes.controller)
        if _may_be_address(spec):
            try:
                net = ipaddress.ip_network(spec, strict=False)
            except ValueError:
                pass
            else:
                return Endpoint(
                    str(net) if "/" in spec else spec, addresses=IPSet.from_cidr(str(net))
                )
        kind = None
        if spec.endswith("]") and "[" in spec:
            # The kind is the last bracket group: names from the input may hold brackets
            # too (`p[/]`), and a name that is all of `spec` is taken as it is.
            head, tail = spec[:-1].rsplit("[", 1)
            whole = tuple(spec.split("/", 1))
            if whole not in self.names.workloads and whole not in self.names.pods:
                spec, kind = head, tail
        if "/" not in spec and ("", spec) in self.names.workloads:
            spec = "/" + spec  # a cluster-scoped endpoint: a Calico HostEndpoint
        if "/" not in spec:
            raise UnknownEndpointError(
                f"{text!r}: expected ns/name, ns/name[Kind], an IP address or a CIDR"
            )
        namespace, name = spec.split("/", 1)
        keys = [
            k for k in self.names.workloads.get((namespace, name), ()) if kind in (None, k.kind)
        ]
        if len(keys) > 1:
            kinds = ", ".join(k.kind for k in keys)
            raise UnknownEndpointError(
                f"{text!r} is ambiguous ({kinds}); add the kind, e.g. {keys[0]}"
            )
        if keys and keys[0] in self.names.first_pod:
            first = self.names.first_pod[keys[0]]
            return Endpoint(str(keys[0]), klass=int(self.classes.pod_class[first]))
        i = self.names.pods.get((namespace, name))
        if i is not None:
            return Endpoint(f"{namespace}/{name}[Pod]", klass=int(self.classes.pod_class[i]))
        alias = self.replica_set_alias(namespace, name, kind)
        if alias is not None:
            first = self.names.first_pod[alias]
            return Endpoint(str(alias), klass=int(self.classes.pod_class[first]))
        known = sorted(str(w.key) for w in self.cluster.workloads if w.key.namespace == namespace)
        hint = (
            f"; workloads in {namespace}: {', '.join(known[:8])}"
            if known
            else f"; no workloads in namespace {namespace!r}"
        )
        raise UnknownEndpointError(f"no workload or pod {spec!r} in the input{hint}")

    def replica_set_alias(
        self, namespace: str, name: str, kind: str | None = None
    ) -> WorkloadKey | None:
        """The ReplicaSet workload a Deployment-style name stands for, when the input has a
        Deployment's pods but not the Deployment (`kubectl get pods -o yaml`): the pods are
        then grouped under their ReplicaSet `name-<hash>`, and `ns/name` (or
        `ns/name[Deployment]`) means it when `<hash>` is the pods' `pod-template-hash`
        label, which is how the Deployment controller names its ReplicaSets. One match only;
        several (two rollouts) stay unknown rather than guessed."""
        if kind not in (None, "Deployment"):
            return None
        found = []
        for key, first in self.names.first_pod.items():
            if key.kind != "ReplicaSet" or key.namespace != namespace:
                continue
            base, _, suffix = key.name.rpartition("-")
            labels = self.cluster.pods[first].labels
            if base == name and suffix and labels.get("pod-template-hash") == suffix:
                found.append(key)
        return found[0] if len(found) == 1 else None

    def port_conns(
        self, dst: Endpoint, protocol: Protocol, start: int, end: int, name: str = ""
    ) -> ConnSet:
        """A port argument as a connection set; a named port resolves on the destination.
        A protocol outside the analysis's universe is refused rather than answered DENIED:
        NetworkPolicy names only SCTP, TCP and UDP, and what it does to the others is left
        to the implementation (https://kubernetes.io/docs/concepts/services-networking/
        network-policies/, "Behavior of ... ICMP" is unspecified); Calico rules name them."""
        if protocol not in self.ports.protocols:
            raise UnknownEndpointError(
                f"{protocol.value}: NetworkPolicy names only SCTP, TCP and UDP; other "
                "protocols are analysed when the input has Calico objects"
            )
        if not name:
            return ConnSet.single(protocol, start, end)
        if dst.klass is None:
            raise UnknownEndpointError(
                f"named port {name!r}: an external destination has no named ports"
            )
        number = self.classes.reps[dst.klass].named_port(name, protocol)
        if number is None:
            raise UnknownEndpointError(
                f"named port {protocol.value}/{name} is not a container port of {dst.name}"
            )
        return ConnSet.single(protocol, number)

    # -- queries ---------------------------------------------------------------------
    def _masks(self, src: Endpoint, dst: Endpoint) -> list[npt.NDArray[np.bool_]]:
        """The allowed atom mask for each atom-level pair the endpoints span."""
        c = self.n_classes
        src_cols = (
            [src.klass]
            if src.klass is not None
            else list(c + np.flatnonzero(self.ips.mask(src.addresses or IPSet())))
        )
        dst_cols = (
            [dst.klass]
            if dst.klass is not None
            else list(c + np.flatnonzero(self.ips.mask(dst.addresses or IPSet())))
        )
        out = []
        ones = np.ones(len(self.ports), np.bool_)
        network = self.layer is not Layer.MESH
        mesh = self._mesh_in()
        for s in src_cols:
            for d in dst_cols:
                if s >= c and d >= c:
                    continue  # external to external: not the cluster's business
                if network and self._split(int(s), int(d)):
                    out.append(np.zeros(len(self.ports), np.bool_))
                    continue
                e = self.egress.cell(s, d) if s < c and network else ones
                i = self.ingress.cell(d, s) if d < c and network else ones
                m = mesh[d, s] if d < c and mesh is not None else ones
                out.append(e & i & m)
        return out

    def _split(self, s: int, d: int) -> bool:
        """Whether columns s and d are pods on different primary networks."""
        c = self.n_classes
        iso = self.isolation
        return iso is not None and s < c and d < c and not iso.connected(s, d)

    def _networks(self, src: Endpoint, dst: Endpoint) -> NetworkSplit | None:
        """Why two pods cannot connect at all: their primary networks, when they differ."""
        if src.klass is None or dst.klass is None or self.isolation is None:
            return None
        return self.isolation.split(src.klass, dst.klass)

    def _conditions(
        self, src: Endpoint, dst: Endpoint, allowed: ConnSet
    ) -> tuple[tuple[ConnSet, MeshVerdict], ...]:
        """The parts of `allowed` the mesh grants only under L7 conditions."""
        if self._mesh_in() is None or self.mesh is None or dst.klass is None:
            return ()
        c = self.n_classes
        cols = (
            [src.klass]
            if src.klass is not None
            else list(c + np.flatnonzero(self.ips.mask(src.addresses or IPSet())))
        )
        keep = self.ports.mask_of(allowed)
        per: dict[int, npt.NDArray[np.bool_]] = {}
        for s in cols:
            ids = self.mesh.cond[dst.klass, s]
            for k in sorted_unique(ids[keep & (ids > 0)]).tolist():
                hit = (ids == k) & keep
                per[k] = per[k] | hit if k in per else hit
        return tuple(
            (self.ports.to_connset(mask), self.mesh.verdicts[k]) for k, mask in sorted(per.items())
        )

    def allowed(self, src: Endpoint, dst: Endpoint) -> tuple[ConnSet, bool]:
        """Connections allowed for every address pair the endpoints cover, and whether some
        pairs get more (only possible with address ranges)."""
        masks = self._masks(src, dst)
        if not masks:
            return ConnSet.none(), False
        every = np.logical_and.reduce(masks)
        some = np.logical_or.reduce(masks)
        return self.ports.to_connset(every), bool((some & ~every).any())

    def reach(
        self, src: str | Endpoint, dst: str | Endpoint, conns: ConnSet | None = None
    ) -> Decision:
        s = src if isinstance(src, Endpoint) else self.resolve(src)
        d = dst if isinstance(dst, Endpoint) else self.resolve(dst)
        if s.klass is None and d.klass is None:
            raise UnknownEndpointError(
                "both endpoints are external addresses; name at least one workload"
            )
        allowed, partial = self.allowed(s, d)
        entries = None
        if s.name == INGRESS_CONTROLLER_NAME:
            if d.klass is None:
                raise UnknownEndpointError(
                    f"{INGRESS_CONTROLLER_NAME} reaches workloads through Services, "
                    "not external addresses"
                )
            # Only what an Ingress or Route opens, then what the policies let through.
            entries = entry_steps(self.cluster, self.classes.reps[d.klass])
            opened = ConnSet.none()
            for entry in entries:
                opened = opened | entry.conns
            allowed = allowed & opened
        explain = explain_direction
        if self.calico is not None:  # Calico's explanations load only for Calico input
            from microseg.engine.explain.calico import explain_calico

            explain = explain_calico
        egress = (
            explain(self, Direction.EGRESS, s, d)
            if s.klass is not None
            else external_trace(Direction.EGRESS, s, d, self.everything)
        )
        ingress = (
            explain(self, Direction.INGRESS, d, s)
            if d.klass is not None
            else external_trace(Direction.INGRESS, d, s, self.everything)
        )
        if conns is None:
            verdict = Verdict.ALLOW if allowed else Verdict.DENY
        else:
            verdict = Verdict.ALLOW if conns and conns.issubset(allowed) else Verdict.DENY
        split = self._networks(s, d) if self.layer is not Layer.MESH else None
        if self.layer is Layer.NETWORK or self.mesh is None or d.klass is None:
            return Decision(
                s.name,
                d.name,
                conns,
                allowed,
                verdict,
                egress,
                ingress,
                partial,
                networks=split,
                entries=entries,
            )
        from microseg.engine.explain.mesh import mesh_steps  # only with mesh resources

        scope = conns if conns is not None else self.everything
        steps = mesh_steps(self, s, d, scope)
        return Decision(
            s.name,
            d.name,
            conns,
            allowed,
            verdict,
            egress,
            ingress,
            partial,
            self.layer,
            steps,
            self._conditions(s, d, allowed),
            networks=split,
            entries=entries,
        )

    def apply(self, change: Change) -> Connectivity:
        """The index after one change to the cluster, updated in place of a rebuild where
        the change allows it (engine/incremental/apply.py); equal to `build` on the new cluster."""
        from microseg.engine.incremental.apply import apply_incrementally

        return apply_incrementally(self, change)
