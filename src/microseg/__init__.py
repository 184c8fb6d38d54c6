"""microseg: exact, explained micro-segmentation analysis for Kubernetes.

import microseg
cluster = microseg.load(["manifests/"])
conn = microseg.Connectivity.build(cluster)
print(conn.reach("shop/frontend", "shop/db").verdict)

The names below are imported on first use (PEP 562 module `__getattr__`): importing any
part of the package (the CLI's `--help`, say) would otherwise load the engine, numpy and
the parsers first, which cost most of a short command's time.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from microseg.engine import Connectivity, Decision, Verdict
    from microseg.errors import Diagnostic, InputError, MicrosegError
    from microseg.ingest import load
    from microseg.model import Cluster, ConnSet, Protocol, changes

__all__ = [
    "Cluster",
    "ConnSet",
    "Connectivity",
    "Decision",
    "Diagnostic",
    "InputError",
    "MicrosegError",
    "Protocol",
    "Verdict",
    "changes",
    "load",
]

_HOME = {
    "Cluster": "microseg.model",
    "ConnSet": "microseg.model",
    "Connectivity": "microseg.engine",
    "Decision": "microseg.engine",
    "Diagnostic": "microseg.errors",
    "InputError": "microseg.errors",
    "MicrosegError": "microseg.errors",
    "Protocol": "microseg.model",
    "Verdict": "microseg.engine",
    "changes": "microseg.model.changes",  # a module
    "load": "microseg.ingest",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'microseg' has no attribute {name!r}")
    module = import_module(home)
    value = module if name == "changes" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
