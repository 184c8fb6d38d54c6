"""`microseg flows import|stats|show` from the command line: the balance printed, exit codes,
stdin, mixed formats in one folder, endpoints resolved against the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

DATA = Path(__file__).parents[1] / "ingest" / "flows_data"
runner = CliRunner()


def test_mixed_folder_balances_and_resolves(tmp_path: Path, demo_dir: Path) -> None:
    db = str(tmp_path / "f.duckdb")
    got = runner.invoke(
        app, ["flows", "import", str(DATA), "--db", db, "--cluster-snapshot", str(demo_dir), "-q"]
    )
    assert got.exit_code == 0, got.output
    assert "total: read 36 = stored 26 + rejected 10" in got.stdout
    assert "hubble.json: hubble," in got.stdout
    assert "envoy.log: envoy," in got.stdout
    assert "2 unresolved" in got.stdout  # Calico's pub and pvt
    again = runner.invoke(app, ["flows", "import", str(DATA), "--db", db])
    assert again.exit_code == 0
    assert again.stdout.count("already imported") == 6
    stats = json.loads(runner.invoke(app, ["flows", "stats", "--db", db, "-o", "json"]).stdout)
    assert stats["kind"] == "FlowStats"
    assert stats["files"] == 6
    assert stats["rejected"] == 10
    assert stats["endpoints"]["unresolved"] == 2
    shown = json.loads(
        runner.invoke(
            app, ["flows", "show", "--db", db, "--verdict", "dropped", "-o", "json"]
        ).stdout
    )
    assert sorted((i["src"], i["dst"], i["port"]) for i in shown["items"]) == [
        ("frontend/webapp[Deployment]", "shop/postgres[StatefulSet]", 22),
        ("frontend/webapp[Deployment]", "shop/postgres[StatefulSet]", 5432),
    ]


def test_rejects_on_stderr_with_lines(tmp_path: Path) -> None:
    got = runner.invoke(
        app, ["flows", "import", str(DATA / "hubble.json"), "--db", str(tmp_path / "d")]
    )
    assert got.exit_code == 0
    assert "hubble.json:8: warning[MS501]: invalid JSON" in got.stderr
    assert "read 9 = stored 6 + rejected 3" in got.stdout


def test_nothing_read_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("hello\nworld\n")
    got = runner.invoke(
        app, ["flows", "import", str(bad), str(tmp_path / "nope"), "--db", str(tmp_path / "d")]
    )
    assert got.exit_code == 2
    assert "error[MS500]" in got.stderr
    assert "error[MS001]" in got.stderr
    assert "Traceback" not in got.output


def test_stdin_and_forced_format(tmp_path: Path) -> None:
    text = (DATA / "flows.csv").read_text()
    got = runner.invoke(
        app, ["flows", "import", "-", "--db", str(tmp_path / "d"), "--format", "csv"], input=text
    )
    assert got.exit_code == 0, got.output
    assert "<stdin>: csv, read 5 = stored 3 + rejected 2" in got.stdout
    bad = runner.invoke(
        app, ["flows", "import", "-", "--db", str(tmp_path / "d"), "--format", "xml"]
    )
    assert bad.exit_code == 2
    assert "--format 'xml'" in bad.stderr


def test_show_csv_reimports(tmp_path: Path) -> None:
    db = str(tmp_path / "d")
    runner.invoke(app, ["flows", "import", str(DATA / "hubble.json"), "--db", db])
    out = runner.invoke(app, ["flows", "show", "--db", db, "-o", "csv"]).stdout
    (tmp_path / "again.csv").write_text(out)
    got = runner.invoke(
        app, ["flows", "import", str(tmp_path / "again.csv"), "--db", str(tmp_path / "e")]
    )
    assert got.exit_code == 0
    assert "rejected 0" in got.stdout, got.output


def test_missing_db_for_stats(tmp_path: Path) -> None:
    got = runner.invoke(app, ["flows", "stats", "--db", str(tmp_path / "none.duckdb")])
    assert got.exit_code == 2
    assert "no such flow store" in got.stderr


def test_engine_options_are_checked(tmp_path: Path) -> None:
    hubble = str(DATA / "hubble.json")
    cases = [
        (["--out", str(tmp_path / "o")], "--out writes Parquet from Spark"),
        (["--db", "x", "--spark-master", "local[1]"], "--spark-master needs --engine spark"),
        ([], "give --db"),
        (["--engine", "spark", "--db", "x", "--out", str(tmp_path)], "give --db"),
        (["--engine", "spark", "--out", str(tmp_path)], "already exists"),
    ]
    for args, message in cases:
        got = runner.invoke(app, ["flows", "import", hubble, *args])
        assert got.exit_code == 2, args
        assert message in got.stderr, (args, got.stderr)


def test_spark_without_java_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr("shutil.which", lambda _: None)
    got = runner.invoke(
        app,
        [
            "flows",
            "import",
            str(DATA / "hubble.json"),
            "--engine",
            "spark",
            "--spark-master",
            "local[3]",
            "--db",
            str(tmp_path / "f.duckdb"),
        ],
    )
    assert got.exit_code == 2
    assert "error[MS503]: --engine spark needs a Java 17+ runtime" in got.stderr


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_engine_from_the_command_line(spark: object, tmp_path: Path) -> None:
    db = str(tmp_path / "f.duckdb")
    args = ["flows", "import", str(DATA / "hubble.json"), "--engine", "spark"]
    got = runner.invoke(app, [*args, "--spark-master", "local[2]", "--db", db])
    assert got.exit_code == 0, got.output
    assert "hubble, read 9 = stored 6 + rejected 3" in got.stdout
    assert "hubble.json:8: warning[MS501]: invalid JSON" in got.stderr
    again = runner.invoke(app, [*args, "--spark-master", "local[2]", "--db", db])
    assert "already imported" in again.stdout
