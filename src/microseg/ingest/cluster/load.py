"""`--cluster`: the live cluster read into a Cluster by the loader files go through."""

from __future__ import annotations

from microseg.errors import Diagnostic, InputError, Severity
from microseg.ingest.cluster.api import ClusterConfig
from microseg.ingest.cluster.reading import Progress, read_cluster
from microseg.ingest.manifests import load_documents
from microseg.model.cluster import Cluster

__all__ = ["load_cluster"]


def load_cluster(
    config: ClusterConfig,
    *,
    assume_system_pods: bool = False,
    on_progress: Progress | None = None,
) -> Cluster:
    """Read the cluster `config` names; raises InputError when it cannot be read (MS700,
    MS703) or an object is refused, as a file would be."""
    read = read_cluster(config, on_progress)
    fatal: list[Diagnostic] = [d for d in read.diagnostics if d.severity is Severity.ERROR]
    if fatal:
        raise InputError(fatal)
    return load_documents(read.items(), assume_system_pods=assume_system_pods)
