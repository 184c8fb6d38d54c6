"""Flow records read as watch events (ingest/events/flows.py): the fast reader and the
precise one give the same events; a connection reported at both ends counts once, with
the pair's verdict; each line is an event, a reject with its reason, or no record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from microseg.ingest.events.flows import FlowParser
from microseg.ingest.events.lines import Line
from microseg.ingest.flows import FlowFormat
from tests.unit.analyses.runtime.streams import hubble

DATA = Path(__file__).resolve().parents[1] / "flows_data"


def lines(texts: list[str]) -> list[Line]:
    return [Line("flows.json", i + 1, t.encode()) for i, t in enumerate(texts)]


def columns(parser: FlowParser, texts: list[str]) -> dict[str, list[object]]:
    batch, rejects, _ = parser.parse(lines(texts), 0.0)
    eps = [batch.endpoints[i] for i in batch.src]
    return {
        "src": [(e.ns, e.pod, e.ip) for e in eps],
        "port": batch.port.tolist(),
        "denied": batch.denied.tolist(),
        "time": batch.time.tolist(),
        "line": [batch.records[i].line for i in batch.record],
        "rejects": [(r.record.line, r.reason) for r in rejects],
    }


def test_fast_and_precise_readers_agree() -> None:
    texts = [
        hubble(i * 0.5, port=5432 + i, verdict=("DROPPED", "FORWARDED")[i % 2]) for i in range(6)
    ]
    parser = FlowParser(FlowFormat.HUBBLE)
    try:
        fast = columns(parser, texts)
        assert parser.fast == 1
        # One bad line makes the fast reader refuse the batch: the precise one reads it.
        precise = columns(parser, [*texts[:3], '{"flow": {"time": ', *texts[3:]])
        assert parser.fast == 1
    finally:
        parser.close()
    assert fast["rejects"] == []
    assert precise["rejects"] == [(4, "invalid JSON")]
    assert precise["line"] == [1, 2, 3, 5, 6, 7]
    for k in ("src", "port", "denied", "time"):
        assert precise[k] == fast[k], k
    assert fast["port"] == [5432, 5433, 5434, 5435, 5436, 5437]
    assert fast["denied"] == [True, False, True, False, True, False]


def test_a_cut_last_line_is_a_truncated_record() -> None:
    texts = [hubble(0), hubble(1)[:40]]
    parser = FlowParser(FlowFormat.HUBBLE)
    try:
        batch, rejects, _ = parser.parse(
            [Line("f", 1, texts[0].encode()), Line("f", 2, texts[1].encode(), cut=True)], 0.0
        )
    finally:
        parser.close()
    assert len(batch) == 1
    assert [(r.record.line, r.reason.split(" (")[0]) for r in rejects] == [(2, "truncated record")]


def test_hubble_two_ends_of_one_connection_count_once_with_the_drop() -> None:
    egress = json.loads(hubble(0, verdict="FORWARDED", port=5432))
    ingress = json.loads(json.dumps(egress))
    ingress["flow"]["traffic_direction"] = "INGRESS"
    ingress["flow"]["verdict"] = "DROPPED"  # the destination's policy refused it
    other = hubble(1, verdict="FORWARDED", port=6379)
    parser = FlowParser(FlowFormat.HUBBLE)
    try:
        got = columns(parser, [json.dumps(egress), json.dumps(ingress), other])
    finally:
        parser.close()
    assert got["line"] == [1, 3]
    assert got["denied"] == [True, False]
    assert got["rejects"] == [
        (2, "the same flow reported by its other end (Hubble traffic_direction)")
    ]


def test_calico_reporters_fold_and_every_line_is_accounted_for() -> None:
    texts = (DATA / "calico.json").read_text().splitlines()
    parser = FlowParser(FlowFormat.CALICO)
    try:
        batch, rejects, blank = parser.parse(lines(texts), 0.0)
    finally:
        parser.close()
    reasons = dict((r.record.line, r.reason) for r in rejects)
    assert reasons[2] == "the same flow reported by its other end (Calico reporter)"
    assert 5 in reasons  # start_time is not a time
    assert len(batch) + len(rejects) + blank == len(texts)
    assert np.all(batch.time > 0)
