"""What the ingress controller may open: Ingress and Route objects, through the Services they
name, to workloads and their target ports, then cut down by the policies.

The semantics are netpol-analyzer's (np-guard/netpol-analyzer,
pkg/netpol/connlist/internal/ingressanalyzer/ingress_analyzer.go, and
pkg/netpol/connlist/connlist.go getIngressAllowedConnections):

- An Ingress or Route reaches only Services in its own namespace; a Service without a
  selector is ignored; a Service selects the pods of its namespace whose labels match.
- The port asked for picks Service ports (getPeerAccessPort): none asked, every port;
  otherwise the first Service port whose name equals the asked name, whose `port` equals
  the asked number, or whose `targetPort` equals the asked value. An Ingress port name is
  compared with Service port names only (netpol-analyzer builds it as an int-typed
  IntOrString, which never equals a named targetPort); a Route's named targetPort also
  matches a Service's named targetPort.
- The chosen Service port's targetPort is the pod port: a number counts when the pod
  declares it as a container port (of any protocol, as PodExposedTCPConnections does); a
  name resolves to the pod's container port of that name, which must be TCP.
- The result is TCP on those ports, intersected with what the policies allow from the
  ingress controller, a pod with no labels in namespace `ingress-controller-ns`.

Work is per Service and per selected pod; there is no loop over pod pairs.
"""

from __future__ import annotations

from collections import defaultdict

from microseg.engine.connectivity import Connectivity
from microseg.engine.index.entries import pod_ports, service_target_ports
from microseg.engine.index.rules import RuleCompiler
from microseg.model.exposure import Ingress, Route, ServiceBackend
from microseg.model.selectors import LabelSelector
from microseg.model.sets import ConnSet, IntervalSet, Protocol

__all__ = ["ingress_controller_conns", "pod_ports", "service_target_ports"]


def _backends(conn: Connectivity) -> list[tuple[str, ServiceBackend, bool]]:
    objs: list[Ingress | Route] = [*conn.cluster.ingresses, *conn.cluster.routes]
    return [(o.namespace, b, isinstance(o, Route)) for o in objs for b in o.backends]


def ingress_controller_conns(conn: Connectivity) -> dict[int, ConnSet]:
    """Per index into `conn.cluster.pods`, the connections the ingress controller may open to
    that pod (only pods with some)."""
    controller = conn.classes.controller
    if controller is None:
        return {}
    cluster = conn.cluster
    services = {(s.namespace, s.name): s for s in cluster.services if s.selector is not None}
    rc: RuleCompiler = conn.rules
    pods_by_class: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(conn.classes.pod_class.tolist()):
        pods_by_class[c].append(i)
    wanted: dict[int, set[int]] = defaultdict(set)
    for namespace, backend, route in _backends(conn):
        service = services.get((namespace, backend.service))
        if service is None or service.selector is None:
            continue
        targets = service_target_ports(service, backend.port, route)
        if not targets:
            continue
        selector = LabelSelector.from_labels(service.selector)
        selected = rc.in_namespace(namespace) & rc.pod_labels.match(selector)
        for c in selected.nonzero()[0].tolist():
            for i in pods_by_class.get(c, ()):
                wanted[i].update(pod_ports(cluster.pods[i], targets))
    out: dict[int, ConnSet] = {}
    allowed_by_class: dict[int, ConnSet] = {}
    for i, ports in wanted.items():
        if not ports:
            continue
        c = int(conn.classes.pod_class[i])
        allowed = allowed_by_class.get(c)
        if allowed is None:
            mask = conn.egress.allow[controller, c] & conn.ingress.allow[c, controller]
            allowed = allowed_by_class[c] = conn.ports.to_connset(mask)
        asked = ConnSet.of({Protocol.TCP: IntervalSet.of([(p, p) for p in sorted(ports)])})
        result = asked.intersection(allowed)
        if result:
            out[i] = result
    return out
