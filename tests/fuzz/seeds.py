"""The inputs the fuzzer starts from: the bundled demo and the peer conformance corpus.

Each seed is a small cluster as parsed documents per file (what the mutations edit), plus
what the commands need to be asked something meaningful: workload names for `--from` and
`--to`, namespaces for intents. The corpus is read from `$MICROSEG_CONFORMANCE` or
`../shared/conformance` (never copied into the repository); without it the demo alone
seeds the run, which `make fuzz` refuses unless asked (tests/fuzz/run.py --demo-only).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"
CONFORMANCE = Path(os.environ.get("MICROSEG_CONFORMANCE") or ROOT.parent / "shared" / "conformance")
CORPUS = CONFORMANCE / "netpol-analyzer" / "tests"
MAX_DOCS = 200  # larger cases cost seconds a run and find nothing the small ones miss
WORKLOAD_KINDS = {
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "ReplicationController",
}


@dataclass(frozen=True, slots=True)
class Seed:
    name: str
    files: tuple[tuple[str, tuple[Any, ...]], ...]
    """(relative path, documents) per manifest file."""
    workloads: tuple[str, ...]
    namespaces: tuple[str, ...]
    intents: tuple[Any, ...] = ()
    """The demo's SegmentationIntent documents (other seeds get generated ones)."""


def _documents(path: Path) -> tuple[Any, ...] | None:
    try:
        text = path.read_text(encoding="utf-8")
        return tuple(d for d in yaml.safe_load_all(text) if d is not None)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _seed(name: str, folder: Path, skip: set[str] = frozenset()) -> Seed | None:  # type: ignore[assignment]
    files = []
    intents: list[Any] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json") or path.name in skip:
            continue
        docs = _documents(path)
        if docs is None:
            continue
        if any(isinstance(d, dict) and d.get("kind") == "SegmentationIntent" for d in docs):
            intents += list(docs)
            continue
        files.append((str(path.relative_to(folder)), docs))
    count = sum(len(d) for _, d in files)
    if not files or count > MAX_DOCS:
        return None
    workloads: set[str] = set()
    namespaces: set[str] = set()
    for _, docs in files:
        for doc in _objects(docs):
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
            ns = str(meta.get("namespace") or "default")
            if doc.get("kind") == "Namespace":
                namespaces.add(str(meta.get("name")))
            if doc.get("kind") in WORKLOAD_KINDS and meta.get("name"):
                workloads.add(f"{ns}/{meta['name']}")
                namespaces.add(ns)
    return Seed(
        name,
        tuple(files),
        tuple(sorted(workloads)) or ("default/x",),
        tuple(sorted(namespaces)) or ("default",),
        tuple(intents),
    )


def _objects(docs: tuple[Any, ...]) -> list[dict[str, Any]]:
    out = []
    for d in docs:
        if isinstance(d, dict):
            items = d.get("items")
            if isinstance(items, list):
                out += [i for i in items if isinstance(i, dict)]
            else:
                out.append(d)
    return out


@functools.cache
def seeds(every: int = 1) -> tuple[Seed, ...]:
    """The demo first, then every corpus case small enough (`every`: one case in so many,
    for a short run that must start in a second)."""
    out = []
    demo = _seed("demo", DEMO)
    if demo is not None:
        out.append(demo)
    if CORPUS.is_dir():
        for case in sorted(p for p in CORPUS.iterdir() if p.is_dir())[::every]:
            seed = _seed(case.name, case)
            if seed is not None:
                out.append(seed)
    return tuple(out)
