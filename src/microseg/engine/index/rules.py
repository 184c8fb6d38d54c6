"""Policy pieces compiled to vectors: which classes a policy selects, which peers and
which port atoms a rule allows.

Peer vectors span `C + X` columns: the C pod classes, then the X external IP atoms.

Host-network pods follow the most common implementation described in the Kubernetes
docs (concepts/services-networking/network-policies, "NetworkPolicy and hostNetwork
pods"): policies do not select them, podSelector/namespaceSelector peers do not match
them, and traffic to or from them is treated as traffic of their node's address, which
only an ipBlock (or an empty from/to) matches.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from microseg.engine.index.atoms import IPAtoms, PortAtoms
from microseg.engine.index.classes import EndpointClasses
from microseg.engine.index.compile import LabelIndex
from microseg.engine.index.packed import Bits, n_words, pack
from microseg.model.admin import AdminRule, Subject
from microseg.model.netpol import (
    IPBlockPeer,
    NetworkPolicy,
    NodePeer,
    Peer,
    PodPeer,
    PortSpec,
    Rule,
)
from microseg.model.objects import Node
from microseg.model.sets import IPV4_MAX, IPSet, Protocol

__all__ = ["RuleCompiler", "node_addresses"]

Mask = npt.NDArray[np.bool_]


def node_addresses(nodes: tuple[Node, ...], peer: NodePeer) -> IPSet:
    out = IPSet()
    for node in nodes:
        if peer.selector.matches(node.labels):
            for a in node.addresses:
                out = out | IPSet.from_address(a)
    return out


class RuleCompiler:
    def __init__(
        self, classes: EndpointClasses, ports: PortAtoms, ips: IPAtoms, nodes: tuple[Node, ...] = ()
    ) -> None:
        self.classes = classes
        self.nodes = nodes
        self.ports = ports
        self.ips = ips
        self.n_classes = len(classes)
        self.n_peers = len(classes) + len(ips)
        self._pod_labels: LabelIndex | None = None
        self._ns_labels: LabelIndex | None = None
        self._ns_index = {ns.name: i for i, ns in enumerate(classes.namespaces)}
        self._host_addresses = [
            (c, IPSet.from_address(p.host_ip or p.ips[0]) if (p.host_ip or p.ips) else None)
            for c, p in enumerate(classes.reps)
            if classes.host_network[c]
        ]
        self._named: dict[tuple[Protocol, str], npt.NDArray[np.int64]] = {}
        self._peer_memo: dict[Peer, Mask] = {}
        self._target_memo: dict[int, tuple[NetworkPolicy, Mask]] = {}
        self.n_words = n_words(len(ports))
        self._ns_memo: dict[str, Mask] = {}
        self._peers_index: dict[tuple[Peer, ...] | None, npt.NDArray[np.intp]] = {}
        self._target_index: dict[int, tuple[NetworkPolicy, npt.NDArray[np.intp]]] = {}
        self._numeric_words: dict[tuple[PortSpec, ...] | None, Bits] = {}
        self._named_words: dict[tuple[PortSpec, ...] | None, Bits | None] = {}

    @property
    def pod_labels(self) -> LabelIndex:
        """Built on first use: an incremental update often needs none."""
        if self._pod_labels is None:
            self._pod_labels = LabelIndex([p.labels for p in self.classes.reps])
        return self._pod_labels

    @property
    def ns_labels(self) -> LabelIndex:
        if self._ns_labels is None:
            self._ns_labels = LabelIndex([ns.labels for ns in self.classes.namespaces])
        return self._ns_labels

    def named_cache(self) -> dict[tuple[Protocol, str], npt.NDArray[np.int64]]:
        """The named ports resolved so far: every (protocol, name) a rule uses, once the
        tables are compiled."""
        return self._named

    def with_ports(self, ports: PortAtoms, first: npt.NDArray[np.intp]) -> RuleCompiler:
        """The same compiler over finer port atoms, where old atom j starts at new atom
        `first[j]`. Selections do not depend on ports and are kept; named ports resolve to
        single-port atoms, which a refinement never splits."""
        out = RuleCompiler(self.classes, ports, self.ips, self.nodes)
        out._pod_labels, out._ns_labels = self._pod_labels, self._ns_labels
        out._peer_memo, out._peers_index = self._peer_memo, self._peers_index
        out._target_memo, out._target_index = self._target_memo, self._target_index
        out._ns_memo = self._ns_memo
        for key, atoms in self._named.items():
            out._named[key] = np.where(atoms >= 0, first[np.maximum(atoms, 0)], -1)
        return out

    def renumbered(
        self, classes: EndpointClasses, keep: npt.NDArray[np.intp], n_new: int
    ) -> RuleCompiler:
        """A compiler for `classes`, where old class `keep[k]` is class k and classes from
        `len(keep)` on are new. What does not depend on classes is carried over as is, and
        named-port resolutions are renumbered, so the update pays only for the new."""
        out = RuleCompiler(classes, self.ports, self.ips, self.nodes)
        out._numeric_words = self._numeric_words
        for key, atoms in self._named.items():
            fresh = np.full(n_new, -1, dtype=np.int64)
            fresh[: len(keep)] = atoms[keep]
            for c in range(len(keep), n_new):
                port = classes.reps[c].named_port(key[1], key[0])
                if port is not None:
                    fresh[c] = self.ports.atom_of(key[0], port)
            out._named[key] = fresh
        return out

    # -- selection -----------------------------------------------------------------
    def in_namespace(self, name: str) -> Mask:
        cached = self._ns_memo.get(name)
        if cached is None:
            i = self._ns_index.get(name)
            if i is None:
                cached = np.zeros(self.n_classes, dtype=np.bool_)
            else:
                cached = np.asarray(self.classes.class_namespace == i, dtype=np.bool_)
            cached.setflags(write=False)
            self._ns_memo[name] = cached
        return cached

    def targets(self, namespace: str, selector_mask: Mask) -> Mask:
        return self.in_namespace(namespace) & selector_mask & ~self.classes.host_network

    def policy_targets(self, policy: NetworkPolicy) -> Mask:
        # Memoised by identity: explanations ask again for every policy on every query.
        cached = self._target_memo.get(id(policy))
        if cached is None or cached[0] is not policy:
            mask = self.targets(policy.namespace, self.pod_labels.match(policy.pod_selector))
            cached = self._target_memo[id(policy)] = (policy, mask)
        return cached[1]

    def policy_target_index(self, policy: NetworkPolicy) -> npt.NDArray[np.intp]:
        """`policy_targets` as sorted class indices."""
        cached = self._target_index.get(id(policy))
        if cached is None or cached[0] is not policy:
            # Not through `policy_targets`: one mask per policy is what 50,000 policies over
            # 30,000 classes cannot afford (1.5 GB); the indices are a few per policy.
            memo = self._target_memo.get(id(policy))
            if memo is not None and memo[0] is policy:
                mask = memo[1]
            else:
                mask = self.targets(policy.namespace, self.pod_labels.match(policy.pod_selector))
            cached = (policy, np.flatnonzero(mask))
            self._target_index[id(policy)] = cached
        return cached[1]

    def subject_targets(self, subject: Subject) -> Mask:
        """Pods an admin policy applies to; host-network pods are never subjects."""
        ns_ok = self.ns_labels.match(subject.namespace_selector)[self.classes.class_namespace]
        return ns_ok & self.pod_labels.match(subject.pod_selector) & ~self.classes.host_network

    # -- peers ---------------------------------------------------------------------
    def all_peers(self) -> Mask:
        return np.ones(self.n_peers, dtype=np.bool_)

    def pod_peer_classes(self, peer: PodPeer) -> Mask:
        if peer.namespace is not None:
            ns_ok = self.in_namespace(peer.namespace)
        else:
            assert peer.namespace_selector is not None
            ns_ok = self.ns_labels.match(peer.namespace_selector)[self.classes.class_namespace]
        return ns_ok & self.pod_labels.match(peer.pod_selector) & ~self.classes.host_network

    def peer_mask(self, peer: Peer) -> Mask:
        cached = self._peer_memo.get(peer)
        if cached is not None:
            return cached
        out = np.zeros(self.n_peers, dtype=np.bool_)
        if isinstance(peer, PodPeer):
            out[: self.n_classes] = self.pod_peer_classes(peer)
        elif isinstance(peer, NodePeer):
            addresses = node_addresses(self.nodes, peer)
            out[self.n_classes :] = self.ips.mask(addresses)
            for c, address in self._host_addresses:
                out[c] = address is not None and address.issubset(addresses)
        else:
            out[self.n_classes :] = self.ips.mask(peer.addresses)
            for c, address in self._host_addresses:
                out[c] = self.block_matches_host(peer, address)
        out.setflags(write=False)
        self._peer_memo[peer] = out
        return out

    @staticmethod
    def block_matches_host(peer: IPBlockPeer, address: IPSet | None) -> bool:
        """A node address we do not know is matched only by a block that holds every IPv4
        address: whichever node the pod runs on, such a block contains its address."""
        if address is None:
            return peer.addresses.v4.intervals == ((0, IPV4_MAX),)
        return address.issubset(peer.addresses)

    def rule_peers(self, rule: Rule | AdminRule) -> Mask:
        if rule.peers is None:
            return self.all_peers()
        out = np.zeros(self.n_peers, dtype=np.bool_)
        for peer in rule.peers:
            out |= self.peer_mask(peer)
        return out

    def peer_index(self, peers: tuple[Peer, ...] | None) -> npt.NDArray[np.intp]:
        """The peer columns of a rule's `peers` (None: every column), as sorted indices;
        memoised, since policy sets repeat the same peer lists many times."""
        cached = self._peers_index.get(peers)
        if cached is None:
            if peers is None:
                cached = np.arange(self.n_peers)
            else:
                out = np.zeros(self.n_peers, dtype=np.bool_)
                for peer in peers:
                    out |= self.peer_mask(peer)
                cached = np.flatnonzero(out)
            self._peers_index[peers] = cached
        return cached

    # -- ports ---------------------------------------------------------------------
    def numeric_ports(self, specs: tuple[PortSpec, ...] | None) -> Mask:
        if specs is None:
            return np.ones(len(self.ports), dtype=np.bool_)
        out = np.zeros(len(self.ports), dtype=np.bool_)
        for spec in specs:
            if not spec.name:
                out |= self.ports.mask(spec.protocol, spec.start, spec.end)
        return out

    def named_atoms(self, protocol: Protocol, name: str) -> npt.NDArray[np.int64]:
        """Per class, the atom the named port resolves to on that class's pods, or -1."""
        key = (protocol, name)
        cached = self._named.get(key)
        if cached is None:
            cached = np.full(self.n_classes, -1, dtype=np.int64)
            for c, pod in enumerate(self.classes.reps):
                port = pod.named_port(name, protocol)
                if port is not None:
                    cached[c] = self.ports.atom_of(protocol, port)
            self._named[key] = cached
        return cached

    def named_matrix(self, specs: tuple[PortSpec, ...] | None) -> npt.NDArray[np.bool_] | None:
        """Rows: destination classes; columns: atoms its named ports resolve to. None when
        the rule has no named ports."""
        named = [s for s in specs or () if s.name]
        if not named:
            return None
        out = np.zeros((self.n_classes, len(self.ports)), dtype=np.bool_)
        rows = np.arange(self.n_classes)
        for spec in named:
            atoms = self.named_atoms(spec.protocol, spec.name)
            ok = atoms >= 0
            out[rows[ok], atoms[ok]] = True
        return out

    # -- ports, packed (engine/index/packed.py) -----------------------------------------------
    def numeric_words(self, specs: tuple[PortSpec, ...] | None) -> Bits:
        """`numeric_ports` packed: `[words]`."""
        cached = self._numeric_words.get(specs)
        if cached is None:
            cached = self._numeric_words[specs] = pack(self.numeric_ports(specs))
        return cached

    def named_words(self, specs: tuple[PortSpec, ...] | None) -> Bits | None:
        """`named_matrix` packed: `[destination class, words]`, or None without named ports."""
        if specs not in self._named_words:
            named = self.named_matrix(specs)
            self._named_words[specs] = None if named is None else pack(named)
        return self._named_words[specs]
