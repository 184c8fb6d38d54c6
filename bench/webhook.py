"""The admission webhook under load, over TLS on loopback (run by `make bench` as the
`webhook` scenario; results in bench/results/webhook.json).

    .venv/bin/python bench/webhook.py CLUSTER_DIR [--duration 30] [--connections 32] [--np-reviews 200]

CLUSTER_DIR is B2's generated cluster (bench/generate.py, 10,000 pods, 5,000
NetworkPolicies), which the webhook loads as its `--snapshot`. The guardrails are the
example's pod rules (Pod Security Standards baseline enforced and restricted warned,
registries and tags, labels with the keys the policies select on, requests and limits,
read-only root, token), ingress isolation, and segmentation intents on B2's payments
namespace.

1. Deployment reviews: `microseg webhook serve` runs as its own process (one uvicorn
   worker); Debian's `wrk` (installed with apt-get when missing and running as root) sends
   the same AdmissionReview of a compliant Deployment, as the API server would, on 32
   keep-alive TLS connections for `--duration` seconds, then stops: requests per second,
   latency percentiles, errors (socket errors and non-2xx answers), and the server's CPU
   time per review (from /proc), which says what one free core would do. Without wrk, an
   httpx asyncio client sends a bounded number of requests instead.
2. NetworkPolicy reviews through the engine: `--np-reviews` CREATE reviews of
   NetworkPolicies (dry runs, so each is judged against B2 as loaded), one at a time on one
   connection, half opening a flow a `deny` intent forbids (denied), half harmless
   (admitted); latency percentiles as the client sees them.

Targets (issue 15): >= 2,000 reviews/s with p99 <= 10 ms and no error for the Deployment;
p99 <= 100 ms for the NetworkPolicy review. The figures include the load average: on a
shared machine they vary with what else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from microseg.webhook.certs import make_tls

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GUARDRAILS = """
apiVersion: microseg.dev/v1alpha1
kind: Guardrails
metadata: {name: bench}
spec:
  exempt: {namespaces: [kube-system]}
  rules:
    - {name: pss-baseline, podSecurity: {level: baseline}}
    - {name: pss-restricted, podSecurity: {level: restricted}, mode: warn}
    - name: registries
      images: {registries: [ghcr.io/example-shop/, registry.k8s.io/], disallowTags: [latest]}
    - {name: labels, labels: {required: [app], segmentationKeys: true}}
    - {name: limits, resources: {requests: [cpu, memory], limits: [memory]}}
    - {name: read-only-root, readOnlyRootFilesystem: {}, mode: warn}
    - {name: token, serviceAccountToken: {}, mode: audit}
    - {name: isolated, ingressIsolation: {}}
    - {name: intents, intents: {files: [intents.yaml]}}
"""
INTENTS = """
apiVersion: microseg.dev/v1alpha1
kind: SegmentationIntent
metadata: {name: b2}
spec:
  groups:
    pay-db: {namespace: payments-prod-0, selector: {tier: db}}
    pay-web: {namespace: payments-prod-0, selector: {tier: web}}
    pay-api: {namespace: payments-prod-0, selector: {tier: api}}
    ads: {namespaceSelector: {team: ads}}
  deny:
    - {from: pay-web, to: pay-db}
    - {from: ads, to: pay-db}
  allow:
    - {from: pay-api, to: pay-db, ports: [TCP/5432]}
"""


def review(obj: dict[str, Any], uid: str, dry_run: bool = False) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = obj["kind"].lower() + "s"
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": obj["kind"]},
            "resource": {"group": group, "version": version, "resource": resource},
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "ci-deployer", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def deployment() -> dict[str, Any]:
    labels = {"app": "web-0", "tier": "web", "version": "v2", "team": "payments"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web-0", "namespace": "payments-prod-0", "labels": labels},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web-0"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "web",
                            "image": "ghcr.io/example-shop/web:2.4.1",
                            "ports": [
                                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def policy(i: int, opening: bool) -> dict[str, Any]:
    if opening:  # payments web -> payments db, both ways: the deny intent forbids it
        spec = {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"tier": "web"}}}],
                    "ports": [{"port": 5432}],
                }
            ],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {"tier": "db"}}}],
                    "ports": [{"port": 5432}],
                }
            ],
        }
        namespace = "payments-prod-0"
    else:  # a namespace of another team, its cache opened to its own gateway
        spec = {
            "podSelector": {"matchLabels": {"tier": "cache"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"tier": "gateway"}}}],
                    "ports": [{"port": 6379}],
                }
            ],
        }
        namespace = "checkout-staging-1"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"bench-{i}", "namespace": namespace},
        "spec": spec,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
            capture_output=True,
            check=False,
            timeout=300,
        )
        found = shutil.which("wrk")
    return found


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if m:
            out[f"p{q}_ms"] = round(float(m.group(1)) * _UNITS[m.group(2)], 3)
    m = re.search(r"(\d+) requests in ([\d.]+)(s|m)", text)
    if m:
        out["requests"] = int(m.group(1))
        out["seconds"] = float(m.group(2)) * (60 if m.group(3) == "m" else 1)
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["reviews_per_s"] = float(m.group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    out["errors"] = errors
    return out


async def _httpx_load(
    url: str, ca: str, body: bytes, total: int, connections: int, deadline: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    sent = 0
    ctx = ssl.create_default_context(cafile=ca)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(verify=ctx, limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal sent, errors
            while sent < total and time.monotonic() < deadline:
                sent += 1
                start = time.perf_counter()
                try:
                    r = await client.post(
                        url, content=body, headers={"content-type": "application/json"}
                    )
                    if r.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "seconds": round(seconds, 2),
        "reviews_per_s": round(len(latencies) / seconds, 1),
        "errors": errors,
        **{f"p{q}_ms": round(percentile(latencies, q), 3) for q in (50, 75, 90, 99)},
    }


def deployment_load(
    url: str, ca: str, body: bytes, duration: float, connections: int, folder: Path
) -> dict[str, Any]:
    wrk = ensure_wrk()
    if wrk is not None:
        script = folder / "post.lua"
        (folder / "body.json").write_bytes(body)
        script.write_text(
            f'local f = io.open("{folder / "body.json"}", "rb")\n'
            'wrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        proc = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{int(duration)}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
        return {"client": "wrk " + (proc.stdout.splitlines() or ["?"])[0], **parse_wrk(proc.stdout)}
    total = int(duration * 2000)
    figures = asyncio.run(
        _httpx_load(url, ca, body, total, connections, time.monotonic() + duration + 30)
    )
    return {"client": "httpx asyncio (wrk not available)", **figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cluster", type=Path)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--np-reviews", type=int, default=200)
    args = parser.parse_args(argv)
    microseg = str(Path(sys.executable).parent / "microseg")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tls = make_tls(["127.0.0.1", "localhost"])
        for name, text in (("ca.pem", tls.ca_cert), ("tls.crt", tls.cert), ("tls.key", tls.key)):
            (folder / name).write_text(text)
        (folder / "guardrails.yaml").write_text(GUARDRAILS)
        (folder / "intents.yaml").write_text(INTENTS)
        port = free_port()
        cmd = [
            microseg, "webhook", "serve", "--guardrails", str(folder / "guardrails.yaml"),
            "--tls-cert", str(folder / "tls.crt"), "--tls-key", str(folder / "tls.key"),
            "--host", "127.0.0.1", "--port", str(port), "--snapshot", str(args.cluster), "-q",
        ]  # fmt: skip
        started = time.perf_counter()
        server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        ca = str(folder / "ca.pem")
        base = f"https://127.0.0.1:{port}"
        ctx = ssl.create_default_context(cafile=ca)
        figures: dict[str, Any] = {"load_before": load_average()}
        try:
            with httpx.Client(base_url=base, verify=ctx, timeout=30) as client:
                while True:
                    if server.poll() is not None:
                        raise SystemExit(
                            f"the webhook exited: {server.stderr.read() if server.stderr else ''}"
                        )
                    try:
                        if client.get("/readyz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.perf_counter() - started > 300:
                        raise SystemExit("the webhook did not become ready in 300 s")
                    time.sleep(0.2)
                figures["startup_s"] = round(time.perf_counter() - started, 2)
                body = json.dumps(review(deployment(), "bench-deployment")).encode()
                sample = client.post("/validate", content=body).json()["response"]
                figures["deployment_verdict"] = {
                    "allowed": sample["allowed"],
                    "warnings": len(sample.get("warnings", [])),
                    "audit": sorted(sample.get("auditAnnotations", {})),
                }
                for _ in range(300):  # warm-up
                    client.post("/validate", content=body)
                cpu0 = cpu_seconds(server.pid)
                load = deployment_load(
                    f"{base}/validate", ca, body, args.duration, args.connections, folder
                )
                cpu = cpu_seconds(server.pid) - cpu0
                load["server_cpu_us_per_review"] = round(
                    cpu / max(load.get("requests", 1), 1) * 1e6, 1
                )
                load["reviews_per_cpu_second"] = (
                    round(max(load.get("requests", 0), 1) / cpu, 0) if cpu else None
                )
                figures["deployment"] = load
                latencies, verdicts = [], {"denied": 0, "allowed": 0}
                cpu0 = cpu_seconds(server.pid)
                for i in range(args.np_reviews):
                    opening = i % 2 == 0
                    data = json.dumps(review(policy(i, opening), f"np-{i}", dry_run=True)).encode()
                    t = time.perf_counter()
                    r = client.post("/validate", content=data)
                    latencies.append((time.perf_counter() - t) * 1000)
                    allowed = r.json()["response"]["allowed"]
                    verdicts["allowed" if allowed else "denied"] += 1
                    if allowed == opening:
                        raise SystemExit(
                            f"NetworkPolicy review {i}: expected allowed={not opening}"
                        )
                np_cpu = cpu_seconds(server.pid) - cpu0
                figures["networkpolicy"] = {
                    "server_cpu_ms_per_review": round(np_cpu / max(len(latencies), 1) * 1000, 1),
                    "reviews": len(latencies),
                    "verdicts": verdicts,
                    "median_ms": round(statistics.median(latencies), 1),
                    **{f"p{q}_ms": round(percentile(latencies, q), 1) for q in (90, 99)},
                    "max_ms": round(max(latencies), 1),
                }
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
    d, n = figures["deployment"], figures["networkpolicy"]
    figures["targets"] = {
        "deployment_reviews_per_s": {
            "target": 2000,
            "value": d.get("reviews_per_s"),
            "met": (d.get("reviews_per_s") or 0) >= 2000,
        },
        "deployment_p99_ms": {
            "target": 10,
            "value": d.get("p99_ms"),
            "met": (d.get("p99_ms") or 1e9) <= 10,
        },
        "deployment_errors": {"target": 0, "value": d.get("errors"), "met": d.get("errors") == 0},
        "networkpolicy_p99_ms": {"target": 100, "value": n["p99_ms"], "met": n["p99_ms"] <= 100},
    }
    figures["p99_ms"] = d.get("p99_ms")
    figures["load_after"] = load_average()
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
