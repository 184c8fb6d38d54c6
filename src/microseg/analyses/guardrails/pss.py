"""The Pod Security Standards, baseline and restricted, one control per table row.

Source: the "Pod Security Standards" page, https://kubernetes.io/docs/concepts/security/
pod-security-standards/ (the controls, their restricted fields and allowed values), read
with the admission controller that implements it, k8s.io/pod-security-admission
(policy/check_*.go), which decides the points the page leaves open: which containers count
(init, regular and ephemeral), undefined versus false, pod-level defaults for container
fields, and how a control changed between releases. Each control below is a row of
`CONTROLS`: its id (the admission controller's check id), the page's title, its level, and
its variants by the first Kubernetes version they apply to; a restricted control may
override a baseline one (the restricted volume list replaces the hostPath check, say).

Versions: `latest` is v1.36, the current release; v1.25 (Pod Security Admission GA) to v1.37
can be asked for, as with the `pod-security.kubernetes.io/<mode>-version` namespace labels.
What changed in that range: safe sysctls (v1.27, v1.29, v1.32, v1.37), the SELinux type
`container_engine_t` (v1.31), the probe and lifecycle `host` control (v1.34), and user
namespaces (`hostUsers: false`) relaxing runAsNonRoot, runAsUser and, at baseline,
procMount (v1.35).

Windows pods (`spec.os.name: windows`): the page marks allowPrivilegeEscalation, seccomp and
capabilities as Linux-only in restricted, so they are skipped for Windows pods; the
HostProcess control (baseline) is the Windows one. The "Non-root groups" row the page once
listed is optional and not enforced by the admission controller, nor here.

The checks read `PodView`s only, so a Pod and every pod template are judged alike, and each
violation names the field (as written in the object) and what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from microseg.model.guardrails import PSS_LATEST, PSS_NEWEST, PSS_OLDEST, parse_pss_version
from microseg.model.podspec import ContainerSpec, FieldPath, PodView, SecurityContext

__all__ = [
    "CONTROLS",
    "LATEST",
    "NEWEST",
    "OLDEST",
    "Control",
    "Level",
    "PssViolation",
    "Version",
    "evaluate_pod_security",
    "parse_version",
]

Version = tuple[int, int]
OLDEST: Version = PSS_OLDEST
LATEST: Version = PSS_LATEST
NEWEST: Version = PSS_NEWEST
parse_version = parse_pss_version


class Level(Enum):
    BASELINE = "baseline"
    RESTRICTED = "restricted"


@dataclass(frozen=True, slots=True)
class PssViolation:
    control: str
    title: str
    level: Level
    path: FieldPath
    message: str


Hit = tuple[FieldPath, str]
Check = Callable[[PodView], Iterator[Hit]]


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    title: str
    level: Level
    variants: tuple[tuple[Version, Check], ...]
    overrides: tuple[str, ...] = ()

    def at(self, version: Version) -> Check | None:
        """The variant in force at `version`: the last one whose first version is <= it."""
        chosen = None
        for since, check in self.variants:
            if since <= version:
                chosen = check
        return chosen


_UNSET = SecurityContext()


def _sc(c: ContainerSpec) -> SecurityContext:
    return c.security or _UNSET


def _pod_sc(pod: PodView) -> SecurityContext:
    return pod.security or _UNSET


def _c_field(pod: PodView, c: ContainerSpec, *rel: str | int) -> FieldPath:
    return pod.spec_field(*c.path, *rel)


def _who(c: ContainerSpec) -> str:
    kind = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}
    return f"{kind.get(c.group, 'container')} {c.name!r}"


def _user_namespace(pod: PodView) -> bool:
    """`hostUsers: false`: the pod runs in a user namespace (KEP-127)."""
    return pod.host_users is False


# ---------------------------------------------------------------- baseline


def _host_process(pod: PodView) -> Iterator[Hit]:
    if _pod_sc(pod).windows_host_process is True:
        yield (
            pod.spec_field("securityContext", "windowsOptions", "hostProcess"),
            "pod sets windowsOptions.hostProcess=true (privileged access to the Windows node)",
        )
    for c in pod.containers:
        if _sc(c).windows_host_process is True:
            yield (
                _c_field(pod, c, "securityContext", "windowsOptions", "hostProcess"),
                f"{_who(c)} sets windowsOptions.hostProcess=true",
            )


def _host_namespaces(pod: PodView) -> Iterator[Hit]:
    for name, value in (
        ("hostNetwork", pod.host_network),
        ("hostPID", pod.host_pid),
        ("hostIPC", pod.host_ipc),
    ):
        if value is True:
            yield pod.spec_field(name), f"{name}=true shares the host's namespace"


def _privileged(pod: PodView) -> Iterator[Hit]:
    for c in pod.containers:
        if _sc(c).privileged is True:
            yield (
                _c_field(pod, c, "securityContext", "privileged"),
                f"{_who(c)} is privileged (securityContext.privileged=true)",
            )


# The runtime's default capabilities ("Capabilities" control, baseline).
DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def _capabilities_baseline(pod: PodView) -> Iterator[Hit]:
    for c in pod.containers:
        caps = _sc(c).capabilities
        for i, cap in enumerate(caps.add if caps else ()):
            if cap not in DEFAULT_CAPABILITIES:
                yield (
                    _c_field(pod, c, "securityContext", "capabilities", "add", i),
                    f"{_who(c)} adds capability {cap} beyond the default set",
                )


def _host_path_volumes(pod: PodView) -> Iterator[Hit]:
    for v in pod.volumes:
        if "hostPath" in v.sources:
            yield pod.spec_field("volumes", v.index, "hostPath"), f"volume {v.name!r} is a hostPath"


def _host_ports(pod: PodView) -> Iterator[Hit]:
    for c in pod.containers:
        for pi, port in c.host_ports:
            yield (
                _c_field(pod, c, "ports", pi, "hostPort"),
                f"{_who(c)} uses hostPort {port}",
            )


_APPARMOR_TYPES = ("RuntimeDefault", "Localhost")
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor(pod: PodView) -> Iterator[Hit]:
    t = _pod_sc(pod).apparmor_type
    if t is not None and t not in _APPARMOR_TYPES:
        yield (
            pod.spec_field("securityContext", "appArmorProfile", "type"),
            f"pod sets AppArmor profile type {t!r} (allowed: RuntimeDefault, Localhost)",
        )
    for c in pod.containers:
        t = _sc(c).apparmor_type
        if t is not None and t not in _APPARMOR_TYPES:
            yield (
                _c_field(pod, c, "securityContext", "appArmorProfile", "type"),
                f"{_who(c)} sets AppArmor profile type {t!r} (allowed: RuntimeDefault, Localhost)",
            )
    for key, value in pod.annotations.items():
        if key.startswith(_APPARMOR_ANNOTATION) and not (
            value in ("", "runtime/default") or value.startswith("localhost/")
        ):
            yield (
                pod.meta_field("annotations", key),
                f"annotation {key}={value!r} overrides the default AppArmor profile",
            )


def _selinux(allowed: frozenset[str]) -> Check:
    def check(pod: PodView) -> Iterator[Hit]:
        setters = [(pod.spec_field("securityContext"), "pod", _pod_sc(pod).selinux)]
        setters += [
            (_c_field(pod, c, "securityContext"), _who(c), _sc(c).selinux) for c in pod.containers
        ]
        for at, who, opts in setters:
            if opts is None:
                continue
            if opts.type not in allowed:
                yield (
                    (*at, "seLinuxOptions", "type"),
                    f"{who} sets SELinux type {opts.type!r} (allowed: {', '.join(sorted(allowed - {''}))})",
                )
            for name, value in (("user", opts.user), ("role", opts.role)):
                if value:
                    yield (*at, "seLinuxOptions", name), f"{who} sets a custom SELinux {name}"

    return check


_SELINUX_1_25 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_1_31 = _SELINUX_1_25 | {"container_engine_t"}


def _proc_mount(pod: PodView) -> Iterator[Hit]:
    for c in pod.containers:
        pm = _sc(c).proc_mount
        if pm is not None and pm != "Default":
            yield (
                _c_field(pod, c, "securityContext", "procMount"),
                f"{_who(c)} sets procMount {pm!r}, unmasking /proc",
            )


def _proc_mount_1_35(pod: PodView) -> Iterator[Hit]:
    if not _user_namespace(pod):
        yield from _proc_mount(pod)


def _seccomp_ok(t: str | None) -> bool:
    return t in ("RuntimeDefault", "Localhost")


def _seccomp_baseline(pod: PodView) -> Iterator[Hit]:
    t = _pod_sc(pod).seccomp_type
    if t is not None and not _seccomp_ok(t):
        yield (
            pod.spec_field("securityContext", "seccompProfile", "type"),
            f"pod sets seccomp profile type {t!r} (allowed: RuntimeDefault, Localhost)",
        )
    for c in pod.containers:
        t = _sc(c).seccomp_type
        if t is not None and not _seccomp_ok(t):
            yield (
                _c_field(pod, c, "securityContext", "seccompProfile", "type"),
                f"{_who(c)} sets seccomp profile type {t!r} (allowed: RuntimeDefault, Localhost)",
            )


_SYSCTLS_1_25 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
_SYSCTLS_1_27 = _SYSCTLS_1_25 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SYSCTLS_1_37 = _SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def sysctls_allowed(version: Version) -> frozenset[str]:
    """The safe sysctls at `version` (the Sysctls control)."""
    chosen = _SYSCTLS_1_25
    for since, allowed in (
        (V27, _SYSCTLS_1_27),
        (V29, _SYSCTLS_1_29),
        (V32, _SYSCTLS_1_32),
        (V37, _SYSCTLS_1_37),
    ):
        if version >= since:
            chosen = allowed
    return chosen


def selinux_types(version: Version) -> frozenset[str]:
    """The SELinux types allowed at `version` ("" is undefined)."""
    return _SELINUX_1_31 if version >= V31 else _SELINUX_1_25


def _sysctls(allowed: frozenset[str]) -> Check:
    def check(pod: PodView) -> Iterator[Hit]:
        for i, name in enumerate(_pod_sc(pod).sysctls):
            if name not in allowed:
                yield (
                    pod.spec_field("securityContext", "sysctls", i, "name"),
                    f"sysctl {name!r} is not in the safe set",
                )

    return check


def _probe_hosts(pod: PodView) -> Iterator[Hit]:
    for c in pod.containers:
        for p in c.probe_hosts:
            yield (
                _c_field(pod, c, *p.path),
                f"{_who(c)} points a probe or lifecycle handler at host {p.host!r}",
            )


# ---------------------------------------------------------------- restricted

# Inline volume sources the restricted profile allows (the "Volume Types" control).
ALLOWED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def _restricted_volumes(pod: PodView) -> Iterator[Hit]:
    for v in pod.volumes:
        if any(s in ALLOWED_VOLUME_SOURCES for s in v.sources):
            continue
        source = v.sources[0] if v.sources else "unknown"
        yield (
            pod.spec_field("volumes", v.index, source),
            f"volume {v.name!r} uses type {source} (allowed: {', '.join(sorted(ALLOWED_VOLUME_SOURCES))})",
        )


def _allow_privilege_escalation(pod: PodView) -> Iterator[Hit]:
    if pod.windows:
        return
    for c in pod.containers:
        if _sc(c).allow_privilege_escalation is not False:
            yield (
                _c_field(pod, c, "securityContext", "allowPrivilegeEscalation"),
                f"{_who(c)} must set securityContext.allowPrivilegeEscalation=false",
            )


def _run_as_non_root_1_25(pod: PodView) -> Iterator[Hit]:
    pod_value = _pod_sc(pod).run_as_non_root
    if pod_value is False:
        yield (
            pod.spec_field("securityContext", "runAsNonRoot"),
            "pod sets runAsNonRoot=false",
        )
    for c in pod.containers:
        value = _sc(c).run_as_non_root
        if value is False:
            yield (
                _c_field(pod, c, "securityContext", "runAsNonRoot"),
                f"{_who(c)} sets runAsNonRoot=false",
            )
        elif value is None and pod_value is None:  # pod false: reported at the pod
            yield (
                _c_field(pod, c, "securityContext", "runAsNonRoot"),
                f"pod or {_who(c)} must set securityContext.runAsNonRoot=true",
            )


def _run_as_non_root_1_35(pod: PodView) -> Iterator[Hit]:
    if not _user_namespace(pod):
        yield from _run_as_non_root_1_25(pod)


def _run_as_user_1_25(pod: PodView) -> Iterator[Hit]:
    if _pod_sc(pod).run_as_user == 0:
        yield pod.spec_field("securityContext", "runAsUser"), "pod sets runAsUser=0 (root)"
    for c in pod.containers:
        if _sc(c).run_as_user == 0:
            yield (
                _c_field(pod, c, "securityContext", "runAsUser"),
                f"{_who(c)} sets runAsUser=0 (root)",
            )


def _run_as_user_1_35(pod: PodView) -> Iterator[Hit]:
    if not _user_namespace(pod):
        yield from _run_as_user_1_25(pod)


def _seccomp_restricted(pod: PodView) -> Iterator[Hit]:
    if pod.windows:
        return
    pod_type = _pod_sc(pod).seccomp_type
    if pod_type is not None and not _seccomp_ok(pod_type):
        yield (
            pod.spec_field("securityContext", "seccompProfile", "type"),
            f"pod sets seccomp profile type {pod_type!r} (allowed: RuntimeDefault, Localhost)",
        )
    for c in pod.containers:
        t = _sc(c).seccomp_type
        if t is not None and not _seccomp_ok(t):
            yield (
                _c_field(pod, c, "securityContext", "seccompProfile", "type"),
                f"{_who(c)} sets seccomp profile type {t!r} (allowed: RuntimeDefault, Localhost)",
            )
        elif t is None and pod_type is None:  # a bad pod type: reported at the pod
            yield (
                _c_field(pod, c, "securityContext", "seccompProfile"),
                f"pod or {_who(c)} must set securityContext.seccompProfile.type to RuntimeDefault or Localhost",
            )


def _capabilities_restricted(pod: PodView) -> Iterator[Hit]:
    if pod.windows:
        return
    for c in pod.containers:
        caps = _sc(c).capabilities
        if caps is None or "ALL" not in caps.drop:
            yield (
                _c_field(pod, c, "securityContext", "capabilities", "drop"),
                f'{_who(c)} must drop ALL capabilities (securityContext.capabilities.drop: ["ALL"])',
            )
        for i, cap in enumerate(caps.add if caps else ()):
            if cap != "NET_BIND_SERVICE":
                yield (
                    _c_field(pod, c, "securityContext", "capabilities", "add", i),
                    f"{_who(c)} adds capability {cap} (only NET_BIND_SERVICE may be added)",
                )


B, R = Level.BASELINE, Level.RESTRICTED
V25, V27, V29, V31, V32, V34, V35, V37 = (
    (1, 25),
    (1, 27),
    (1, 29),
    (1, 31),
    (1, 32),
    (1, 34),
    (1, 35),
    (1, 37),
)

CONTROLS: tuple[Control, ...] = (
    Control("windowsHostProcess", "HostProcess", B, ((V25, _host_process),)),
    Control("hostNamespaces", "Host Namespaces", B, ((V25, _host_namespaces),)),
    Control("privileged", "Privileged Containers", B, ((V25, _privileged),)),
    Control("capabilities_baseline", "Capabilities", B, ((V25, _capabilities_baseline),)),
    Control("hostPathVolumes", "HostPath Volumes", B, ((V25, _host_path_volumes),)),
    Control("hostPorts", "Host Ports", B, ((V25, _host_ports),)),
    Control("appArmorProfile", "AppArmor", B, ((V25, _apparmor),)),
    Control(
        "seLinuxOptions",
        "SELinux",
        B,
        ((V25, _selinux(_SELINUX_1_25)), (V31, _selinux(_SELINUX_1_31))),
    ),
    Control("procMount", "/proc Mount Type", B, ((V25, _proc_mount), (V35, _proc_mount_1_35))),
    Control("seccompProfile_baseline", "Seccomp", B, ((V25, _seccomp_baseline),)),
    Control(
        "sysctls",
        "Sysctls",
        B,
        (
            (V25, _sysctls(_SYSCTLS_1_25)),
            (V27, _sysctls(_SYSCTLS_1_27)),
            (V29, _sysctls(_SYSCTLS_1_29)),
            (V32, _sysctls(_SYSCTLS_1_32)),
            (V37, _sysctls(_SYSCTLS_1_37)),
        ),
    ),
    Control(
        "hostProbesAndHostLifecycle", "Host Probes / Lifecycle Hooks", B, ((V34, _probe_hosts),)
    ),
    Control(
        "restrictedVolumes", "Volume Types", R, ((V25, _restricted_volumes),), ("hostPathVolumes",)
    ),
    Control(
        "allowPrivilegeEscalation", "Privilege Escalation", R, ((V25, _allow_privilege_escalation),)
    ),
    Control(
        "runAsNonRoot",
        "Running as Non-root",
        R,
        ((V25, _run_as_non_root_1_25), (V35, _run_as_non_root_1_35)),
    ),
    Control(
        "runAsUser",
        "Running as Non-root user",
        R,
        ((V25, _run_as_user_1_25), (V35, _run_as_user_1_35)),
    ),
    Control(
        "seccompProfile_restricted",
        "Seccomp",
        R,
        ((V25, _seccomp_restricted),),
        ("seccompProfile_baseline",),
    ),
    Control(
        "capabilities_restricted",
        "Capabilities",
        R,
        ((V25, _capabilities_restricted),),
        ("capabilities_baseline",),
    ),
    # From v1.35 the baseline procMount control relaxes for user-namespaced pods; restricted
    # keeps the unconditional check in its place.
    Control("procMount_restricted", "/proc Mount Type", R, ((V35, _proc_mount),), ("procMount",)),
)


@lru_cache(maxsize=64)
def active_controls(level: Level, version: Version) -> tuple[tuple[Control, Check], ...]:
    """The controls `level` enforces at `version`, overridden baseline rows left out
    (memoised: a webhook asks the same few levels and versions for every review)."""
    wanted = (B,) if level is B else (B, R)
    chosen = [(c, fn) for c in CONTROLS if c.level in wanted and (fn := c.at(version)) is not None]
    overridden = {o for c, _ in chosen for o in c.overrides}
    return tuple((c, fn) for c, fn in chosen if c.id not in overridden)


def evaluate_pod_security(
    pod: PodView, level: Level, version: Version = LATEST
) -> tuple[PssViolation, ...]:
    """Every violation of `level` at `version`, one per offending field, in table order."""
    out = []
    for control, check in active_controls(level, version):
        for path, message in check(pod):
            out.append(PssViolation(control.id, control.title, control.level, path, message))
    return tuple(out)
