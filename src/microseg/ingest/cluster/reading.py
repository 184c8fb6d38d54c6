"""Listing the cluster: every served kind, page by page, into the same `Document` values
the file reader yields, so that one loader and one model serve files and the live API.

Lists are paginated as the API defines it (`limit` and `continue`,
https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks):
a continue token that expired (410) restarts that list from the beginning. Items of a list
carry no `kind`/`apiVersion` (the API leaves them off typed lists), so each object gets its
resource's, as `kubectl get -o yaml` writes them. Each object's origin is
`cluster:<context>/<Kind>/<namespace>/<name>`, which diagnostics and explanations print
where a file would print `file:line`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.cluster.api import Api, ApiError, ClusterConfig, ConfigError, connect
from microseg.ingest.cluster.kinds import KINDS, Resource, WantedKind, discover
from microseg.ingest.documents import Document

__all__ = [
    "PAGE_SIZE",
    "ClusterRead",
    "Listing",
    "Progress",
    "list_resource",
    "origin_file",
    "read_cluster",
    "to_document",
]

PAGE_SIZE = 500
_RESTARTS = 3
Progress = Callable[[str, int, int, int], None]
"""on_progress(resource label, objects so far, resources done, resources in all)."""


def origin_file(context: str, kind: str, namespace: str, name: str) -> str:
    where = f"{namespace}/{name}" if namespace else name
    return f"cluster:{context}/{kind}/{where}"


def to_document(item: dict[str, Any], resource: Resource, context: str) -> Document:
    """One object as the loader reads it: with its resource's kind and apiVersion."""
    data = {"apiVersion": resource.api_version, "kind": resource.kind, **item}
    data["apiVersion"], data["kind"] = resource.api_version, resource.kind
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    file = origin_file(
        context, resource.kind, str(meta.get("namespace") or ""), str(meta.get("name") or "")
    )
    return Document(data, file, 0, None)


@dataclass(slots=True)
class Listing:
    """One resource's objects and the resourceVersion to watch from."""

    resource: Resource
    items: list[dict[str, Any]]
    resource_version: str
    namespace: str | None = None


def list_resource(
    api: Api,
    resource: Resource,
    namespace: str | None = None,
    page: int = PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
) -> Listing:
    """Every object of `resource` (in `namespace`, if given), page by page."""
    for _attempt in range(_RESTARTS):
        items: list[dict[str, Any]] = []
        token = ""
        version = ""
        try:
            while True:
                query = [("limit", str(page))]
                if token:
                    query.append(("continue", token))
                doc = api.get(resource.path(namespace), query)
                batch = doc.get("items")
                if not isinstance(batch, list):
                    raise ApiError(200, "BadResponse", f"{resource.path(namespace)}: no items list")
                items.extend(i for i in batch if isinstance(i, dict))
                meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
                assert isinstance(meta, dict)
                version = str(meta.get("resourceVersion") or version)
                if on_page is not None:
                    on_page(len(items))
                token = str(meta.get("continue") or "")
                if not token:
                    return Listing(resource, items, version, namespace)
        except ApiError as exc:
            if exc.status == 410 and token:
                continue  # the continue token expired: start this list again
            raise
    raise ApiError(410, "Expired", f"{resource.path(namespace)}: the list kept expiring")


@dataclass(slots=True)
class ClusterRead:
    """What one read of the cluster gave: documents, problems, and per resource the list."""

    context: str
    documents: list[Document] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)

    def items(self) -> Iterator[Document | Diagnostic]:
        yield from self.diagnostics
        yield from self.documents


def _where(context: str, label: str = "") -> Origin:
    return Origin(file=f"cluster:{context}" + (f"/{label}" if label else ""))


def absent_notice(context: str, missing: list[WantedKind]) -> Diagnostic | None:
    """The kinds the API does not serve, said once (their CRD is not installed)."""
    if not missing:
        return None
    names = ", ".join(f"{w.kind}.{w.group}" if w.group else w.kind for w in missing)
    return Diagnostic(
        Severity.NOTICE,
        "MS701",
        f"not served by this cluster, read as absent: {names}",
        _where(context),
    )


def forbidden(context: str, resource: Resource, namespace: str | None, exc: ApiError) -> Diagnostic:
    scope = f" in namespace {namespace}" if namespace else ""
    return Diagnostic(
        Severity.WARNING,
        "MS702",
        f"cannot list {resource.label}{scope}: {exc.message}; the analysis goes on without them",
        _where(context, resource.kind),
    )


def read_cluster(
    config: ClusterConfig,
    on_progress: Progress | None = None,
    api: Api | None = None,
    kinds: tuple[WantedKind, ...] = KINDS,
) -> ClusterRead:
    """Connect, discover and list every kind the loader reads. A connection or discovery
    failure is one MS700 error; a kind the API refuses (403) is an MS702 warning and the
    rest is read; any other failed list is an MS703 error."""
    try:
        api = api or connect(config)
    except ConfigError as exc:
        read = ClusterRead(config.context or "")
        read.diagnostics.append(Diagnostic(Severity.ERROR, "MS700", str(exc), _where("")))
        return read
    read = ClusterRead(api.context)
    try:
        found, missing = discover(api, kinds)
    except ApiError as exc:
        read.diagnostics.append(
            Diagnostic(
                Severity.ERROR,
                "MS700",
                f"cannot read the API's discovery documents: {exc.message}",
                _where(api.context),
            )
        )
        return read
    read.resources = found
    notice = absent_notice(api.context, missing)
    if notice is not None:
        read.diagnostics.append(notice)
    wanted = set(config.namespaces)
    total = 0
    for done, resource in enumerate(found):
        scopes: list[str | None] = [None]
        if wanted and resource.namespaced:
            scopes = [str(ns) for ns in sorted(wanted)]
        for namespace in scopes:
            base = total

            def progress(
                n: int, label: str = resource.label, base: int = base, done: int = done
            ) -> None:
                if on_progress is not None:
                    on_progress(label, base + n, done, len(found))

            try:
                listing = list_resource(api, resource, namespace, on_page=progress)
            except ApiError as exc:
                if exc.status in (401, 403):
                    read.diagnostics.append(forbidden(api.context, resource, namespace, exc))
                    continue
                read.diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        "MS703",
                        f"cannot list {resource.label}: {exc.message}",
                        _where(api.context, resource.kind),
                    )
                )
                return read
            items = listing.items
            if wanted and resource.kind == "Namespace":
                items = [i for i in items if (i.get("metadata") or {}).get("name") in wanted]
                seen = {(i.get("metadata") or {}).get("name") for i in items}
                for name in sorted(wanted - seen):
                    read.diagnostics.append(
                        Diagnostic(
                            Severity.WARNING,
                            "MS704",
                            f"--cluster-namespace {name}: no such namespace in the cluster",
                            _where(api.context, "Namespace"),
                        )
                    )
            read.listings.append(listing)
            read.documents.extend(to_document(i, resource, api.context) for i in items)
            total += len(items)
    if on_progress is not None:
        on_progress("", total, len(found), len(found))
    return read
