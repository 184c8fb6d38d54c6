"""The Pod Security Standards, control by control, at both levels, on a Pod and on every
pod-template kind: each case changes a restricted-compliant pod in one way and says which
control (if any) each level reports, and at which field.

Controls and allowed values: kubernetes.io/docs/concepts/security/pod-security-standards/,
read with k8s.io/pod-security-admission (policy/check_*.go) for undefined-vs-false, the
containers visited and the version variants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from microseg.analyses.guardrails import CONTROLS, Level, evaluate_pod_security
from microseg.analyses.guardrails.pss import active_controls

from ._objects import KINDS, prefix, restricted_spec, workload

B, R = Level.BASELINE, Level.RESTRICTED
Spec = dict[str, Any]


def _c(spec: Spec) -> Spec:
    return spec["containers"][0]


def _csc(spec: Spec) -> Spec:
    return spec["containers"][0].setdefault("securityContext", {})


def _psc(spec: Spec) -> Spec:
    return spec.setdefault("securityContext", {})


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[Spec], None]
    baseline: str | None
    restricted: str | None
    field: tuple[str | int, ...]
    meta: dict[str, Any] | None = None
    version: tuple[int, int] = (1, 36)


def _set(getter: Callable[[Spec], Spec], key: str, value: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        getter(spec)[key] = value

    return change


def _drop(getter: Callable[[Spec], Spec], key: str) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        getter(spec).pop(key, None)

    return change


def _both(*changes: Callable[[Spec], None]) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        for c in changes:
            c(spec)

    return change


def _extra_container(group: str, **sc: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        base = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            **sc,
        }
        spec[group] = [{"name": "extra", "image": "ghcr.io/acme/x:1", "securityContext": base}]

    return change


def _nothing(spec: Spec) -> None:
    pass


CSC = ("containers", 0, "securityContext")
PSC = ("securityContext",)

CASES = [
    Case("compliant", _nothing, None, None, ()),
    # -- baseline controls
    Case(
        "hostProcess-pod",
        _set(_psc, "windowsOptions", {"hostProcess": True}),
        "windowsHostProcess",
        "windowsHostProcess",
        (*PSC, "windowsOptions", "hostProcess"),
    ),
    Case(
        "hostProcess-container",
        _set(_csc, "windowsOptions", {"hostProcess": True}),
        "windowsHostProcess",
        "windowsHostProcess",
        (*CSC, "windowsOptions", "hostProcess"),
    ),
    Case("hostProcess-false", _set(_csc, "windowsOptions", {"hostProcess": False}), None, None, ()),
    Case(
        "hostNetwork",
        _set(lambda s: s, "hostNetwork", True),
        "hostNamespaces",
        "hostNamespaces",
        ("hostNetwork",),
    ),
    Case(
        "hostPID",
        _set(lambda s: s, "hostPID", True),
        "hostNamespaces",
        "hostNamespaces",
        ("hostPID",),
    ),
    Case(
        "hostIPC",
        _set(lambda s: s, "hostIPC", True),
        "hostNamespaces",
        "hostNamespaces",
        ("hostIPC",),
    ),
    Case("hostNetwork-false", _set(lambda s: s, "hostNetwork", False), None, None, ()),
    Case(
        "privileged",
        _set(_csc, "privileged", True),
        "privileged",
        "privileged",
        (*CSC, "privileged"),
    ),
    Case(
        "privileged-init",
        _extra_container("initContainers", privileged=True),
        "privileged",
        "privileged",
        ("initContainers", 0, "securityContext", "privileged"),
    ),
    Case(
        "privileged-ephemeral",
        _extra_container("ephemeralContainers", privileged=True),
        "privileged",
        "privileged",
        ("ephemeralContainers", 0, "securityContext", "privileged"),
    ),
    Case("privileged-false", _set(_csc, "privileged", False), None, None, ()),
    Case(
        "capability-sys-admin",
        _set(_csc, "capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        "capabilities_baseline",
        "capabilities_restricted",
        (*CSC, "capabilities", "add", 0),
    ),
    Case(
        "capability-default-set",
        _set(_csc, "capabilities", {"drop": ["ALL"], "add": ["CHOWN"]}),
        None,
        "capabilities_restricted",
        (*CSC, "capabilities", "add", 0),
    ),
    Case(
        "capability-net-bind",
        _set(_csc, "capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
        None,
        None,
        (),
    ),
    Case(
        "hostPath",
        _set(lambda s: s, "volumes", [{"name": "h", "hostPath": {"path": "/etc"}}]),
        "hostPathVolumes",
        "restrictedVolumes",
        ("volumes", 0, "hostPath"),
    ),
    Case(
        "hostPort",
        _set(_c, "ports", [{"containerPort": 80, "hostPort": 8080}]),
        "hostPorts",
        "hostPorts",
        ("containers", 0, "ports", 0, "hostPort"),
    ),
    Case(
        "hostPort-zero", _set(_c, "ports", [{"containerPort": 80, "hostPort": 0}]), None, None, ()
    ),
    Case(
        "apparmor-pod-unconfined",
        _set(_psc, "appArmorProfile", {"type": "Unconfined"}),
        "appArmorProfile",
        "appArmorProfile",
        (*PSC, "appArmorProfile", "type"),
    ),
    Case(
        "apparmor-container-unconfined",
        _set(_csc, "appArmorProfile", {"type": "Unconfined"}),
        "appArmorProfile",
        "appArmorProfile",
        (*CSC, "appArmorProfile", "type"),
    ),
    Case(
        "apparmor-localhost", _set(_csc, "appArmorProfile", {"type": "Localhost"}), None, None, ()
    ),
    Case(
        "apparmor-annotation",
        _nothing,
        "appArmorProfile",
        "appArmorProfile",
        ("@meta", "annotations", "container.apparmor.security.beta.kubernetes.io/app"),
        meta={"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
    ),
    Case(
        "apparmor-annotation-localhost",
        _nothing,
        None,
        None,
        (),
        meta={"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "localhost/p"}},
    ),
    Case(
        "selinux-type",
        _set(_csc, "seLinuxOptions", {"type": "spc_t"}),
        "seLinuxOptions",
        "seLinuxOptions",
        (*CSC, "seLinuxOptions", "type"),
    ),
    Case(
        "selinux-user",
        _set(_psc, "seLinuxOptions", {"user": "root"}),
        "seLinuxOptions",
        "seLinuxOptions",
        (*PSC, "seLinuxOptions", "user"),
    ),
    Case("selinux-level-only", _set(_psc, "seLinuxOptions", {"level": "s0:c1"}), None, None, ()),
    Case(
        "selinux-engine-1.36",
        _set(_csc, "seLinuxOptions", {"type": "container_engine_t"}),
        None,
        None,
        (),
    ),
    Case(
        "selinux-engine-1.30",
        _set(_csc, "seLinuxOptions", {"type": "container_engine_t"}),
        "seLinuxOptions",
        "seLinuxOptions",
        (*CSC, "seLinuxOptions", "type"),
        version=(1, 30),
    ),
    Case(
        "procMount",
        _set(_csc, "procMount", "Unmasked"),
        "procMount",
        "procMount_restricted",
        (*CSC, "procMount"),
    ),
    Case(
        "procMount-user-namespace",
        _both(_set(_csc, "procMount", "Unmasked"), _set(lambda s: s, "hostUsers", False)),
        None,
        "procMount_restricted",
        (*CSC, "procMount"),
    ),
    Case(
        "procMount-user-namespace-1.34",
        _both(_set(_csc, "procMount", "Unmasked"), _set(lambda s: s, "hostUsers", False)),
        "procMount",
        "procMount",
        (*CSC, "procMount"),
        version=(1, 34),
    ),
    Case("procMount-default", _set(_csc, "procMount", "Default"), None, None, ()),
    Case(
        "seccomp-unconfined",
        _set(_csc, "seccompProfile", {"type": "Unconfined"}),
        "seccompProfile_baseline",
        "seccompProfile_restricted",
        (*CSC, "seccompProfile", "type"),
    ),
    Case(
        "sysctl-unsafe",
        _set(_psc, "sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
        "sysctls",
        "sysctls",
        (*PSC, "sysctls", 0, "name"),
    ),
    Case(
        "sysctl-safe",
        _set(_psc, "sysctls", [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]),
        None,
        None,
        (),
    ),
    Case(
        "sysctl-rmem-1.36",
        _set(_psc, "sysctls", [{"name": "net.ipv4.tcp_rmem", "value": "1"}]),
        None,
        None,
        (),
    ),
    Case(
        "sysctl-rmem-1.31",
        _set(_psc, "sysctls", [{"name": "net.ipv4.tcp_rmem", "value": "1"}]),
        "sysctls",
        "sysctls",
        (*PSC, "sysctls", 0, "name"),
        version=(1, 31),
    ),
    Case(
        "sysctl-notsent-lowat-1.36",
        _set(_psc, "sysctls", [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]),
        "sysctls",
        "sysctls",
        (*PSC, "sysctls", 0, "name"),
    ),
    Case(
        "sysctl-notsent-lowat-1.37",
        _set(_psc, "sysctls", [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]),
        None,
        None,
        (),
        version=(1, 37),
    ),
    Case(
        "probe-host",
        _set(_c, "livenessProbe", {"httpGet": {"port": 80, "host": "10.0.0.1"}}),
        "hostProbesAndHostLifecycle",
        "hostProbesAndHostLifecycle",
        ("containers", 0, "livenessProbe", "httpGet", "host"),
    ),
    Case(
        "lifecycle-host",
        _set(_c, "lifecycle", {"preStop": {"tcpSocket": {"port": 80, "host": "example.com"}}}),
        "hostProbesAndHostLifecycle",
        "hostProbesAndHostLifecycle",
        ("containers", 0, "lifecycle", "preStop", "tcpSocket", "host"),
    ),
    Case(
        "probe-host-1.33",
        _set(_c, "livenessProbe", {"httpGet": {"port": 80, "host": "10.0.0.1"}}),
        None,
        None,
        (),
        version=(1, 33),
    ),
    # -- restricted controls
    Case(
        "volume-nfs",
        _set(lambda s: s, "volumes", [{"name": "n", "nfs": {"server": "x", "path": "/"}}]),
        None,
        "restrictedVolumes",
        ("volumes", 0, "nfs"),
    ),
    Case(
        "volume-allowed",
        _set(lambda s: s, "volumes", [{"name": "c", "configMap": {"name": "c"}}, {"name": "e"}]),
        None,
        None,
        (),
    ),
    Case(
        "allowPrivilegeEscalation-unset",
        _drop(_csc, "allowPrivilegeEscalation"),
        None,
        "allowPrivilegeEscalation",
        (*CSC, "allowPrivilegeEscalation"),
    ),
    Case(
        "allowPrivilegeEscalation-true",
        _set(_csc, "allowPrivilegeEscalation", True),
        None,
        "allowPrivilegeEscalation",
        (*CSC, "allowPrivilegeEscalation"),
    ),
    Case(
        "runAsNonRoot-unset",
        _drop(_psc, "runAsNonRoot"),
        None,
        "runAsNonRoot",
        (*CSC, "runAsNonRoot"),
    ),
    Case(
        "runAsNonRoot-container-true",
        _both(_drop(_psc, "runAsNonRoot"), _set(_csc, "runAsNonRoot", True)),
        None,
        None,
        (),
    ),
    Case(
        "runAsNonRoot-pod-false",
        _set(_psc, "runAsNonRoot", False),
        None,
        "runAsNonRoot",
        (*PSC, "runAsNonRoot"),
    ),
    Case(
        "runAsNonRoot-user-namespace",
        _both(_drop(_psc, "runAsNonRoot"), _set(lambda s: s, "hostUsers", False)),
        None,
        None,
        (),
    ),
    Case(
        "runAsNonRoot-user-namespace-1.34",
        _both(_drop(_psc, "runAsNonRoot"), _set(lambda s: s, "hostUsers", False)),
        None,
        "runAsNonRoot",
        (*CSC, "runAsNonRoot"),
        version=(1, 34),
    ),
    Case("runAsUser-root", _set(_psc, "runAsUser", 0), None, "runAsUser", (*PSC, "runAsUser")),
    Case(
        "runAsUser-container-root",
        _set(_csc, "runAsUser", 0),
        None,
        "runAsUser",
        (*CSC, "runAsUser"),
    ),
    Case("runAsUser-1000", _set(_psc, "runAsUser", 1000), None, None, ()),
    Case(
        "seccomp-unset",
        _drop(_psc, "seccompProfile"),
        None,
        "seccompProfile_restricted",
        (*CSC, "seccompProfile"),
    ),
    Case(
        "seccomp-container-localhost",
        _both(
            _drop(_psc, "seccompProfile"),
            _set(_csc, "seccompProfile", {"type": "Localhost", "localhostProfile": "p"}),
        ),
        None,
        None,
        (),
    ),
    Case(
        "capabilities-no-drop",
        _drop(_csc, "capabilities"),
        None,
        "capabilities_restricted",
        (*CSC, "capabilities", "drop"),
    ),
    # Windows pods: the Linux-only restricted controls do not apply (spec.os.name: windows).
    Case(
        "windows-no-linux-fields",
        _both(
            _set(lambda s: s, "os", {"name": "windows"}),
            _drop(_csc, "allowPrivilegeEscalation"),
            _drop(_csc, "capabilities"),
            _drop(_psc, "seccompProfile"),
        ),
        None,
        None,
        (),
    ),
    Case(
        "linux-no-linux-fields",
        _both(_set(lambda s: s, "os", {"name": "linux"}), _drop(_csc, "capabilities")),
        None,
        "capabilities_restricted",
        (*CSC, "capabilities", "drop"),
    ),
]


def _expected_path(kind: str, field: tuple[str | int, ...]) -> tuple[str | int, ...]:
    head = prefix(kind)
    if field and field[0] == "@meta":
        meta = (*head[:-1], "metadata")
        return (*meta, *field[1:])
    return (*head, *field)


@pytest.mark.parametrize("level", [B, R], ids=lambda lv: lv.value)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_control(case: Case, kind: str, level: Level) -> None:
    spec = restricted_spec()
    case.change(spec)
    violations = evaluate_pod_security(workload(kind, spec, case.meta).pod, level, case.version)
    expected = case.baseline if level is B else case.restricted
    if expected is None:
        assert violations == ()
        return
    assert [v.control for v in violations] == [expected]
    assert violations[0].path == _expected_path(kind, case.field)
    assert violations[0].message


def test_every_control_has_a_case() -> None:
    """Each row of the table (at the current release) is exercised by some case."""
    covered = {c.baseline for c in CASES} | {c.restricted for c in CASES}
    for level in (B, R):
        for control, _ in active_controls(level, (1, 36)):
            assert control.id in covered, control.id
    assert {c.id for c in CONTROLS} - covered <= set()


def test_restricted_overrides_baseline_rows() -> None:
    ids = {c.id for c, _ in active_controls(R, (1, 36))}
    assert "hostPathVolumes" not in ids
    assert "restrictedVolumes" in ids
    assert "capabilities_baseline" not in ids
    assert "seccompProfile_baseline" not in ids
    assert "procMount" not in ids
    assert "procMount_restricted" in ids
    # Before v1.35 the unconditional baseline procMount check serves both levels.
    older = {c.id for c, _ in active_controls(R, (1, 34))}
    assert "procMount" in older
    assert "procMount_restricted" not in older


def test_default_pod_meets_baseline_not_restricted() -> None:
    """'Allows the default (minimally specified) Pod configuration' (baseline)."""
    pod = workload("Pod", {"containers": [{"name": "c", "image": "nginx"}]}).pod
    assert evaluate_pod_security(pod, B) == ()
    assert {v.control for v in evaluate_pod_security(pod, R)} == {
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccompProfile_restricted",
        "capabilities_restricted",
    }
