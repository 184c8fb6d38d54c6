"""Which format a file of flow records is in, from its first records.

Only the first few non-empty lines are parsed here (a bounded sample, read in Python);
the records themselves are parsed by DuckDB (formats.py). The fields looked for are the
ones each format always has: Hubble's Flow `IP`/`l4`/`verdict` (or its `{"flow": ...}`
wrapper), Calico's `reporter`/`source_namespace`/`dest_port`, Envoy's
`downstream_remote_address`/`upstream_cluster`, and the CSV header.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from microseg.ingest.flows.formats import CSV_HEADER, FlowFormat

__all__ = ["SAMPLE_LINES", "UnknownFormatError", "detect_format", "detect_lines"]

SAMPLE_LINES = 20

_MARKS: tuple[tuple[FlowFormat, frozenset[str]], ...] = (
    (FlowFormat.HUBBLE, frozenset({"IP", "l4", "verdict", "Type", "traffic_direction"})),
    (
        FlowFormat.CALICO,
        frozenset({"reporter", "source_namespace", "dest_port", "num_flows", "action"}),
    ),
    (
        FlowFormat.ENVOY,
        frozenset({"downstream_remote_address", "upstream_cluster", "upstream_host"}),
    ),
)


class UnknownFormatError(ValueError):
    """No sampled record looks like any known format."""


def _vote(record: object) -> FlowFormat | None:
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("flow"), dict):
        return FlowFormat.HUBBLE
    best, score = None, 0
    for fmt, marks in _MARKS:
        hits = len(marks & record.keys())
        if hits > score:
            best, score = fmt, hits
    return best


def detect_format(path: Path) -> FlowFormat:
    with path.open("rb") as f:
        return detect_lines(raw.decode("utf-8", "replace") for raw in f)


def detect_lines(lines: Iterable[str]) -> FlowFormat:
    """The format of the first records among `lines` (at most SAMPLE_LINES are parsed)."""
    votes: dict[FlowFormat, int] = {}
    seen = 0
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if seen == 0 and text.replace(" ", "").lower().startswith(CSV_HEADER[:8]):
            return FlowFormat.CSV
        seen += 1
        try:
            fmt = _vote(json.loads(text))
        except ValueError:
            fmt = None
        if fmt is not None:
            votes[fmt] = votes.get(fmt, 0) + 1
        if seen >= SAMPLE_LINES:
            break
    if not votes:
        raise UnknownFormatError(
            "cannot tell the format from the first records: expected Hubble JSON flows, "
            f"Calico flow logs, Envoy JSON access logs or a CSV with the header {CSV_HEADER} "
            "(or give --format)"
        )
    return max(votes, key=lambda k: votes[k])
