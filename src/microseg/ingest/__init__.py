"""Reading the outside world into model objects. Called only by adapters and `microseg.load`."""

from microseg.ingest.manifests import ClusterBuilder, load

__all__ = ["ClusterBuilder", "load"]
