"""Shared by the synth tests: flow keys from CSV-like tuples, and the demo's flows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microseg.model.flow_window import FlowWindow
from microseg.model.flows import FlowKeys, ObservedEndpoint

DEMO_FLOWS = Path(__file__).resolve().parents[3] / "examples" / "demo" / "flows.csv"


def endpoint(text: str) -> ObservedEndpoint:
    if "/" in text and not text[0].isdigit() and ":" not in text:
        ns, name = text.split("/", 1)
        return ObservedEndpoint(ns, "", name, "")
    return ObservedEndpoint("", "", "", text)


def window(
    rows: list[tuple[str, str, str, int, int, str]], first: str = "", last: str = ""
) -> FlowWindow:
    """(src, dst, protocol, port, count, verdict) per key."""
    eps: list[ObservedEndpoint] = []
    index: dict[ObservedEndpoint, int] = {}

    def at(text: str) -> int:
        e = endpoint(text)
        if e not in index:
            index[e] = len(eps)
            eps.append(e)
        return index[e]

    protos = tuple(sorted({r[2] for r in rows}))
    verdicts = tuple(sorted({r[5] for r in rows}))
    src = np.array([at(r[0]) for r in rows], np.int64)
    dst = np.array([at(r[1]) for r in rows], np.int64)
    keys = FlowKeys(
        tuple(eps),
        protos,
        verdicts,
        src,
        dst,
        np.array([protos.index(r[2]) for r in rows], np.int64),
        np.array([r[3] for r in rows], np.int64),
        np.array([verdicts.index(r[5]) for r in rows], np.int64),
        np.array([r[4] for r in rows], np.int64),
    )
    return FlowWindow(keys, first, last)


def demo_window() -> FlowWindow:
    rows = []
    for line in DEMO_FLOWS.read_text().splitlines()[1:]:
        if not line or line.startswith("#"):
            continue
        src, dst, proto, port, count, _, _, verdict = line.split(",")
        rows.append((src, dst, proto, int(port), int(count), verdict))
    return window(rows, "2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z")
