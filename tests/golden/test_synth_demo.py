"""Goldens for `recommend` and `generate` on the demo shop: the reports and every policy
file written, so that a change to the generator shows as a diff of the YAML a user would
apply. `pytest tests/golden --update-goldens` rewrites them.

The flow store is made by `flows import examples/demo/flows.csv`; the temporary folder's
path is replaced by `OUT` / `DB` in the outputs so they do not depend on where tests run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

from .conftest import GOLDEN_ROOT, Golden

runner = CliRunner()

RECOMMEND = [
    ("demo_recommend", "recommend.txt", []),
    ("demo_recommend", "recommend.json", ["-o", "json"]),
    ("demo_recommend_replace", "recommend.txt", ["--replace-existing", "--rollout"]),
    ("demo_recommend_anp", "recommend.txt", ["--format", "adminnetworkpolicy"]),
    ("demo_recommend_istio", "recommend.txt", ["--format", "istio"]),
]


@pytest.fixture(scope="module")
def flow_db(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> str:
    db = str(tmp_path_factory.mktemp("flows") / "f.duckdb")
    got = runner.invoke(app, ["flows", "import", str(demo_dir / "flows.csv"), "--db", db, "-q"])
    assert got.exit_code == 0, got.output
    return db


def _clean(text: str, out: Path, db: str) -> str:
    return text.replace(str(out), "OUT").replace(db, "DB")


@pytest.mark.parametrize(
    ("scenario", "filename", "args"), RECOMMEND, ids=[f"{c[0]}/{c[1]}" for c in RECOMMEND]
)
def test_recommend_golden(
    golden: Golden,
    demo: str,
    flow_db: str,
    tmp_path: Path,
    scenario: str,
    filename: str,
    args: list[str],
) -> None:
    out = tmp_path / "policies"
    got = runner.invoke(app, ["recommend", demo, "--flows", flow_db, "--out", str(out), *args])
    assert got.exit_code == 0, got.output
    golden(f"{scenario}/{filename}", _clean(got.stdout, out, flow_db))
    if filename.endswith(".txt"):
        for f in sorted(out.glob("*.yaml")):
            golden(f"{scenario}/policies/{f.name}", f.read_text())


def test_generate_golden(golden: Golden, demo: str, tmp_path: Path) -> None:
    out = tmp_path / "policies"
    args = [
        "generate",
        demo,
        "--intents",
        f"{demo}/intents.yaml",
        "--out",
        str(out),
        "--replace-existing",
    ]
    got = runner.invoke(app, args)
    assert got.exit_code == 0, got.output
    golden("demo_generate/generate.txt", _clean(got.stdout, out, ""))
    for f in sorted(out.glob("*.yaml")):
        golden(f"demo_generate/policies/{f.name}", f.read_text())
    js = runner.invoke(app, [*args, "-o", "json"])
    assert js.exit_code == 0
    golden("demo_generate/generate.json", _clean(js.stdout, out, ""))


def test_generate_keeps_the_gap_when_the_old_policies_stay(demo: str, tmp_path: Path) -> None:
    got = runner.invoke(
        app,
        [
            "generate",
            demo,
            "--intents",
            f"{demo}/intents.yaml",
            "--out",
            str(tmp_path),
            "-o",
            "json",
        ],
    )
    assert got.exit_code == 1
    doc = json.loads(got.stdout)
    assert doc["kind"] == "GenerationReport"
    assert [f["id"] for f in doc["verification"]["findings"] if f["status"] == "violated"] == [
        "shop/deny[0]"
    ]
    assert doc["excess"]["total"] > 0


def test_recommend_json_shape(demo: str, flow_db: str, tmp_path: Path) -> None:
    got = runner.invoke(
        app, ["recommend", demo, "--flows", flow_db, "--out", str(tmp_path), "-o", "json"]
    )
    doc = json.loads(got.stdout)
    assert doc["apiVersion"] == "microseg.dev/v1alpha1"
    assert doc["kind"] == "RecommendationReport"
    proof = doc["proof"]
    assert proof["holds"] is True
    assert proof["denied"] == {"total": 0, "failures": 0, "items": []}
    assert proof["checkedKeys"] == doc["flows"]["learntKeys"] == 26
    assert 0 < proof["score"] <= 1
    assert sum(w["observed"] for w in proof["workloads"]) >= proof["observed"]
    assert doc["unseenWorkloads"] == []
    assert [f["path"] for f in doc["files"]] == [
        "frontend.yaml",
        "kube-system.yaml",
        "monitoring.yaml",
        "payments.yaml",
        "shop.yaml",
    ]


def test_synth_goldens_do_not_depend_on_the_checkout_location(demo_dir: Path) -> None:
    repo = str(demo_dir.parents[1])
    folders = {c[0] for c in RECOMMEND} | {"demo_generate"}
    files = [p for f in folders for p in (GOLDEN_ROOT / f).rglob("*") if p.is_file()]
    assert len(files) >= 30
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert repo not in text, path
        assert "/tmp" not in text, path
        assert text.strip(), path
