"""Entry points of the ingress controller: which ports an Ingress or Route opens on a pod
through the Service it names (netpol-analyzer's semantics: engine/views/ingress.py says
them in full). Pure functions of the model, below the facade, so that `reach` from the
ingress controller can name the Ingress or Route behind each port it allows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from microseg.engine.query import EntryStep
from microseg.model.cluster import Cluster
from microseg.model.objects import Pod, Service
from microseg.model.selectors import LabelSelector
from microseg.model.sets import ConnSet, IntervalSet, Protocol

if TYPE_CHECKING:
    from microseg.model.exposure import Ingress, Route

__all__ = ["INGRESS_CONTROLLER_NAME", "entry_steps", "pod_ports", "service_target_ports"]

INGRESS_CONTROLLER_NAME = "{ingress-controller}"


def service_target_ports(service: Service, asked: int | str | None, route: bool) -> list[int | str]:
    """The pod ports (targetPorts) a backend asking for `asked` reaches through `service`."""
    if asked is None:
        return [p.target for p in service.ports]
    for p in service.ports:
        if isinstance(asked, str):
            hit = (p.name != "" and p.name == asked) or (route and p.target == asked)
        else:
            hit = p.port == asked or p.target == asked
        if hit:
            return [p.target]
    return []


def pod_ports(pod: Pod, targets: list[int | str]) -> set[int]:
    """The TCP ports of `pod` that the targetPorts stand for. A KubeVirt virtual machine
    declares no container ports (its guest listens where it likes), so a numeric target
    stands for itself there, as netpol-analyzer's udn_with_vm_and_ingress_controller case
    expects; a named target still needs a declared name."""
    declared = {p.port for p in pod.ports}
    vm = not pod.ports and pod.workload.kind in _VM_KINDS
    out = set()
    for t in targets:
        if isinstance(t, str):
            number = next((p.port for p in pod.ports if p.name == t), None)
            if number is not None and pod.named_port(t, Protocol.TCP) == number:
                out.add(number)
        elif t in declared or vm:
            out.add(t)
    return out


_VM_KINDS = frozenset({"VirtualMachine", "VirtualMachineInstance"})


def entry_steps(cluster: Cluster, pod: Pod) -> tuple[EntryStep, ...]:
    """Each Ingress or Route backend that opens TCP ports on `pod`, with those ports."""
    from microseg.model.exposure import Route  # only with Ingress or Route input

    services = {(s.namespace, s.name): s for s in cluster.services if s.selector is not None}
    out: list[EntryStep] = []
    objs: list[Ingress | Route] = [*cluster.ingresses, *cluster.routes]
    for obj in objs:
        if obj.namespace != pod.namespace:
            continue  # an Ingress or Route reaches Services of its own namespace only
        route = isinstance(obj, Route)
        for backend in obj.backends:
            service = services.get((obj.namespace, backend.service))
            if service is None or service.selector is None:
                continue
            if not LabelSelector.from_labels(service.selector).matches(pod.labels):
                continue
            ports = pod_ports(pod, service_target_ports(service, backend.port, route))
            if not ports:
                continue
            conns = ConnSet.of({Protocol.TCP: IntervalSet.of([(p, p) for p in sorted(ports)])})
            out.append(
                EntryStep(
                    "Route" if route else "Ingress",
                    f"{obj.namespace}/{obj.name}",
                    f"{obj.namespace}/{service.name}",
                    conns,
                    obj.origin,
                )
            )
    return tuple(out)
