"""Compliance frameworks as data: one YAML file per framework and version in
`frameworks/`, each control with its ID, title, the finding codes that bear on it, the
inputs it needs, and the Kubescape control IDs for cross-reference.

A control's status, from the findings of one run:
- `manual` controls are NOT ASSESSABLE by a static analysis; their note says why.
- A control whose `needs` are missing (no RBAC objects in the input, no `--intents`, no
  mesh, no approved registries in a guardrail file, no `--audit-log`, no tenant labels, no
  workloads) is NOT ASSESSABLE, and says which input is missing.
- Otherwise FAIL when a finding of a listed code exists, PASS when at least one listed code
  was checked and none failed, NOT ASSESSABLE when nothing in the input was checked for it.
Never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

import yaml

from microseg.analyses.audit.findings import CODES, Check, Finding

__all__ = [
    "CIS_VERSIONS",
    "FRAMEWORK_IDS",
    "INPUTS",
    "Control",
    "ControlResult",
    "Framework",
    "FrameworkResult",
    "Status",
    "assess",
    "framework_ids",
    "load_framework",
]

CIS_VERSIONS = ("1.8", "1.9", "1.10", "1.11", "1.12")
FRAMEWORK_IDS = (
    "nist-800-207",
    "nist-800-190",
    "nist-800-53",
    "pci-dss-4",
    "soc2",
    "iso-27001-2022",
    "cis",
)
INPUTS = {
    "workloads": "workloads in the input",
    "rbac": "RBAC objects (Roles, ClusterRoles and their bindings) in the input",
    "intents": "segmentation intents (--intents)",
    "mesh": "an Istio mesh (PeerAuthentication/AuthorizationPolicy or injected pods; or --assume-mesh)",
    "registries": "approved registries (an images rule in --guardrails)",
    "audit-log": "an API audit log (--audit-log)",
    "tenants": "namespaces of two tenants or more (--tenant-label)",
}


class Status(Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_ASSESSABLE = "not-assessable"


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    title: str
    manual: bool
    findings: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    kubescape: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Framework:
    id: str
    name: str
    version: str
    source: str
    note: str
    controls: tuple[Control, ...]


@dataclass(frozen=True, slots=True)
class ControlResult:
    control: Control
    status: Status
    reason: str
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class FrameworkResult:
    framework: Framework
    controls: tuple[ControlResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for c in self.controls if c.status is status)


def framework_ids() -> tuple[str, ...]:
    """Every file in the package (`cis-1.12`, `pci-dss-4`, ...)."""
    folder = resources.files("microseg.analyses.audit") / "frameworks"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")))


def _strings(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {key} must be a list of strings")
    return tuple(value)


@cache
def load_framework(file_id: str) -> Framework:
    """The framework file `frameworks/<file_id>.yaml`, checked: every control has an id, a
    title and a status rule; every finding code exists; every need is known. Raises
    ValueError (a broken package file is our bug, never the user's input)."""
    text = (
        resources.files("microseg.analyses.audit") / "frameworks" / f"{file_id}.yaml"
    ).read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(raw, dict) or raw.get("kind") != "AuditFramework":
        raise ValueError(f"{file_id}: not an AuditFramework")
    controls = []
    seen: set[str] = set()
    for k, c in enumerate(raw.get("controls") or []):
        where = f"{file_id}: controls[{k}]"
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not c.get("title"):
            raise ValueError(f"{where}: a control needs an id and a title")
        if c["id"] in seen:
            raise ValueError(f"{where}: control {c['id']} listed twice")
        seen.add(c["id"])
        if c.get("assess") not in ("findings", "manual"):
            raise ValueError(f"{where}: assess must be findings or manual")
        codes = _strings(c, "findings", where)
        unknown = [x for x in codes if x not in CODES]
        if unknown:
            raise ValueError(f"{where}: unknown finding codes {unknown}")
        needs = _strings(c, "needs", where)
        if any(n not in INPUTS for n in needs):
            raise ValueError(f"{where}: unknown needs {needs}")
        manual = c["assess"] == "manual"
        if manual and not c.get("note"):
            raise ValueError(f"{where}: a manual control says why in a note")
        if not manual and not codes:
            raise ValueError(f"{where}: a findings control lists its finding codes")
        controls.append(
            Control(
                c["id"],
                str(c["title"]),
                manual,
                codes,
                needs,
                _strings(c, "kubescape", where),
                str(c.get("note") or ""),
            )
        )
    return Framework(
        str(raw["id"]),
        str(raw["name"]),
        str(raw["version"]),
        str(raw.get("source", "")),
        str(raw.get("note", "")),
        tuple(controls),
    )


def assess(
    framework: Framework,
    findings: tuple[Finding, ...],
    checks: tuple[Check, ...],
    available: frozenset[str],
) -> FrameworkResult:
    by_code: dict[str, list[Finding]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    checked = {c.code for c in checks}
    out = []
    for c in framework.controls:
        if c.manual:
            out.append(ControlResult(c, Status.NOT_ASSESSABLE, c.note))
            continue
        missing = [n for n in c.needs if n not in available]
        if missing:
            out.append(
                ControlResult(
                    c,
                    Status.NOT_ASSESSABLE,
                    "needs " + "; ".join(INPUTS[n] for n in missing),
                )
            )
            continue
        hits = tuple(f for code in c.findings for f in by_code.get(code, ()))
        if hits:
            codes = sorted({f.code for f in hits})
            out.append(
                ControlResult(c, Status.FAIL, f"{len(hits)} finding(s): {', '.join(codes)}", hits)
            )
            continue
        done = [code for code in c.findings if code in checked]
        if not done:
            out.append(
                ControlResult(c, Status.NOT_ASSESSABLE, "nothing in the input to assess it on")
            )
            continue
        skipped = [code for code in c.findings if code not in checked]
        reason = f"checked {', '.join(done)}: no finding"
        if skipped:
            reason += f" (not assessed: {', '.join(skipped)})"
        out.append(ControlResult(c, Status.PASS, reason))
    return FrameworkResult(framework, tuple(out))
