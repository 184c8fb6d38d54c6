"""Raw Pods and pod templates to `WorkloadObject`s, for the guardrails.

Only the fields the guardrails read are taken, each checked for the type the Kubernetes API
gives it (a bool is not an int, a string is not a list); a field of the wrong type is a
located FieldError (MS620), so `microseg check` prints `file:line: error[MS620]: field: ...`
and the webhook denies the object with the same message instead of failing on it.
"""

from __future__ import annotations

from typing import Any

from microseg.errors import Origin
from microseg.ingest.validation import FieldError, shown
from microseg.model.labels import FrozenLabels
from microseg.model.podspec import (
    CONTAINER_GROUPS,
    POD_TEMPLATE_PATHS,
    Capabilities,
    ContainerSpec,
    FieldPath,
    PodView,
    ProbeHost,
    SecurityContext,
    SELinuxOptions,
    VolumeSpec,
    WorkloadObject,
)

__all__ = ["CODE_POD", "parse_workload"]

CODE_POD = "MS620"
_NAMES = {bool: "a boolean", int: "an integer", str: "a string", list: "a list", dict: "a mapping"}


def _bad(path: FieldPath, value: object, kind: type) -> FieldError:
    return FieldError(
        CODE_POD, path, f"expected {_NAMES[kind]}, got {type(value).__name__} {shown(value)}"
    )


def _get(data: dict[str, Any], key: str, kind: type, path: FieldPath) -> Any:
    """`data[key]` if it has type `kind`, None if absent or null; raises otherwise."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _bad((*path, key), value, kind)
    return value


def _map(data: dict[str, Any], key: str, path: FieldPath) -> dict[str, Any]:
    return _get(data, key, dict, path) or {}


def _strings(data: dict[str, Any], key: str, path: FieldPath) -> tuple[str, ...]:
    items = _get(data, key, list, path) or []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _bad((*path, key, i), item, str)
    return tuple(items)


def _string_map(data: dict[str, Any], key: str, path: FieldPath) -> FrozenLabels:
    raw = _map(data, key, path)
    for k, v in raw.items():
        if not isinstance(v, str):
            raise _bad((*path, key, str(k)), v, str)
    return FrozenLabels(raw)


def _profile_type(sc: dict[str, Any], key: str, path: FieldPath) -> str | None:
    profile = _get(sc, key, dict, path)
    if profile is None:
        return None
    return str(_get(profile, "type", str, (*path, key)) or "")


def _security(sc: dict[str, Any] | None, path: FieldPath, pod: bool) -> SecurityContext | None:
    if sc is None:
        return None
    caps = _get(sc, "capabilities", dict, path)
    capabilities = None
    if caps is not None:
        at = (*path, "capabilities")
        capabilities = Capabilities(_strings(caps, "add", at), _strings(caps, "drop", at))
    se = _get(sc, "seLinuxOptions", dict, path)
    selinux = None
    if se is not None:
        at = (*path, "seLinuxOptions")
        selinux = SELinuxOptions(
            *(str(_get(se, k, str, at) or "") for k in ("type", "user", "role", "level"))
        )
    windows = _map(sc, "windowsOptions", path)
    groups: tuple[int, ...] = ()
    sysctls: tuple[str, ...] = ()
    if pod:
        raw_groups = _get(sc, "supplementalGroups", list, path) or []
        for i, g in enumerate(raw_groups):
            if not isinstance(g, int) or isinstance(g, bool):
                raise _bad((*path, "supplementalGroups", i), g, int)
        groups = tuple(raw_groups)
        names = []
        for i, s in enumerate(_get(sc, "sysctls", list, path) or []):
            if not isinstance(s, dict):
                raise _bad((*path, "sysctls", i), s, dict)
            names.append(str(_get(s, "name", str, (*path, "sysctls", i)) or ""))
        sysctls = tuple(names)
    return SecurityContext(
        privileged=_get(sc, "privileged", bool, path),
        allow_privilege_escalation=_get(sc, "allowPrivilegeEscalation", bool, path),
        run_as_non_root=_get(sc, "runAsNonRoot", bool, path),
        run_as_user=_get(sc, "runAsUser", int, path),
        run_as_group=_get(sc, "runAsGroup", int, path),
        read_only_root_filesystem=_get(sc, "readOnlyRootFilesystem", bool, path),
        proc_mount=_get(sc, "procMount", str, path),
        capabilities=capabilities,
        seccomp_type=_profile_type(sc, "seccompProfile", path),
        apparmor_type=_profile_type(sc, "appArmorProfile", path),
        selinux=selinux,
        windows_host_process=_get(windows, "hostProcess", bool, (*path, "windowsOptions")),
        supplemental_groups=groups,
        fs_group=_get(sc, "fsGroup", int, path) if pod else None,
        sysctls=sysctls,
    )


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HANDLERS = ("postStart", "preStop")


def _probe_hosts(c: dict[str, Any], path: FieldPath) -> tuple[ProbeHost, ...]:
    out = []
    handlers: list[tuple[FieldPath, dict[str, Any]]] = []
    for probe in _PROBES:
        p = _get(c, probe, dict, path)
        if p is not None:
            handlers.append(((probe,), p))
    lifecycle = _map(c, "lifecycle", path)
    for h in _HANDLERS:
        p = _get(lifecycle, h, dict, (*path, "lifecycle"))
        if p is not None:
            handlers.append((("lifecycle", h), p))
    for rel, handler in handlers:
        for action in ("httpGet", "tcpSocket"):
            a = _get(handler, action, dict, (*path, *rel))
            if a is None:
                continue
            host = _get(a, "host", str, (*path, *rel, action))
            if host:
                out.append(ProbeHost((*rel, action, "host"), host))
    return tuple(out)


def _resources(c: dict[str, Any], path: FieldPath) -> tuple[tuple[str, ...], tuple[str, ...]]:
    res = _map(c, "resources", path)
    at = (*path, "resources")
    requests = tuple(str(k) for k in _map(res, "requests", at))
    limits = tuple(str(k) for k in _map(res, "limits", at))
    return requests, limits


def _container(c: Any, group: str, index: int, spec_path: FieldPath) -> ContainerSpec:
    path = (*spec_path, group, index)
    if not isinstance(c, dict):
        raise _bad(path, c, dict)
    ports, declared = [], []
    for pi, p in enumerate(_get(c, "ports", list, path) or []):
        if not isinstance(p, dict):
            raise _bad((*path, "ports", pi), p, dict)
        host = _get(p, "hostPort", int, (*path, "ports", pi))
        if host:
            ports.append((pi, int(host)))
        number = p.get("containerPort")
        if isinstance(number, int) and not isinstance(number, bool):
            proto = p.get("protocol") or "TCP"
            name = p.get("name") or ""
            declared.append((str(proto), number, str(name)))
    requests, limits = _resources(c, path)
    return ContainerSpec(
        name=str(_get(c, "name", str, path) or ""),
        group=group,
        index=index,
        image=str(_get(c, "image", str, path) or ""),
        security=_security(
            _get(c, "securityContext", dict, path), (*path, "securityContext"), False
        ),
        host_ports=tuple(ports),
        ports=tuple(declared),
        requests=requests,
        limits=limits,
        probe_hosts=_probe_hosts(c, path),
        restart_policy=_get(c, "restartPolicy", str, path),
    )


def _volumes(spec: dict[str, Any], spec_path: FieldPath) -> tuple[VolumeSpec, ...]:
    out = []
    for i, v in enumerate(_get(spec, "volumes", list, spec_path) or []):
        if not isinstance(v, dict):
            raise _bad((*spec_path, "volumes", i), v, dict)
        name = str(_get(v, "name", str, (*spec_path, "volumes", i)) or "")
        sources = tuple(k for k, val in v.items() if k != "name" and val is not None)
        out.append(VolumeSpec(name, i, sources or ("emptyDir",)))
    return tuple(out)


def _pod_view(data: dict[str, Any], template: FieldPath) -> PodView:
    meta_path: FieldPath = (*template, "metadata")
    spec_path: FieldPath = (*template, "spec")
    cur: Any = data
    for i, step in enumerate(template):
        nxt = cur.get(step) if isinstance(cur, dict) else None
        if nxt is None:
            raise FieldError(CODE_POD, template[: i + 1], "required field is missing")
        if not isinstance(nxt, dict):
            raise _bad(template[: i + 1], nxt, dict)
        cur = nxt
    holder: dict[str, Any] = cur
    meta = _map(holder, "metadata", template)
    spec = _get(holder, "spec", dict, template)
    if spec is None:
        raise FieldError(CODE_POD, spec_path, "required field is missing")
    containers = []
    for group in CONTAINER_GROUPS:
        for i, c in enumerate(_get(spec, group, list, spec_path) or []):
            containers.append(_container(c, group, i, spec_path))
    os_ = _map(spec, "os", spec_path)
    return PodView(
        spec_path=spec_path,
        meta_path=meta_path,
        labels=_string_map(meta, "labels", meta_path),
        annotations=_string_map(meta, "annotations", meta_path),
        host_network=_get(spec, "hostNetwork", bool, spec_path),
        host_pid=_get(spec, "hostPID", bool, spec_path),
        host_ipc=_get(spec, "hostIPC", bool, spec_path),
        host_users=_get(spec, "hostUsers", bool, spec_path),
        os_name=_get(os_, "name", str, (*spec_path, "os")),
        security=_security(
            _get(spec, "securityContext", dict, spec_path), (*spec_path, "securityContext"), True
        ),
        containers=tuple(containers),
        volumes=_volumes(spec, spec_path),
        automount_token=_get(spec, "automountServiceAccountToken", bool, spec_path),
        service_account=str(
            _get(spec, "serviceAccountName", str, spec_path)
            or _get(spec, "serviceAccount", str, spec_path)
            or "default"
        ),
    )


def parse_workload(
    data: dict[str, Any], origin: Origin | None = None, namespace: str = "default"
) -> WorkloadObject:
    """A Pod or pod-template object as the guardrails read it; raises FieldError. `namespace`
    is used when the object has none (`-n`, or the AdmissionRequest's namespace)."""
    kind = str(data.get("kind", ""))
    template = POD_TEMPLATE_PATHS[kind]
    meta = _get(data, "metadata", dict, ()) or {}
    pod = _pod_view(data, template)
    if not template:  # a Pod: its metadata is the object's
        labels, annotations = pod.labels, pod.annotations
    else:
        labels = _string_map(meta, "labels", ("metadata",))
        annotations = _string_map(meta, "annotations", ("metadata",))
    return WorkloadObject(
        kind=kind,
        api_version=str(data.get("apiVersion", "")),
        namespace=str(_get(meta, "namespace", str, ("metadata",)) or namespace),
        name=str(
            _get(meta, "name", str, ("metadata",))
            or _get(meta, "generateName", str, ("metadata",))
            or ""
        ),
        pod=pod,
        labels=labels,
        annotations=annotations,
        origin=origin or Origin(kind=kind),
    )
