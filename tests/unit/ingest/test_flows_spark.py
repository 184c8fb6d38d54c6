"""`flows import --engine spark`: the same SQL on Spark gives the same store as DuckDB on
every fixture format (keys, rejects with their lines and reasons, counts), reads Parquet
inputs, and writes Parquet with --out. One Spark session for the test process (conftest);
each test is one Spark run, since a run costs seconds even on a few lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from microseg.ingest.flows import FlowStore
from microseg.ingest.flows.spark import import_with_spark

DATA = Path(__file__).parent / "flows_data"
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

KEYS = "SELECT * FROM flows ORDER BY ALL"
REJECTS = "SELECT file, line, reason FROM rejects ORDER BY ALL"
IMPORTS = "SELECT file, format, read, stored, rejected FROM imports ORDER BY ALL"


def _odd_file(tmp: Path) -> Path:
    """Blank lines, a line that is not UTF-8, JSON that is no object, a cut last line."""
    good = (DATA / "hubble.json").read_text().splitlines()[0]
    path = tmp / "odd.json"
    path.write_bytes(
        "\n".join([good, "", "[1,2]", '"str"', "   ", "{}", "{'single': 1}"]).encode()
        + b"\n\xff\xfe not utf-8\n"
        + good.encode()
        + b"\n"
        + good[:70].encode()
    )
    return path


def test_spark_equals_duckdb_on_every_format(spark: Any, tmp_path: Path) -> None:
    files = [(p, p.name) for p in sorted(DATA.iterdir())]
    files.append((_odd_file(tmp_path), "odd.json"))
    with FlowStore(":memory:") as duck, FlowStore(":memory:") as sp:
        by_duck = duck.import_files(files)
        by_spark = import_with_spark(spark, files, None, sp)
        assert by_spark == by_duck
        assert all(r.read == r.stored + r.rejected for r in by_spark)  # type: ignore[union-attr]
        assert sp.query(IMPORTS) == duck.query(IMPORTS)
        assert sp.query(KEYS) == duck.query(KEYS)
        assert sp.query(REJECTS) == duck.query(REJECTS)
        odd = dict(sp.query("SELECT line, reason FROM rejects WHERE file = 'odd.json'"))
        assert odd == {
            3: "not a JSON object",
            4: "not a JSON object",
            6: "not a flow with IP source and destination (Hubble Flow.IP)",
            7: "invalid JSON",
            8: "not UTF-8 text",
            10: "truncated record (last line of the file ends before the JSON does)",
        }
        # The reject's text is the line's start, as DuckDB's import keeps it.
        text = "SELECT file, line, text FROM rejects WHERE line <> 8 ORDER BY ALL"
        assert sp.query(text) == duck.query(text)


def test_spark_parquet_in_and_out(spark: Any, tmp_path: Path) -> None:
    """Hubble records as Parquet rows (as a data lake keeps them) give the keys the JSON
    lines give; --out writes the keys, rejects and imports as Parquet."""
    src = DATA / "hubble-exporter.json"
    parquet = tmp_path / "in" / "part-0.parquet"
    parquet.parent.mkdir()
    duckdb.sql(
        f"COPY (SELECT * FROM read_json('{src}', format = 'newline_delimited')) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    out = tmp_path / "out"
    (got,) = import_with_spark(spark, [(parquet, "part-0.parquet")], None, None, out)
    assert (got.format, got.read, got.stored, got.rejected) == ("hubble", 9, 7, 2)  # type: ignore[union-attr]
    with FlowStore(":memory:") as duck:
        duck.import_file(src, "x")
        expected = duck.query(
            "SELECT * EXCLUDE (first_seen, last_seen, format) FROM flows ORDER BY ALL"
        )
    keys = duckdb.sql(
        f"SELECT * EXCLUDE (first_seen, last_seen, format) FROM read_parquet('{out}/flows/*.parquet') "
        "ORDER BY ALL"
    ).fetchall()
    assert keys == expected
    rejects = duckdb.sql(
        f"SELECT line, reason FROM read_parquet('{out}/rejects/*.parquet') ORDER BY line"
    ).fetchall()
    assert [line for line, _ in rejects] == [8, 9]
    imports = duckdb.sql(
        f"SELECT file, format, read, stored, rejected FROM read_parquet('{out}/imports/*.parquet')"
    ).fetchall()
    assert imports == [("part-0.parquet", "hubble", 9, 7, 2)]
