"""What `microseg audit` reads besides the Cluster: each workload's own object, as the
guardrails read it (a Deployment, not its ReplicaSets and Pods), with the document it came
from, so that every finding can name its field's line.

The documents (from files or the live API) go through `load_documents` like any command's;
the workload objects among them are parsed once more by `parse_workload` (the readers the
guardrails use), and each workload of the Cluster is matched with its top owner's object,
or, when the owner is not in the input, with its first Pod.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from microseg.errors import Diagnostic
from microseg.ingest.documents import Document
from microseg.ingest.manifests import load_documents
from microseg.ingest.podspec import parse_workload
from microseg.ingest.validation import FieldError
from microseg.model.cluster import Cluster
from microseg.model.podspec import POD_TEMPLATE_PATHS, FieldPath, WorkloadObject

__all__ = ["AuditInputs", "load_audit_inputs"]

_GROUPS = ("", "apps", "batch")


@dataclass(frozen=True, slots=True)
class AuditInputs:
    cluster: Cluster
    workloads: tuple[tuple[str, WorkloadObject], ...]
    """(`ns/name[Kind]`, its object) for every workload of the cluster that has one."""
    locate: Callable[[WorkloadObject, FieldPath], int | None]
    secret_env: dict[str, tuple[tuple[FieldPath, str, str], ...]] = field(default_factory=dict)
    """Per workload name: each environment variable a Secret fills (its field path, the
    container's name, the Secret's name), from `env[].valueFrom.secretKeyRef` and
    `envFrom[].secretRef` (CIS Kubernetes Benchmark 5.4.1)."""


def load_audit_inputs(
    items: Iterable[Document | Diagnostic],
    *,
    namespace: str = "default",
    assume_system_pods: bool = False,
) -> AuditInputs:
    """Raises InputError as `load_documents` does; a workload object the guardrails cannot
    read was already refused by the workload reader, so it is skipped here."""
    docs: dict[tuple[str, str, str], Document] = {}

    def tee() -> Iterable[Document | Diagnostic]:
        for item in items:
            if isinstance(item, Document):
                data = item.data
                kind = str(data.get("kind", ""))
                group = str(data.get("apiVersion", "")).rpartition("/")[0]
                meta = data.get("metadata")
                if kind in POD_TEMPLATE_PATHS and group in _GROUPS and isinstance(meta, dict):
                    ns = str(meta.get("namespace") or namespace)
                    docs.setdefault((ns, str(meta.get("name", "")), kind), item)
            yield item

    cluster = load_documents(tee(), namespace=namespace, assume_system_pods=assume_system_pods)
    first_pod: dict[tuple[str, str, str], str] = {}
    for p in cluster.pods:
        if not p.from_template:
            first_pod.setdefault((p.workload.namespace, p.workload.name, p.workload.kind), p.name)
    chosen: list[tuple[str, WorkloadObject]] = []
    where: dict[int, Document] = {}
    secret_env: dict[str, tuple[tuple[FieldPath, str, str], ...]] = {}
    for w in cluster.workloads:
        key = (w.key.namespace, w.key.name, w.key.kind)
        doc = docs.get(key)
        if doc is None and key in first_pod:
            doc = docs.get((w.key.namespace, first_pod[key], "Pod"))
        if doc is None:
            continue
        try:
            obj = parse_workload(doc.data, doc.origin(), namespace)
        except FieldError:
            continue
        where[id(obj)] = doc
        chosen.append((str(w.key), obj))
        found = _secret_env(doc.data, obj.pod.spec_path)
        if found:
            secret_env[str(w.key)] = found

    def locate(obj: WorkloadObject, path: FieldPath) -> int | None:
        """The field's line in YAML (the reader keeps node trees only for policy kinds,
        so a workload's file is composed again, once, on the first finding in it); in
        JSON (read by the fast decoder, which keeps no positions) the object's own line:
        composing a large JSON file's node tree would cost more than the whole audit."""
        doc = where.get(id(obj))
        if doc is None:
            return None
        if doc.node is None and doc.tree is not None and doc.tree.is_json:
            return doc.line
        return doc.line_of(path, exact=True)

    return AuditInputs(cluster, tuple(chosen), locate, secret_env)


def _secret_env(data: Any, spec_path: FieldPath) -> tuple[tuple[FieldPath, str, str], ...]:
    spec: Any = data
    for step in spec_path:
        spec = spec.get(step) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return ()
    out: list[tuple[FieldPath, str, str]] = []
    for group in ("initContainers", "containers"):
        containers = spec.get(group)
        for ci, c in enumerate(containers if isinstance(containers, list) else ()):
            if not isinstance(c, dict):
                continue
            name = str(c.get("name", ""))
            here = (*spec_path, group, ci)
            env = c.get("env")
            for ei, e in enumerate(env if isinstance(env, list) else ()):
                source = e.get("valueFrom") if isinstance(e, dict) else None
                ref = source.get("secretKeyRef") if isinstance(source, dict) else None
                if isinstance(ref, dict):
                    out.append(
                        (
                            (*here, "env", ei, "valueFrom", "secretKeyRef"),
                            name,
                            str(ref.get("name", "")),
                        )
                    )
            env_from = c.get("envFrom")
            for ei, e in enumerate(env_from if isinstance(env_from, list) else ()):
                ref = e.get("secretRef") if isinstance(e, dict) else None
                if isinstance(ref, dict):
                    out.append(
                        ((*here, "envFrom", ei, "secretRef"), name, str(ref.get("name", "")))
                    )
    return tuple(out)
