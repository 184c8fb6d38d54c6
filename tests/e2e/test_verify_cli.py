"""`microseg verify` and `microseg schema` as a user runs them: exit codes, streams, and
located errors for bad intent files, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def intents(tmp_path: Path, body: str) -> str:
    path = tmp_path / "intents.yaml"
    path.write_text(
        "apiVersion: microseg.dev/v1alpha1\nkind: SegmentationIntent\nmetadata: {name: t}\n"
        "spec:\n" + body
    )
    return str(path)


def test_demo_fails_on_the_gap(demo_dir: Path) -> None:
    code, out, err = run("verify", str(demo_dir), "--intents", str(demo_dir / "intents.yaml"))
    assert code == 1
    assert out.startswith("FAIL 1 of 18 intents violated\n")
    assert "shop/deny[0]" in out
    assert err == ""


def test_all_hold_exits_0(demo_dir: Path, tmp_path: Path) -> None:
    path = intents(
        tmp_path,
        "  groups:\n    web: {workload: frontend/webapp}\n"
        "  allow:\n    - {from: web, to: kube-dns, ports: [UDP/53]}\n"
        "  deny:\n    - {from: internet, to: kube-dns}\n",
    )
    code, out, _ = run("verify", str(demo_dir), "--intents", path, "-o", "json")
    assert code == 0
    assert json.loads(out)["summary"] == {"intents": 2, "violated": 0, "holds": 2}


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit"])
def test_every_format_keeps_the_exit_code(demo_dir: Path, fmt: str) -> None:
    code, out, _ = run(
        "verify", str(demo_dir), "--intents", str(demo_dir / "intents.yaml"), "-o", fmt
    )
    assert code == 1
    assert out.strip()


def test_bad_intents_are_located_and_exit_2(demo_dir: Path, tmp_path: Path) -> None:
    path = intents(tmp_path, "  deny:\n    - {from: web, to: internet}\n")
    code, out, err = run("verify", str(demo_dir), "--intents", path)
    assert code == 2
    assert out == ""
    assert f"{path}:6: error[MS401]: spec.deny[0].from: undefined group 'web'" in err
    assert err.endswith("1 error in the intents; nothing was verified\n")


def test_missing_intents_file_and_bad_output(demo_dir: Path, tmp_path: Path) -> None:
    code, _, err = run("verify", str(demo_dir), "--intents", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "error[MS001]" in err
    code, _, err = run(
        "verify", str(demo_dir), "--intents", str(demo_dir / "intents.yaml"), "-o", "xml"
    )
    assert code == 2
    assert "--output 'xml'" in err


def test_missing_workload_is_a_notice_and_a_violation(demo_dir: Path, tmp_path: Path) -> None:
    path = intents(
        tmp_path, "  groups:\n    x: {workload: shop/nope}\n  deny:\n    - {from: x, to: cluster}\n"
    )
    code, out, err = run("verify", str(demo_dir), "--intents", path)
    assert code == 1
    assert "group x is empty (no workload shop/nope in the input)" in out
    assert "notice: group x: no workload shop/nope in the input" in err
    code, _, err = run("verify", str(demo_dir), "--intents", path, "-q")
    assert err == ""


def test_schema_command() -> None:
    code, out, _ = run("schema", "intent")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "SegmentationIntent"
    assert schema["additionalProperties"] is False
    code, _, err = run("schema", "nope")
    assert code == 2
    assert "no schema 'nope'" in err


def test_no_traceback_as_a_process(demo_dir: Path, tmp_path: Path) -> None:
    path = intents(tmp_path, "  allow: 3\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from microseg.cli.app import main; main()",
            "verify",
            str(demo_dir),
            "--intents",
            path,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}:5: error[MS400]: spec.allow: " in proc.stderr


SELF_CLUSTER = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: etcd, namespace: s}
spec:
  replicas: 3
  selector: {matchLabels: {app: etcd}}
  template:
    metadata: {labels: {app: etcd}}
    spec: {containers: [{name: c, ports: [{name: peer, containerPort: 2380}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: s}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""


def test_a_workload_is_checked_against_itself(tmp_path: Path) -> None:
    cluster = tmp_path / "c.yaml"
    cluster.write_text(SELF_CLUSTER)
    path = intents(
        tmp_path,
        "  groups:\n    etcd: {workload: s/etcd}\n"
        "  allow:\n    - {from: etcd, to: etcd, ports: [TCP/peer]}\n",
    )
    code, out, _ = run("verify", str(cluster), "--intents", path)
    assert code == 1
    assert "s/etcd[StatefulSet] -> s/etcd[StatefulSet]  TCP 2380" in out


def test_no_intent_warns_and_a_repeated_name_exits_2(demo_dir: Path, tmp_path: Path) -> None:
    code, out, err = run("verify", str(demo_dir), "--intents", intents(tmp_path, "  {}\n"))
    assert code == 0
    assert out.startswith("PASS all 0 intents hold")
    assert "warning[MS402]" in err
    assert "nothing to verify" in err
    deny = "  deny:\n    - {from: cluster, to: internet}\n"
    doc = intents(tmp_path, deny)
    text = Path(doc).read_text()
    Path(doc).write_text(text + "---\n" + text)
    code, out, err = run("verify", str(demo_dir), "--intents", doc, "--intents", doc)
    assert code == 2
    assert out == ""
    assert f"{doc}:10: error[MS401]: metadata.name: intent document 't' defined twice" in err
    assert "Traceback" not in err
