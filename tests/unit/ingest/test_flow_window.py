"""Reading one learning window out of a flow store (`recommend --since`): the cut-off, the
time span, and the DNS names Hubble gave for external addresses."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from microseg.ingest.flows import FlowStore
from microseg.ingest.flows.window import read_window

CSV = """src,dst,protocol,port,count,first_seen,last_seen,verdict
a/web,b/db,TCP,5432,3,2026-11-20T10:00:00Z,2026-11-20T10:05:00Z,forwarded
a/web,b/db,TCP,5433,1,2026-11-19T09:00:00Z,2026-11-19T09:00:00Z,forwarded
a/web,b/api,TCP,8080,2,,,forwarded
"""


def _hubble(ip: str, names: list[str]) -> str:
    flow = {
        "time": "2026-11-20T10:30:00Z",
        "verdict": "FORWARDED",
        "IP": {"source": "10.0.0.5", "destination": ip},
        "l4": {"TCP": {"source_port": 40000, "destination_port": 443}},
        "source": {"namespace": "a", "pod_name": "web-1"},
        "destination": {},
        "destination_names": names,
    }
    return json.dumps({"flow": flow})


def test_window_cutoffs_and_names(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text(CSV)
    (tmp_path / "h.json").write_text(
        _hubble("93.184.216.34", ["example.com", "www.example.com."])
        + "\n"
        + _hubble("93.184.216.34", ["example.com"])
        + "\n"
    )
    with FlowStore(str(tmp_path / "s.duckdb")) as store:
        store.import_file(tmp_path / "f.csv", "f.csv")
        store.import_file(tmp_path / "h.json", "h.json")
        everything = read_window(store)
        assert len(everything.keys) == 4
        assert (everything.first_seen, everything.last_seen) == (
            "2026-11-19T09:00:00Z",
            "2026-11-20T10:30:00Z",
        )
        assert everything.names_of() == {"93.184.216.34": ("example.com", "www.example.com")}
        since = read_window(store, since=datetime(2026, 11, 20))
        assert len(since.keys) == 2  # the day before and the untimed key are out
        assert since.before_window == 2
        assert since.cutoff == "2026-11-20T00:00:00Z"
        recent = read_window(store, since_last=timedelta(minutes=30))
        assert len(recent.keys) == 2  # within 30 minutes of the newest record (10:30)
        assert recent.cutoff == "2026-11-20T10:00:00Z"
