"""`microseg watch` on files as a user runs it: a replayed mixed stream (Falco, audit,
Hubble flows) with faults in it, every event accounted for, a restart that resumes from
its offsets, stdin, and a dry run that writes the quarantine it would apply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import DEMO
from tests.unit.analyses.runtime.streams import audit, falco, hubble

BIN = Path(sys.executable).parent / "microseg"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=180, input=stdin, check=False
    )


def docs(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def write_streams(folder: Path) -> tuple[Path, Path, Path, int]:
    f = folder / "falco.json"
    f.write_text(
        "\n".join(
            [
                falco(0),
                falco(1),  # the same rule on the same pod: merged
                falco(2, rule="Custom crypto miner rule", priority="Critical", tags=["T1496"]),
                "{not json",
                "",
                falco(
                    3,
                    rule="Read sensitive file untrusted",
                    cmdline="cat /etc/shadow",
                    process="cat",
                ),
                falco(4)[:60],  # cut short: the last line, no newline after it
            ]
        )
    )
    a = folder / "audit.log"
    a.write_text(
        "\n".join(
            [
                audit(0, stage="RequestReceived"),
                audit(0),
                *[
                    audit(
                        1 + i,
                        verb="list",
                        resource="secrets",
                        namespace="",
                        name="",
                        code=403,
                        user="alice",
                        pod=None,
                    )
                    for i in range(10)
                ],
                audit(20, verb="get", resource="pods", name="x"),
            ]
        )
        + "\n"
    )
    h = folder / "hubble.json"
    ports = [*range(1, 55), 445, 3389, 5432, 6379, 6443, 10250]
    h.write_text("\n".join(hubble(i * 0.2, port=p) for i, p in enumerate(ports)) + "\n")
    return f, a, h, 5 + 13 + 60  # the cut last Falco line waits for its newline


def test_mixed_replay_accounts_for_every_event(tmp_path: Path) -> None:
    f, a, h, n = write_streams(tmp_path)
    state = tmp_path / "state"
    got = run(
        "watch",
        str(DEMO),
        "--falco",
        str(f),
        "--audit",
        str(a),
        "--flows",
        str(h),
        "--state",
        str(state),
        "--duration",
        "6",
        "-o",
        "json",
    )
    assert got.returncode == 1, got.stderr
    out = docs(got.stdout)
    alerts = [d for d in out if d["kind"] == "Alert"]
    summary = out[-1]
    assert summary["kind"] == "WatchSummary"
    assert summary["balanced"] is True
    assert sum(summary["events"].values()) == n
    rules = {a["rule"] for a in alerts}
    assert {
        "Terminal shell in container",
        "Custom crypto miner rule",
        "Read sensitive file untrusted",
    } <= rules
    assert {"secret-read", "api-forbidden", "port-scan", "denied-burst", "sensitive-scan"} <= rules
    shell = next(a for a in alerts if a["rule"] == "Terminal shell in container")
    assert shell["workload"] == "frontend/webapp[Deployment]"
    assert shell["reach"]["workloads"] == 10
    assert shell["evidence"][0]["record"]["rule"] == "Terminal shell in container"
    assert all(a["apiVersion"] == "microseg.dev/v1alpha1" for a in out)
    ignored = summary["ignored"]
    assert ignored["falco"]["invalid JSON"] == 1
    assert ignored["audit"]["stage RequestReceived (the request is judged at a later stage)"] == 1
    assert "MS805" in got.stderr  # the unknown Falco rule, said once
    # A restart goes on from the offsets: nothing read again, then only what is new.
    again = run(
        "watch",
        str(DEMO),
        "--falco",
        str(f),
        "--state",
        str(state),
        "--duration",
        "3",
        "-o",
        "json",
    )
    assert docs(again.stdout)[-1]["events"] == {}
    with f.open("a") as fh:
        fh.write("\n" + falco(30, pod="webapp-7d9f8b6c5-zzzzz") + "\n")
    third = run(
        "watch",
        str(DEMO),
        "--falco",
        str(f),
        "--state",
        str(state),
        "--duration",
        "3",
        "-o",
        "json",
    )
    out3 = docs(third.stdout)
    # The line that was cut short is complete now (its prefix alone): refused, counted.
    assert out3[-1]["events"]["falco"] == 2
    assert out3[-1]["ignored"]["falco"] == {
        "truncated record (the line ends before the JSON does)": 1
    }
    assert [d["pod"] for d in out3 if d["kind"] == "Alert"] == ["webapp-7d9f8b6c5-zzzzz"]


def test_stdin_and_dry_run_quarantine(tmp_path: Path) -> None:
    state = tmp_path / "state"
    got = run(
        "watch",
        str(DEMO),
        "--falco",
        "-",
        "--respond",
        "isolate",
        "--dry-run",
        "--state",
        str(state),
        "-o",
        "json",
        stdin=falco(0) + "\n",
    )
    assert got.returncode == 1, got.stderr
    alert = docs(got.stdout)[0]
    plan = alert["response"]["plan"]
    assert plan["proof"]["holds"] is True
    assert [k["peer"] for k in plan["proof"]["kept"]] == ["kube-system/coredns[Deployment]"]
    text = Path(alert["response"]["file"]).read_text()
    assert "kind: NetworkPolicy" in text
    assert "kind: AdminNetworkPolicy" in text
    listed = run("quarantine", "list", "--all", "--state", str(state), "-o", "json")
    assert [(i["id"], i["status"]) for i in json.loads(listed.stdout)["items"]] == [
        (alert["id"], "planned")
    ]


def test_text_output(tmp_path: Path) -> None:
    got = run("watch", str(DEMO), "--falco", "-", "--state", str(tmp_path), stdin=falco(0) + "\n")
    assert got.stdout.startswith("ALERT HIGH ")
    assert "reaches 10 workloads" in got.stdout
    assert "falco: 1 events, 1 in alerts, 0 ignored" in got.stderr


def test_bad_threshold_and_no_source(tmp_path: Path) -> None:
    got = run("watch", str(DEMO), "--falco", "-", "--threshold", "scan.port=3")
    assert got.returncode == 2
    assert "MS810" in got.stderr
    got = run("watch", str(DEMO))
    assert got.returncode == 2
    assert "no events to watch" in got.stderr


def test_a_flow_store_is_followed_by_its_keys(tmp_path: Path) -> None:
    h = tmp_path / "hubble.json"
    h.write_text("\n".join(hubble(i * 0.2, port=1000 + i) for i in range(60)) + "\n")
    db = tmp_path / "flows.duckdb"
    imported = run("flows", "import", str(h), "--db", str(db))
    assert imported.returncode == 0, imported.stderr
    state = tmp_path / "state"
    got = run(
        "watch",
        str(DEMO),
        "--flows",
        str(db),
        "--state",
        str(state),
        "--duration",
        "4",
        "-o",
        "json",
    )
    out = docs(got.stdout)
    assert {"port-scan", "denied-burst"} <= {d["rule"] for d in out if d["kind"] == "Alert"}
    assert out[-1]["events"] == {"flows": 60}
    # Followed from where it stopped: nothing new, nothing read again.
    again = run(
        "watch",
        str(DEMO),
        "--flows",
        str(db),
        "--state",
        str(state),
        "--duration",
        "3",
        "-o",
        "json",
    )
    assert docs(again.stdout)[-1]["events"] == {}
