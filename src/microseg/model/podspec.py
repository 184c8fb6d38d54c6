"""What the guardrails read of a pod: its security-relevant fields, typed, with where they sit.

A Pod and every pod-template kind (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
CronJob, ReplicationController) carry the same PodSpec at a different place; `PodView`
records that place (`spec_path`, `meta_path`) so that every finding can name the field it is
about as it is written in the object (`spec.template.spec.containers[0].securityContext
.privileged`). `None` always means undefined (absent or null): the Pod Security Standards
tell undefined apart from false, and so do the checks (analyses/guardrails/pss.py).

`microseg.ingest.podspec` builds these from raw objects with located errors; the checks are
pure functions of them, so `microseg check` and the admission webhook read pods alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from microseg.errors import Origin
from microseg.model.labels import FrozenLabels

__all__ = [
    "CONTAINER_GROUPS",
    "POD_TEMPLATE_PATHS",
    "Capabilities",
    "ContainerSpec",
    "FieldPath",
    "PodView",
    "ProbeHost",
    "SELinuxOptions",
    "SecurityContext",
    "VolumeSpec",
    "WorkloadObject",
]

FieldPath = tuple[str | int, ...]

# Where each kind keeps its pod template (metadata and spec under it); a Pod is its own.
POD_TEMPLATE_PATHS: dict[str, FieldPath] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

# The order the Pod Security Admission reference visits containers in
# (k8s.io/pod-security-admission/policy/visitor.go): init, regular, ephemeral.
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True, slots=True)
class SELinuxOptions:
    type: str = ""
    user: str = ""
    role: str = ""
    level: str = ""


@dataclass(frozen=True, slots=True)
class Capabilities:
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SecurityContext:
    """A pod's or a container's securityContext. `seccomp_type`/`apparmor_type` are the
    profile's `type` when the profile is set ("" when set without a type), None when the
    profile is absent. The last three fields exist at pod level only."""

    privileged: bool | None = None
    allow_privilege_escalation: bool | None = None
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    read_only_root_filesystem: bool | None = None
    proc_mount: str | None = None
    capabilities: Capabilities | None = None
    seccomp_type: str | None = None
    apparmor_type: str | None = None
    selinux: SELinuxOptions | None = None
    windows_host_process: bool | None = None
    supplemental_groups: tuple[int, ...] = ()
    fs_group: int | None = None
    sysctls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbeHost:
    """A probe or lifecycle handler that names a `host` (relative to the container)."""

    path: FieldPath
    host: str


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """One container; `group` is containers, initContainers or ephemeralContainers."""

    name: str
    group: str
    index: int
    image: str = ""
    security: SecurityContext | None = None
    host_ports: tuple[tuple[int, int], ...] = ()
    """(index in `ports`, hostPort) of each port with a non-zero hostPort."""
    ports: tuple[tuple[str, int, str], ...] = ()
    """(protocol, containerPort, name) of each declared port."""
    requests: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()
    probe_hosts: tuple[ProbeHost, ...] = ()
    restart_policy: str | None = None

    @property
    def path(self) -> FieldPath:
        """Where the container sits in the pod spec."""
        return (self.group, self.index)


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A volume and its source kinds (the keys beside `name`); the API server defaults a
    volume without a source to `emptyDir` (SetDefaults_Volume), and so does the reader."""

    name: str
    index: int
    sources: tuple[str, ...] = ("emptyDir",)


@dataclass(frozen=True, slots=True)
class PodView:
    """A pod spec and its metadata, wherever they sit in the object."""

    spec_path: FieldPath = ("spec",)
    meta_path: FieldPath = ("metadata",)
    labels: FrozenLabels = field(default_factory=FrozenLabels)
    annotations: FrozenLabels = field(default_factory=FrozenLabels)
    host_network: bool | None = None
    host_pid: bool | None = None
    host_ipc: bool | None = None
    host_users: bool | None = None
    os_name: str | None = None
    security: SecurityContext | None = None
    containers: tuple[ContainerSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    automount_token: bool | None = None
    service_account: str = "default"

    def spec_field(self, *rel: str | int) -> FieldPath:
        """The object path of a field given relative to the pod spec."""
        return (*self.spec_path, *rel)

    def meta_field(self, *rel: str | int) -> FieldPath:
        return (*self.meta_path, *rel)

    @property
    def windows(self) -> bool:
        return self.os_name == "windows"


@dataclass(frozen=True, slots=True)
class WorkloadObject:
    """A Pod or a controller with its pod template, as submitted (`labels` and
    `annotations` are the object's own; the pod's are on `pod`)."""

    kind: str
    api_version: str
    namespace: str
    name: str
    pod: PodView
    labels: FrozenLabels = field(default_factory=FrozenLabels)
    annotations: FrozenLabels = field(default_factory=FrozenLabels)
    origin: Origin = field(default=Origin(), compare=False)
