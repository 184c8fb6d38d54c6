"""`microseg recommend` and `microseg generate` as a user runs them: the done-when of the
issue (import Hubble-style flows, recommend, replay the result with simulate), exit codes,
stale files, and bad input as located errors with exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

runner = CliRunner()
MICROSEG = [sys.executable, "-c", "from microseg.cli.app import main; main()"]


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _hubble_line(
    src: tuple[str, str], dst: tuple[str, str] | str, port: int, proto: str = "TCP"
) -> str:
    def ep(x: tuple[str, str] | str) -> dict[str, object]:
        if isinstance(x, str):
            return {}
        return {
            "namespace": x[0],
            "pod_name": x[1] + "-7d9f8b6c5-x2x4z",
            "workloads": [{"name": x[1], "kind": "Deployment"}],
        }

    flow = {
        "time": "2026-11-20T10:00:00.000Z",
        "verdict": "FORWARDED",
        "IP": {
            "source": "10.244.1.5",
            "destination": dst if isinstance(dst, str) else "10.244.2.9",
        },
        "l4": {proto: {"source_port": 40000, "destination_port": port}},
        "source": ep(src),
        "destination": ep(dst),
        "Type": "L3_L4",
        "is_reply": False,
    }
    return json.dumps({"flow": flow})


@pytest.fixture
def db(tmp_path: Path, demo_dir: Path) -> str:
    path = str(tmp_path / "f.duckdb")
    code, _, err = run("flows", "import", str(demo_dir / "flows.csv"), "--db", path, "-q")
    assert code == 0, err
    return path


def test_done_when_hubble_flows_to_proven_policies(tmp_path: Path, demo_dir: Path) -> None:
    """flows import hubble.json --db f.duckdb && recommend cluster/ --flows f.duckdb --out policies/"""
    lines = [
        _hubble_line(("frontend", "webapp"), ("shop", "api-gateway"), 8080),
        _hubble_line(("shop", "api-gateway"), ("shop", "catalog"), 9090),
        _hubble_line(("shop", "catalog"), ("shop", "postgres"), 5432),
        _hubble_line(("frontend", "webapp"), "93.184.216.34", 443),
    ]
    (tmp_path / "hubble.json").write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "f.duckdb")
    out = tmp_path / "policies"
    env = {**os.environ, "COLUMNS": "200"}
    imp = subprocess.run(
        [*MICROSEG, "flows", "import", str(tmp_path / "hubble.json"), "--db", db],
        capture_output=True,
        text=True,
        env=env,
    )
    assert imp.returncode == 0, imp.stderr
    rec = subprocess.run(
        [*MICROSEG, "recommend", str(demo_dir), "--flows", db, "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout.startswith("PROVEN ")
    assert "least privilege:" in rec.stdout
    assert "Traceback" not in rec.stderr
    written = sorted(p.name for p in out.glob("*.yaml"))
    assert written == [
        "frontend.yaml",
        "kube-system.yaml",
        "monitoring.yaml",
        "payments.yaml",
        "shop.yaml",
    ]
    assert "93.184.216.34/32" in (out / "frontend.yaml").read_text()
    # never seen: a warning each, and only the default deny
    assert "warning[MS522]: shop/redis[Deployment]" in rec.stderr
    sim = subprocess.run(
        [
            *MICROSEG,
            "simulate",
            str(demo_dir),
            "--flows",
            db,
            "--with",
            str(out),
            "--layer",
            "network",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert sim.returncode == 0, sim.stdout


def test_rollout_steps_apply_one_at_a_time_without_breaking(
    db: str, demo_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p"
    code, stdout, _ = run(
        "recommend", str(demo_dir), "--flows", db, "--out", str(out), "--rollout", "-o", "json"
    )
    assert code == 0
    doc = json.loads(stdout)
    steps = doc["rollout"]
    assert [s["breaks"] for s in steps] == [0] * len(steps)
    files = [s["file"] for s in steps]
    assert files == sorted(p.name for p in out.glob("*.yaml"))
    assert files[0].startswith("1-")
    assert files[-1].endswith("shop.yaml")
    applied: list[str] = []
    for name in files:
        applied += ["--with", str(out / name)]
        code, got, _ = run(
            "simulate",
            str(demo_dir),
            "--flows",
            db,
            *applied,
            "--layer",
            "network",
            "-o",
            "json",
            "-q",
        )
        assert json.loads(got)["newlyDenied"]["total"] == 0, name


def test_stale_files_of_an_earlier_run_are_removed(db: str, demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    out.mkdir()
    (out / "notes.yaml").write_text("# mine\n")
    (out / "gone.yaml").write_text("# Generated by `microseg recommend` ...\n")
    code, _, _ = run("recommend", str(demo_dir), "--flows", db, "--out", str(out), "-q")
    assert code == 0
    assert (out / "notes.yaml").exists()
    assert not (out / "gone.yaml").exists()
    before = {p.name: p.read_text() for p in out.glob("*.yaml")}
    run("recommend", str(demo_dir), "--flows", db, "--out", str(out), "-q")
    assert {p.name: p.read_text() for p in out.glob("*.yaml")} == before  # stable: no diff


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "error[MS520]: --since: 'yesterday': expected an RFC 3339 time"),
        (["--min-count", "0"], "error[MS520]: --min-count: 0: expected 1 or more"),
        (["--max-prefix", "33"], "error[MS520]: --max-prefix: 33: expected 0-32"),
        (["--node-cidr", "10.0.0/99"], "error[MS520]: --node-cidr: '10.0.0/99': expected a CIDR"),
        (["--allow-probes"], "error[MS520]: --allow-probes: no node addresses"),
        (["--format", "calico"], "invalid value for '--format'"),
        (
            ["--since", "2030-01-01T00:00:00Z"],
            "nothing to learn from (--since 2030-01-01T00:00:00Z leaves none",
        ),
    ],
)
def test_bad_options_exit_2(
    db: str, demo_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = run(
        "recommend", str(demo_dir), "--flows", db, "--out", str(tmp_path / "p"), *args
    )
    assert code == 2
    assert message in err
    assert out == ""
    assert "Traceback" not in err


def test_bad_stores_and_outputs_exit_2(demo_dir: Path, tmp_path: Path, db: str) -> None:
    code, _, err = run(
        "recommend",
        str(demo_dir),
        "--flows",
        str(tmp_path / "none.duckdb"),
        "--out",
        str(tmp_path / "p"),
    )
    assert code == 2
    assert "error[MS520]: --flows" in err
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database\n")
    code, _, err = run(
        "recommend", str(demo_dir), "--flows", str(junk), "--out", str(tmp_path / "p")
    )
    assert code == 2
    assert "error[MS502]" in err
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = run("recommend", str(demo_dir), "--flows", db, "--out", str(target))
    assert code == 2
    assert "error[MS521]: --out" in err


def test_bad_manifests_and_intents_are_located(tmp_path: Path, db: str, demo_dir: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\n"
        "spec:\n  podSelector: {}\n  ingress:\n    - ports: [{port: 70000}]\n"
    )
    code, out, err = run("recommend", str(bad), "--flows", db, "--out", str(tmp_path / "p"))
    assert code == 2
    assert out == ""
    assert f"{bad}:7: error[MS102]:" in err
    intents = tmp_path / "i.yaml"
    intents.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: t}\n"
        "spec:\n  allow:\n    - {from: nowhere, to: web}\n"
    )
    code, out, err = run(
        "generate", str(demo_dir), "--intents", str(intents), "--out", str(tmp_path / "g")
    )
    assert code == 2
    assert out == ""
    assert f"{intents}:6: error[MS401]" in err


def test_generate_from_intents_is_proven(demo_dir: Path, tmp_path: Path) -> None:
    workloads = [
        str(demo_dir / f)
        for f in (
            "namespaces.yaml",
            "frontend.yaml",
            "shop.yaml",
            "payments.yaml",
            "monitoring.yaml",
            "kube-system.yaml",
        )
    ]
    out = tmp_path / "g"
    code, stdout, err = run(
        "generate", *workloads, "--intents", str(demo_dir / "intents.yaml"), "--out", str(out)
    )
    assert code == 0, stdout + err
    assert stdout.startswith("PROVEN ")
    code, stdout, _ = run(
        "verify", *workloads, str(out), "--intents", str(demo_dir / "intents.yaml")
    )
    assert code == 0
    assert stdout.startswith("PASS all 18 intents hold")
    code, stdout, _ = run(
        "generate",
        *workloads,
        "--intents",
        str(demo_dir / "intents.yaml"),
        "--out",
        str(out),
        "--format",
        "adminnetworkpolicy",
        "-o",
        "json",
    )
    assert code == 0, stdout
    doc = json.loads(stdout)
    assert doc["holds"]
    assert doc["excess"]["total"] == 0
    assert "cluster-guardrails.yaml" in [f["path"] for f in doc["files"]]
