"""The identity report for people (a table, then findings) and for programs (JSON)."""

from __future__ import annotations

import json

from rich.table import Table

from microseg.analyses.identity import IdentityReport
from microseg.analyses.identity_sources import SpireId
from microseg.model.mesh import MeshMode
from microseg.render.conns import format_conns
from microseg.render.shape import envelope
from microseg.render.text import keep_words, plain

__all__ = ["identity_json", "identity_table", "identity_text_findings"]


def identity_table(report: IdentityReport) -> Table:
    table = Table(
        title=f"Workload identities (trust domain {report.trust_domain})", title_justify="left"
    )
    linkerd = any(r.mesh is MeshMode.LINKERD for r in report.rows)
    spire = any(r.spire for r in report.rows)
    cloud = any(r.cloud for r in report.rows)
    columns = ["workload", "service account", "SPIFFE ID"]
    columns += ["mesh identity"] if linkerd else []
    columns += ["SPIRE ID"] if spire else []
    columns += ["cloud identity"] if cloud else []
    columns += ["mesh", "mTLS / default policy" if linkerd else "mTLS", "allowed callers"]
    for col in columns:
        table.add_column(col)
    for r in report.rows:
        callers = "-" if r.mesh is MeshMode.NONE else ", ".join(r.callers) or "none"
        if r.callers == ("*",):
            callers = "any"
        mesh = r.mesh.value + (" (L4 authorization only)" if r.mesh is MeshMode.AMBIENT else "")
        cells = [r.workload, r.service_account, r.spiffe_id]
        cells += [r.mesh_identity or "-"] if linkerd else []
        cells += [", ".join(_spire_text(s) for s in r.spire) or "-"] if spire else []
        cells += [", ".join(str(c) for c in r.cloud) or "-"] if cloud else []
        cells += [mesh, r.mtls, callers]
        table.add_row(*(plain(c) for c in cells))
    return keep_words(table)


def _spire_text(s: SpireId) -> str:
    return s.spiffe_id + ("" if s.exact else " (partly known before the pod runs)")


def identity_text_findings(report: IdentityReport) -> str:
    lines = []
    for f in report.findings:
        where = f" ({f.location})" if f.location else ""
        ports = f" on {format_conns(f.conns)}" if f.conns is not None else ""
        lines.append(f"{f.code:<20} {f.subject}: {f.message}{ports}{where}")
    in_mesh = sum(r.mesh is not MeshMode.NONE for r in report.rows)
    lines.append(
        f"{len(report.rows)} workloads, {in_mesh} in the mesh, {len(report.findings)} finding"
        + ("" if len(report.findings) == 1 else "s")
    )
    return "\n".join(lines) + "\n"


def identity_json(report: IdentityReport) -> str:
    doc = envelope(
        "IdentityReport",
        trustDomain=report.trust_domain,
        workloads=[
            {
                "workload": r.workload,
                "serviceAccount": r.service_account,
                "spiffeId": r.spiffe_id,
                "mesh": r.mesh.value,
                "mtls": r.mtls,
                "allowedCallers": list(r.callers),
                "meshIdentity": r.mesh_identity or None,
                "spire": [
                    {"spiffeId": s.spiffe_id, "exact": s.exact, "clusterSPIFFEID": s.source}
                    for s in r.spire
                ],
                "cloudIdentities": [
                    {"provider": c.provider, "identity": c.value, "active": c.active}
                    for c in r.cloud
                ],
            }
            for r in report.rows
        ],
        findings=[
            {
                "code": f.code,
                "subject": f.subject,
                "message": f.message,
                "location": f.location or None,
                "conn": format_conns(f.conns) if f.conns is not None else None,
            }
            for f in report.findings
        ],
    )
    return json.dumps(doc, indent=2) + "\n"
