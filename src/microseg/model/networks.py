"""OVN-Kubernetes user-defined networks (`k8s.ovn.org/v1` UserDefinedNetwork and
ClusterUserDefinedNetwork) and the primary network each namespace ends up on.

Why they matter to segmentation: a namespace whose primary network is a user-defined
network gets its own isolated pod network; its pods cannot talk to pods of the default
network or of another primary network, whatever the NetworkPolicies say (OpenShift
"About user-defined networks", https://docs.redhat.com/en/documentation/openshift_container_platform/4.18/html/networking/primary-networks).
A Secondary network adds an interface and changes nothing about the primary one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from microseg.errors import Origin
from microseg.model.selectors import LabelSelector

__all__ = [
    "PRIMARY_UDN_LABEL",
    "NetworkKind",
    "NetworkRole",
    "Networks",
    "Topology",
    "UserDefinedNetwork",
]

# A namespace must carry this label when it is created for a primary (C)UDN to become its
# primary network (OpenShift "Creating a namespace for user-defined networks").
PRIMARY_UDN_LABEL = "k8s.ovn.org/primary-user-defined-network"


class Topology(Enum):
    """`spec.topology` (UDN: Layer2 or Layer3) or `spec.network.topology` (CUDN: also
    Localnet, which the CRD allows only as a Secondary network), per the CRD references
    UserDefinedNetwork / ClusterUserDefinedNetwork [k8s.ovn.org/v1] (OpenShift network APIs)."""

    LAYER2 = "Layer2"
    LAYER3 = "Layer3"
    LOCALNET = "Localnet"


class NetworkRole(Enum):
    PRIMARY = "Primary"
    SECONDARY = "Secondary"


class NetworkKind(Enum):
    UDN = "UDN"
    CUDN = "CUDN"


@dataclass(frozen=True, slots=True)
class UserDefinedNetwork:
    """One UDN (namespaced) or CUDN (cluster-wide, with the namespaces it selects)."""

    kind: NetworkKind
    name: str
    topology: Topology
    role: NetworkRole
    namespace: str = ""
    """The UDN's namespace; empty for a CUDN."""
    namespace_selector: LabelSelector | None = None
    """The CUDN's `spec.namespaceSelector`; None for a UDN."""
    origin: Origin = field(default=Origin(), compare=False)

    @property
    def qualified_name(self) -> str:
        """`ns/name` for a UDN, `name` for a CUDN: unique among networks of one kind."""
        return f"{self.namespace}/{self.name}" if self.kind is NetworkKind.UDN else self.name

    @property
    def is_primary(self) -> bool:
        return self.role is NetworkRole.PRIMARY


@dataclass(frozen=True, slots=True)
class Networks:
    """Every network read, and the primary network of each namespace that has one.

    A namespace absent from `primary` is on the cluster's default pod network.
    """

    networks: tuple[UserDefinedNetwork, ...] = ()
    primary: tuple[tuple[str, UserDefinedNetwork], ...] = ()

    def primary_of(self, namespace: str) -> UserDefinedNetwork | None:
        for name, network in self.primary:
            if name == namespace:
                return network
        return None

    def primary_map(self) -> dict[str, UserDefinedNetwork]:
        return dict(self.primary)

    def __bool__(self) -> bool:
        return bool(self.primary)
