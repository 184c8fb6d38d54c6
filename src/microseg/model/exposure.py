"""Objects that expose Services to an ingress controller: Ingress and OpenShift Route.

Both reduce to the Services they send traffic to, each with the port they ask for. The
engine maps those Services to workloads and target ports (engine/views/ingress.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.errors import Origin

__all__ = ["Ingress", "Route", "ServiceBackend"]


@dataclass(frozen=True, slots=True)
class ServiceBackend:
    """A Service in the exposing object's namespace and the port asked for: a Service port
    number or name (Ingress `backend.service.port`), a Route's `spec.port.targetPort`, or
    None when the object names no port (then every port of the Service)."""

    service: str
    port: int | str | None = None


@dataclass(frozen=True, slots=True)
class Ingress:
    """networking.k8s.io/v1 Ingress: `spec.defaultBackend` and every `rules[].http.paths[]`
    backend that names a Service (resource backends are not Services and are skipped)."""

    namespace: str
    name: str
    backends: tuple[ServiceBackend, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)


@dataclass(frozen=True, slots=True)
class Route:
    """route.openshift.io/v1 Route: `spec.to` and `spec.alternateBackends` of kind Service,
    all with the Route's `spec.port.targetPort`."""

    namespace: str
    name: str
    backends: tuple[ServiceBackend, ...] = ()
    origin: Origin = field(default=Origin(), compare=False)
