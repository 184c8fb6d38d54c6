"""`microseg ui` at scale: server start-up, API answers and the page's first paint in
headless Chromium (Debian's, driven by Playwright), on the demo and on a generated cluster
of 2,000 workloads (B1's density: one Deployment per workload, half a NetworkPolicy each).

    .venv/bin/python bench/ui.py            both scenarios (run by `make bench`)
    .venv/bin/python bench/ui.py --only ui-2k

First paint is measured in the page: milliseconds from navigation start to the end of the
first graph layout (namespace view), `document.body.dataset.firstPaintMs`, each run in a
new browser context (no cache). Target: under 2 s at 2,000 workloads. Results go to
bench/results/ui.json with the machine's facts.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from generate import MARKER, generate
from run import machine_facts

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
RESULTS = BENCH / "results"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TARGET_MS = 2000
RUNS = 5
SCENARIOS = {
    "ui-demo": None,
    "ui-2k": {"workloads": 2000, "replicas": 1, "policies": 1000, "seed": 1},
}


def cluster(name: str) -> Path:
    params = SCENARIOS[name]
    if params is None:
        return REPO / "examples" / "demo"
    path = OUT / name / "cluster"
    marker = path / MARKER
    if marker.exists():
        made = json.loads(marker.read_text())
        if all(made.get(k) == v for k, v in params.items()):
            return path
    generate(path, params["workloads"], params["replicas"], params["policies"], params["seed"])
    return path


def measure(name: str) -> dict[str, Any]:
    path = cluster(name)
    microseg = str(Path(sys.executable).parent / "microseg")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [microseg, "ui", str(path), "--port", "0", "-q"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://\S+", line)
        if url is None:
            raise SystemExit(f"{name}: microseg ui did not start: {line!r}")
        startup = time.perf_counter() - start
        api: dict[str, float] = {}
        with httpx.Client(base_url=url.group(0), timeout=120) as c:
            summary = c.get("/api/summary").json()
            for label, params in (
                ("graph_namespaces", {}),
                ("graph_one_namespace", {"expand": summary and first_ns(c)}),
            ):
                t = time.perf_counter()
                c.get("/api/graph", params=params).raise_for_status()
                api[label] = round(time.perf_counter() - t, 3)
        paints: list[float] = []
        phases: list[dict[str, float]] = []
        elements = 0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _ in range(RUNS):
                context = browser.new_context(viewport={"width": 1500, "height": 900})
                page = context.new_page()
                page.goto(url.group(0))
                page.wait_for_function("document.body.dataset.firstPaintMs", timeout=60_000)
                paints.append(float(page.evaluate("document.body.dataset.firstPaintMs")))
                elements = int(page.evaluate("window.microseg.cy.elements().length"))
                phases.append(page.evaluate("window.microseg.state.timings"))
                context.close()
            browser.close()
        median = statistics.median(paints)
        return {
            "scenario": name,
            "input": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
            "workloads": summary["workloads"],
            "namespaces": summary["namespaces"],
            "pods": summary["pods"],
            "allowed_edges": summary["edges"],
            "elements_drawn": elements,
            "server_start_s": round(startup, 2),
            "api_s": api,
            "first_paint_ms": {"median": median, "runs": paints},
            "page_phases_ms": {
                k: round(statistics.median(p[k] for p in phases), 1) for k in phases[0]
            },
            "target_ms": TARGET_MS,
            "met": median < TARGET_MS,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def first_ns(c: httpx.Client) -> str:
    g = c.get("/api/graph").json()
    return next(n["name"] for n in g["nodes"] if n["kind"] == "namespace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    results = [measure(n) for n in (args.only or SCENARIOS)]
    doc = {"machine": machine_facts(), "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ui.json").write_text(json.dumps(doc, indent=2) + "\n")
    for r in results:
        print(
            f"{r['scenario']}: {r['workloads']} workloads, first paint median "
            f"{r['first_paint_ms']['median']:.0f} ms (target {TARGET_MS}), server start "
            f"{r['server_start_s']} s, {'met' if r['met'] else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
