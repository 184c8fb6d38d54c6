"""microseg: exact, explained micro-segmentation analysis for Kubernetes.

import microseg
cluster = microseg.load(["manifests/"])
conn = microseg.Connectivity.build(cluster)
print(conn.reach("shop/frontend", "shop/db").verdict)
"""

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
