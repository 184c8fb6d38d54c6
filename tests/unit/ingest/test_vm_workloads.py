"""KubeVirt VirtualMachine and VirtualMachineInstance objects as workloads: labels from the
instance template, one workload for a VM with its VMI and virt-launcher pods, stopped VMs
kept, no container ports, and located MS201 errors for the fields that decide the endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from microseg.engine.connectivity import Connectivity
from microseg.ingest import load
from microseg.model.objects import WorkloadKey
from microseg.model.sets import ConnSet, Protocol
from tests.unit.ingest._support import line_containing, load_errors, only, write

VM = """\
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: vm-a
  namespace: ns
  labels: {on-the-vm-object: "yes"}
spec:
  runStrategy: Always
  template:
    metadata:
      labels: {app: db}
    spec:
      domain: {devices: {}}
"""

VMI = """\
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: vm-a
  namespace: ns
  labels: {app: db, kubevirt.io/nodeName: n1}
  ownerReferences:
  - {apiVersion: kubevirt.io/v1, kind: VirtualMachine, name: vm-a, controller: true}
spec:
  domain: {devices: {}}
"""

LAUNCHER = """\
apiVersion: v1
kind: Pod
metadata:
  name: virt-launcher-vm-a-x7k2p
  namespace: ns
  labels: {app: db, kubevirt.io: virt-launcher, vm.kubevirt.io/name: vm-a}
  ownerReferences:
  - {apiVersion: kubevirt.io/v1, kind: VirtualMachineInstance, name: vm-a, controller: true}
spec:
  containers:
  - name: compute
    image: virt-launcher
status:
  podIP: 10.0.0.7
"""


def _docs(*texts: str) -> str:
    return "---\n".join(texts)


def test_vm_alone_is_one_template_endpoint_with_the_template_labels(tmp_path: Path) -> None:
    cluster = load([str(write(tmp_path, "vm.yaml", VM))])
    assert [w.key for w in cluster.workloads] == [WorkloadKey("ns", "vm-a", "VirtualMachine")]
    (pod,) = cluster.pods
    assert dict(pod.labels) == {"app": "db"}  # not the VM object's own metadata.labels
    assert pod.from_template
    assert pod.ports == ()
    assert pod.named_port("http", Protocol.TCP) is None
    assert not any(d.code == "MS010" for d in cluster.diagnostics)


def test_vm_vmi_and_launcher_pod_are_one_virtual_machine(tmp_path: Path) -> None:
    path = write(tmp_path, "all.yaml", _docs(VM, VMI, LAUNCHER))
    cluster = load([str(path)])
    assert [str(w.key) for w in cluster.workloads] == ["ns/vm-a[VirtualMachine]"]
    (pod,) = cluster.pods
    assert pod.name == "virt-launcher-vm-a-x7k2p"  # the real pod, not a template
    assert not pod.from_template
    assert pod.ips == ("10.0.0.7",)


def test_vmi_owned_by_a_vm_is_represented_by_the_vm(tmp_path: Path) -> None:
    cluster = load([str(write(tmp_path, "vm.yaml", _docs(VM, VMI)))])
    assert [str(w.key) for w in cluster.workloads] == ["ns/vm-a[VirtualMachine]"]
    assert len(cluster.pods) == 1


def test_standalone_vmi_takes_its_own_labels(tmp_path: Path) -> None:
    text = VMI.replace(
        "  ownerReferences:\n  - {apiVersion: kubevirt.io/v1, kind: VirtualMachine, name: vm-a, controller: true}\n",
        "",
    )
    cluster = load([str(write(tmp_path, "vmi.yaml", text))])
    assert [str(w.key) for w in cluster.workloads] == ["ns/vm-a[VirtualMachineInstance]"]
    assert dict(cluster.pods[0].labels) == {"app": "db", "kubevirt.io/nodeName": "n1"}


@pytest.mark.parametrize("stopped", ["running: false", "runStrategy: Halted"])
def test_stopped_vm_is_still_a_workload(tmp_path: Path, stopped: str) -> None:
    cluster = load([str(write(tmp_path, "vm.yaml", VM.replace("runStrategy: Always", stopped)))])
    assert [str(w.key) for w in cluster.workloads] == ["ns/vm-a[VirtualMachine]"]


def test_policies_select_vms_by_template_labels(tmp_path: Path) -> None:
    policy = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: ns}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}, {port: http}]
"""
    web = VM.replace("vm-a", "vm-web").replace("app: db", "app: web")
    other = VM.replace("vm-a", "vm-other").replace("app: db", "app: other")
    write(tmp_path, "in.yaml", _docs(VM, web, other, policy))
    conn = Connectivity.build(load([str(tmp_path)]))
    allowed = conn.reach("ns/vm-web", "ns/vm-a").allowed
    # The named port `http` resolves to nothing on a VM: only the number is allowed.
    assert allowed == ConnSet.single(Protocol.TCP, 5432)
    assert not conn.reach("ns/vm-other", "ns/vm-a").allowed


def test_vm_kinds_of_another_api_group_are_skipped(tmp_path: Path) -> None:
    text = VM.replace("kubevirt.io/v1", "example.com/v1")
    cluster = load([str(write(tmp_path, "vm.yaml", text))])
    assert cluster.workloads == ()
    assert any(d.code == "MS010" and "VirtualMachine" in d.message for d in cluster.diagnostics)


def test_older_kubevirt_api_version_is_read(tmp_path: Path) -> None:
    text = VM.replace("kubevirt.io/v1", "kubevirt.io/v1alpha3")
    cluster = load([str(write(tmp_path, "vm.yaml", text))])
    assert [str(w.key) for w in cluster.workloads] == ["ns/vm-a[VirtualMachine]"]


# --- MS201: fields that decide the VM's endpoint ----------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field", "needle", "fragment"),
    [
        (
            "  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      domain: {devices: {}}\n",
            "",
            "spec.template",
            "runStrategy",  # a missing field is located inside its parent
            "required field is missing",
        ),
        (
            "runStrategy: Always",
            "runStrategy: Sometimes",
            "spec.runStrategy",
            "runStrategy",
            "got 'Sometimes'",
        ),
        ("runStrategy: Always", "running: 'yes'", "spec.running", "running", "expected bool"),
        (
            "runStrategy: Always",
            "runStrategy: Always\n  running: true",
            "spec.running",
            "running: true",
            "mutually exclusive",
        ),
        (
            "labels: {app: db}",
            "labels: {app: [db]}",
            "spec.template.metadata.labels.app",
            "app: [db]",
            "must be strings",
        ),
    ],
)
def test_bad_vm_field_is_located_ms201(
    tmp_path: Path, old: str, new: str, field: str, needle: str, fragment: str
) -> None:
    assert old in VM
    path = write(tmp_path, "vm.yaml", VM.replace(old, new))
    diag = only(load_errors([path]), "MS201")
    assert diag.field == field
    assert fragment in diag.message
    assert diag.origin is not None
    assert diag.origin.file == str(path)
    assert diag.origin.line == line_containing(path, needle)


def test_vmi_without_spec_is_ms201(tmp_path: Path) -> None:
    path = write(tmp_path, "vmi.yaml", VMI.replace("spec:\n  domain: {devices: {}}\n", ""))
    diag = only(load_errors([path]), "MS201")
    assert diag.field == "spec"
    assert "required field is missing" in diag.message
