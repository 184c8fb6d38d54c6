"""Runtime events read from the lines of their sources: Falco alerts (`falco.py`), the
Kubernetes audit log (`audit.py`) and flow records (`flows.py`, through the flow formats of
`microseg.ingest.flows`). Each parser takes a batch of raw lines and returns the events and
the lines it refused, each with its reason, so that every line read is accounted for.
Called only by adapters (`microseg watch`), like the rest of ingest."""

from microseg.ingest.events.audit import parse_audit
from microseg.ingest.events.falco import parse_falco
from microseg.ingest.events.lines import Line, Parsed, decode_error

__all__ = ["Line", "Parsed", "decode_error", "parse_audit", "parse_falco"]
