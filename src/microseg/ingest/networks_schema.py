"""Pydantic shapes of the raw `k8s.ovn.org/v1` UserDefinedNetwork and
ClusterUserDefinedNetwork documents: types only (a field of the wrong type comes back with
its path); the values the CRD restricts (topology, role, topology/layer agreement, the
reserved name and namespaces) are checked in ingest/networks.py with their own messages.

Fields follow the CRD references: UserDefinedNetwork [k8s.ovn.org/v1]
(https://docs.redhat.com/en/documentation/openshift_container_platform/4.21/html/network_apis/userdefinednetwork-k8s-ovn-org-v1)
and ClusterUserDefinedNetwork [k8s.ovn.org/v1]
(https://docs.redhat.com/en/documentation/openshift_container_platform/4.21/html/network_apis/clusteruserdefinednetwork-k8s-ovn-org-v1).
Fields the analysis does not use (subnets, ipam, mtu, joinSubnets) are not read.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictStr

from microseg.ingest.k8s_schema import RawLabelSelector, RawMetadata

__all__ = ["RawClusterUserDefinedNetwork", "RawNetworkSpec", "RawUserDefinedNetwork"]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


class RawLayer(_Raw):
    """`layer2`, `layer3` or `localnet`: only the role matters to connectivity."""

    role: StrictStr | None = None


class RawNetworkSpec(_Raw):
    topology: StrictStr | None = None
    layer2: RawLayer | None = None
    layer3: RawLayer | None = None
    localnet: RawLayer | None = None


class RawUserDefinedNetwork(_Raw):
    metadata: RawMetadata
    spec: RawNetworkSpec


class RawClusterSpec(_Raw):
    namespaceSelector: RawLabelSelector
    network: RawNetworkSpec


class RawClusterUserDefinedNetwork(_Raw):
    metadata: RawMetadata
    spec: RawClusterSpec
