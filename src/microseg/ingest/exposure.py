"""Ingress (networking.k8s.io/v1, also the older `serviceName`/`servicePort` backends) and
OpenShift Route (route.openshift.io/v1) documents to model objects.

What is kept follows netpol-analyzer's ingress analyzer
(np-guard/netpol-analyzer, pkg/netpol/connlist/internal/ingressanalyzer/ingress_analyzer.go):
Ingress backends that name a Service (`spec.defaultBackend`, `rules[].http.paths[].backend`)
with their port number or name; Route targets `spec.to` and `spec.alternateBackends` whose
kind is Service (or empty), all with the Route's `spec.port.targetPort`. Backends that are
not Services are skipped with a warning (MS131); fields of the wrong type are errors (MS130).
"""

from __future__ import annotations

from typing import Any

from microseg.errors import Diagnostic, Severity
from microseg.ingest.documents import Document, FieldPath
from microseg.ingest.validation import FieldError, field_diagnostic
from microseg.model.exposure import Ingress, Route, ServiceBackend

__all__ = ["parse_ingress", "parse_route"]

Result = tuple[Ingress | Route | None, list[Diagnostic]]


_CODE = "MS130"


def _bad(path: FieldPath, message: str) -> FieldError:
    return FieldError(_CODE, path, message)


def _ignored(doc: Document, path: FieldPath, message: str) -> Diagnostic:
    return field_diagnostic(doc, FieldError("MS131", path, message), Severity.WARNING)


def _mapping(value: Any, path: FieldPath, optional: bool = True) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise _bad(path, f"expected a mapping, got {value!r}")
    return value


def _list(value: Any, path: FieldPath) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(path, f"expected a list, got {value!r}")
    return value


def _name(value: Any, path: FieldPath) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(
            path,
            "required field is missing" if value is None else f"expected a name, got {value!r}",
        )
    return value


def _port(value: Any, path: FieldPath) -> int | str:
    """A port number (1-65535) or a non-empty name; numeric strings are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(path, f"expected a port number or name, got {value!r}")
    if isinstance(value, int) and not 1 <= value <= 65535:
        raise _bad(path, f"expected 1-65535, got {value}")
    if isinstance(value, str) and not value:
        raise _bad(path, "expected a port number or name, got an empty string")
    return value


def _meta(doc: Document) -> tuple[str, str]:
    meta = _mapping(doc.data.get("metadata"), ("metadata",), optional=False)
    name = _name(meta.get("name"), ("metadata", "name"))
    namespace = meta.get("namespace") or "default"
    if not isinstance(namespace, str):
        raise _bad(("metadata", "namespace"), f"expected a string, got {namespace!r}")
    return namespace, name


def _ingress_backend(
    doc: Document, raw: Any, path: FieldPath, notes: list[Diagnostic]
) -> ServiceBackend | None:
    backend = _mapping(raw, path, optional=False)
    if "service" in backend:  # networking.k8s.io/v1
        svc = _mapping(backend["service"], (*path, "service"), optional=False)
        name = _name(svc.get("name"), (*path, "service", "name"))
        port = _mapping(svc.get("port"), (*path, "service", "port"))
        where = (*path, "service", "port")
        if port.get("name"):
            if not isinstance(port["name"], str):
                raise _bad((*where, "name"), f"expected a port name, got {port['name']!r}")
            return ServiceBackend(name, port["name"])
        if port.get("number") is not None:
            if not isinstance(port["number"], int):
                raise _bad((*where, "number"), f"expected a port number, got {port['number']!r}")
            return ServiceBackend(name, _port(port["number"], (*where, "number")))
        return ServiceBackend(name)
    if "serviceName" in backend:  # extensions/v1beta1, networking.k8s.io/v1beta1
        name = _name(backend["serviceName"], (*path, "serviceName"))
        raw_port = backend.get("servicePort")
        asked = None if raw_port is None else _port(raw_port, (*path, "servicePort"))
        return ServiceBackend(name, asked)
    notes.append(_ignored(doc, path, "backend is not a Service; ignored"))
    return None


def parse_ingress(doc: Document) -> Result:
    notes: list[Diagnostic] = []
    try:
        namespace, name = _meta(doc)
        spec = _mapping(doc.data.get("spec"), ("spec",))
        backends: list[ServiceBackend] = []
        for key in ("defaultBackend", "backend"):
            if spec.get(key) is not None:
                b = _ingress_backend(doc, spec[key], ("spec", key), notes)
                if b is not None:
                    backends.append(b)
        for i, rule in enumerate(_list(spec.get("rules"), ("spec", "rules"))):
            rule_map = _mapping(rule, ("spec", "rules", i), optional=False)
            http = _mapping(rule_map.get("http"), ("spec", "rules", i, "http"))
            paths = _list(http.get("paths"), ("spec", "rules", i, "http", "paths"))
            for j, item in enumerate(paths):
                where: FieldPath = ("spec", "rules", i, "http", "paths", j)
                entry = _mapping(item, where, optional=False)
                b = _ingress_backend(doc, entry.get("backend"), (*where, "backend"), notes)
                if b is not None:
                    backends.append(b)
    except FieldError as bad:
        return None, [*notes, field_diagnostic(doc, bad)]
    return Ingress(namespace, name, tuple(backends), doc.origin()), notes


def _route_target(
    doc: Document, raw: Any, path: FieldPath, port: int | str | None, notes: list[Diagnostic]
) -> ServiceBackend | None:
    target = _mapping(raw, path, optional=False)
    kind = target.get("kind") or "Service"
    name = _name(target.get("name"), (*path, "name"))
    if kind != "Service":
        notes.append(
            _ignored(doc, (*path, "kind"), f"target of kind {kind!r} is not a Service; ignored")
        )
        return None
    return ServiceBackend(name, port)


def parse_route(doc: Document) -> Result:
    notes: list[Diagnostic] = []
    try:
        namespace, name = _meta(doc)
        spec = _mapping(doc.data.get("spec"), ("spec",))
        port_spec = _mapping(spec.get("port"), ("spec", "port"))
        raw_port = port_spec.get("targetPort")
        port = (
            None if raw_port in (None, 0, "") else _port(raw_port, ("spec", "port", "targetPort"))
        )
        backends: list[ServiceBackend] = []
        if "to" not in spec:
            raise _bad(("spec", "to"), "required field is missing")
        targets: list[tuple[FieldPath, Any]] = [(("spec", "to"), spec["to"])]
        alternates = _list(spec.get("alternateBackends"), ("spec", "alternateBackends"))
        targets += [(("spec", "alternateBackends", i), a) for i, a in enumerate(alternates)]
        for path, raw in targets:
            b = _route_target(doc, raw, path, port, notes)
            if b is not None:
                backends.append(b)
    except FieldError as bad:
        return None, [*notes, field_diagnostic(doc, bad)]
    return Route(namespace, name, tuple(backends), doc.origin()), notes
