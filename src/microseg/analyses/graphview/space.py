"""The nodes of the segmentation graph: WorkloadGraph nodes, then the peers outside it.

Peers are the ingress controller and one node per group of IANA address classes
(model/addresses.py, from RFC 6890 and the IANA special-purpose registries). A person
reading a segmentation graph asks "does it reach the internet?", "the private networks?",
"the cloud metadata service?" (169.254.169.254 is link-local): those groups get a node
each. The remaining special-purpose classes (loopback, documentation, benchmarking,
multicast, reserved, ...) share one node, whose details list each class; a range that
spans several classes becomes one edge per group, so no address is drawn in the wrong
place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from microseg.engine import INGRESS_CONTROLLER_NAME, Connectivity, WorkloadGraph, workload_nodes
from microseg.model.addresses import AddressClass

__all__ = [
    "EXTERNAL_GROUPS",
    "EXTERNAL_PREFIX",
    "NodeSpace",
    "external_group",
    "group_of_class",
]

Ints = npt.NDArray[np.int64]
EXTERNAL_PREFIX = "external:"

_C = AddressClass
# (group id, its title, the classes it holds), in the order a legend lists them.
EXTERNAL_GROUPS: tuple[tuple[str, str, tuple[AddressClass, ...]], ...] = (
    ("public", "Internet (public addresses)", (_C.PUBLIC,)),
    ("private", "Private networks", (_C.PRIVATE, _C.UNIQUE_LOCAL)),
    ("shared", "Shared address space (CGNAT)", (_C.SHARED,)),
    ("link-local", "Link-local (cloud metadata)", (_C.LINK_LOCAL,)),
    (
        "special",
        "Other special-purpose addresses",
        tuple(
            c
            for c in AddressClass
            if c not in (_C.PUBLIC, _C.PRIVATE, _C.UNIQUE_LOCAL, _C.SHARED, _C.LINK_LOCAL)
        ),
    ),
)
_GROUP_OF = {cls: gid for gid, _, classes in EXTERNAL_GROUPS for cls in classes}


def group_of_class(cls: AddressClass) -> str:
    """The group id (`public`, `private`, ...) an address class is drawn in."""
    return _GROUP_OF[cls]


def external_group(group: str) -> str:
    """The node name of an address group: `external:public`."""
    return EXTERNAL_PREFIX + group


@dataclass(frozen=True, slots=True)
class NodeSpace:
    """`names[i]` is node i: the WorkloadGraph's nodes (`ns/name[Kind]`, or a pod of a
    split workload), then `extra` names (workloads only another input has, for a diff), then
    the peers. `ns_of[i]` indexes `namespaces`, -1 for a peer. `pod_node[p]` is the node of
    cluster pod p (the graph's own grouping, engine/views/workload.py)."""

    names: tuple[str, ...]
    namespaces: tuple[str, ...]
    ns_of: Ints
    n_workloads: int
    pod_node: Ints
    index: dict[str, int] = field(compare=False)

    @staticmethod
    def build(conn: Connectivity, graph: WorkloadGraph, extra: tuple[str, ...] = ()) -> NodeSpace:
        names, _, _, _, node_pods = workload_nodes(conn)
        if tuple(names) != graph.nodes:  # pragma: no cover - one function makes both
            raise AssertionError("the workload graph was built from another Connectivity")
        pod_node = np.full(len(conn.cluster.pods), -1, dtype=np.int64)
        for i, pods in enumerate(node_pods):
            pod_node[np.asarray(pods, dtype=np.int64)] = i
        workloads = [*graph.nodes, *(e for e in extra if e not in set(graph.nodes))]
        declared = {ns.name for ns in conn.cluster.namespaces}
        namespaces = tuple(sorted(declared | {w.split("/", 1)[0] for w in workloads}))
        at = {ns: i for i, ns in enumerate(namespaces)}
        peers = [INGRESS_CONTROLLER_NAME, *(external_group(g) for g, _, _ in EXTERNAL_GROUPS)]
        all_names = (*workloads, *peers)
        ns_of = np.array(
            [at[w.split("/", 1)[0]] for w in workloads] + [-1] * len(peers), dtype=np.int64
        )
        return NodeSpace(
            all_names,
            namespaces,
            ns_of,
            len(workloads),
            pod_node,
            {n: i for i, n in enumerate(all_names)},
        )

    def peer(self, name: str) -> int:
        return self.index[name]

    def group_node(self, cls: AddressClass) -> int:
        return self.index[external_group(group_of_class(cls))]

    def is_peer(self, i: int) -> bool:
        return i >= self.n_workloads
