"""Which parser reads Kubernetes manifests fastest and still correctly (issue 22, item 2).

    python bench/parsers.py DIR [--repeat 3]     (bench/run.py --only parsers: B5-100k's cluster)

The candidates go into a venv of their own, bench/out/parsers-venv (as bench/nca.py does for
NCA), never into the project's: PyYAML's C loader (CSafeLoader, libyaml), PyYAML's C event
parser (what microseg's ingest/yaml_events.py builds from), rapidyaml (C++, `ryml`),
yaml-rs and ryaml (Rust), py-yaml12 (Rust, YAML 1.2); for JSON, the standard library and
orjson. Each is checked on what Kubernetes YAML needs (sigs.k8s.io/yaml reads YAML 1.1
through go-yaml v2: `yes`/`on` are booleans and 0755 is octal; anchors, aliases and merge
keys; multi-document streams; a location for diagnostics; a clean error on bad input), and
timed (CPU seconds, best of --repeat) on DIR's YAML files and its largest JSON file. One JSON
document of figures is printed; bench/run.py keeps it in bench/results/parsers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / "out" / "parsers-venv"
STAMP = ".parsers-installed"
PACKAGES = (
    "pyyaml==6.0.3",
    "rapidyaml==0.15.2",
    "yaml-rs==0.1.6",
    "ryaml==0.5.1",
    "py-yaml12==0.2.0",
    "orjson==3.13.0",
)

# Run inside the candidates' venv: argv[1] the cluster folder, argv[2] the repeats.
PROBE = r"""
import glob, json, os, sys, time
folder, repeat = sys.argv[1], int(sys.argv[2])

CASES = {
    # YAML 1.1 as go-yaml v2 (sigs.k8s.io/yaml) reads it
    "bool_yes_on": ("a: yes\nb: on\nc: off\nd: no\n", lambda d: d == {"a": True, "b": True, "c": False, "d": False}),
    "octal_0755": ("mode: 0755\n", lambda d: d == {"mode": 493}),
    "anchor_alias_merge": (
        "base: &b {app: web, tier: fe}\nsel:\n  <<: *b\n  tier: be\nref: *b\n",
        lambda d: d["sel"] == {"app": "web", "tier": "be"} and d["ref"] == {"app": "web", "tier": "fe"},
    ),
    "quoted_stays_string": ("a: 'yes'\nb: \"0755\"\n", lambda d: d == {"a": "yes", "b": "0755"}),
}
MULTI = "kind: A\n---\nkind: B\n...\n---\nkind: C\n"
BAD = {
    "unclosed_flow": "a: [1, 2\nb: 3\n",
    "tab_indent": "a:\n\tb: 1\n",
    "bad_indent": "a:\n  b: 1\n c: 2\n",
    "undefined_alias": "a: *nope\n",
}

def loaders():
    out = {}
    import yaml
    def pyyaml_c(text):
        return list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    out["pyyaml-CSafeLoader"] = pyyaml_c
    def pyyaml_events(text):
        # the C parser's events only, as microseg's ingest/yaml_events.py consumes them
        n = 0
        for _ in yaml.parse(text, Loader=yaml.CSafeLoader):
            n += 1
        return n
    out["pyyaml-C-events-only"] = pyyaml_events
    import ryml
    def rapidyaml(text):
        # a tree only: rapidyaml has no Python-object loader; walking the tree into dicts
        # would be a Python loop per node
        return ryml.parse_in_arena(text.encode())
    out["rapidyaml-tree-only"] = rapidyaml
    import yaml_rs
    def yamlrs(text):
        return yaml_rs.loads(text)
    out["yaml-rs"] = yamlrs
    import ryaml
    def ry(text):
        return ryaml.loads_all(text)
    out["ryaml"] = ry
    import yaml12
    def y12(text):
        return yaml12.parse_yaml(text, multi=True)
    out["py-yaml12"] = y12
    return out

def first_doc(result):
    if isinstance(result, list):
        return result[0] if result else None
    return result

report = {"correctness": {}, "yaml": {}, "json": {}}
for name, load in loaders().items():
    checks = {}
    if name in ("pyyaml-C-events-only", "rapidyaml-tree-only"):
        checks["objects"] = "no Python objects: events or a tree only"
    else:
        for case, (text, ok) in CASES.items():
            try:
                checks[case] = bool(ok(first_doc(load(text))))
            except Exception as e:
                checks[case] = f"error: {type(e).__name__}: {str(e)[:120]}"
        try:
            docs = load(MULTI)
            checks["multi_document"] = isinstance(docs, list) and [d["kind"] for d in docs] == ["A", "B", "C"]
        except Exception as e:
            checks["multi_document"] = f"error: {type(e).__name__}: {str(e)[:120]}"
    for case, text in BAD.items():
        try:
            load(text)
            checks["rejects_" + case] = False
        except Exception as e:
            msg = str(e)
            checks["rejects_" + case] = "line" in msg.lower() or ":" in msg
    report["correctness"][name] = checks

files = sorted(glob.glob(os.path.join(folder, "**", "*.y*ml"), recursive=True))
texts = [open(f, encoding="utf-8").read() for f in files]
size = sum(len(t.encode()) for t in texts)
for name, load in loaders().items():
    best = None
    for _ in range(repeat):
        t0 = time.process_time()
        try:
            for t in texts:
                load(t)
        except Exception as e:
            best = f"error: {type(e).__name__}: {str(e)[:120]}"
            break
        took = time.process_time() - t0
        best = took if best is None or took < best else best
    report["yaml"][name] = best if isinstance(best, str) else {
        "cpu_seconds": round(best, 3), "mb_per_cpu_second": round(size / 1e6 / best, 1)}
report["yaml_corpus"] = {"files": len(files), "bytes": size}

jsons = sorted(glob.glob(os.path.join(folder, "**", "*.json"), recursive=True), key=os.path.getsize)
if jsons:
    text = open(jsons[-1], "rb").read()
    import orjson
    for name, load in (("json", lambda b: json.loads(b)), ("orjson", orjson.loads)):
        best = None
        for _ in range(repeat):
            t0 = time.process_time()
            load(text)
            took = time.process_time() - t0
            best = took if best is None or took < best else best
        report["json"][name] = {"cpu_seconds": round(best, 3), "mb_per_cpu_second": round(len(text) / 1e6 / best, 1)}
    report["json_corpus"] = {"file": os.path.basename(jsons[-1]), "bytes": len(text)}
print(json.dumps(report, indent=2))
"""


def ensure() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / STAMP
    wanted = "\n".join(PACKAGES)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PACKAGES],
        check=True,
    )
    stamp.write_text(wanted)
    return python


def microseg_reader(folder: Path, repeat: int) -> dict[str, float]:
    """microseg's own reader on the same YAML files (ingest/documents.py over libyaml's
    events, ingest/yaml_events.py): documents with line numbers, every diagnostic."""
    import time

    from microseg.ingest.documents import read_paths

    files = sorted(str(p) for p in folder.rglob("*.y*ml"))
    size = sum(os.path.getsize(f) for f in files)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for _item in read_paths(files):
            pass
        best = min(best, time.process_time() - t0)
    return {"cpu_seconds": round(best, 3), "mb_per_cpu_second": round(size / 1e6 / best, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    python = ensure()
    done = subprocess.run(
        [str(python), "-c", PROBE, str(args.dir), str(args.repeat)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        return 1
    figures = json.loads(done.stdout)
    figures["yaml"]["microseg-read_paths"] = microseg_reader(args.dir, args.repeat)
    figures["packages"] = list(PACKAGES)
    figures["load_average"] = list(os.getloadavg())
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
