"""Reading the outside world into model objects. Called only by adapters and `microseg.load`."""

from microseg.ingest.documents import MAX_INPUT_BYTES
from microseg.ingest.manifests import ClusterBuilder, load

__all__ = ["MAX_INPUT_BYTES", "ClusterBuilder", "load"]
