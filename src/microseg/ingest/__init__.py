"""Reading the outside world into model objects. Called only by adapters and `microseg.load`."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from microseg.ingest.limits import MAX_INPUT_BYTES
    from microseg.ingest.manifests import ClusterBuilder, load

__all__ = ["MAX_INPUT_BYTES", "ClusterBuilder", "load"]

# Each name's module, imported on first use (PEP 562): importing one submodule (the
# engine options the CLI reads, say) no longer loads every other one, and numpy with them.
_HOME = {
    "ClusterBuilder": "microseg.ingest.manifests",
    "MAX_INPUT_BYTES": "microseg.ingest.limits",
    "load": "microseg.ingest.manifests",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
