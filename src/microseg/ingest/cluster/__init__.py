"""The live cluster through the official `kubernetes` client: discovery, paginated lists
and watches, each object turned into the `Document` the file reader yields and read by the
same loader (ingest/manifests.py), so that a folder dump and the API give one answer.

`load_cluster` is the one-shot read every command's `--cluster` uses; `microseg.live`
builds its watch loops from `list_resource`, `watch_resource` and `LiveState`.
"""

from microseg.ingest.cluster.api import Api, ApiError, ClusterConfig, ConfigError, connect
from microseg.ingest.cluster.kinds import KINDS, Resource, WantedKind, discover, resource_for
from microseg.ingest.cluster.load import load_cluster
from microseg.ingest.cluster.reading import (
    ClusterRead,
    Listing,
    Progress,
    list_resource,
    origin_file,
    read_cluster,
    to_document,
)

__all__ = [
    "KINDS",
    "Api",
    "ApiError",
    "ClusterConfig",
    "ClusterRead",
    "ConfigError",
    "Listing",
    "Progress",
    "Resource",
    "WantedKind",
    "connect",
    "discover",
    "list_resource",
    "load_cluster",
    "origin_file",
    "read_cluster",
    "resource_for",
    "to_document",
]
