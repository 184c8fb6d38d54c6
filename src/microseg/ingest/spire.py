"""SPIRE's ClusterSPIFFEID (spire.spiffe.io/v1alpha1, spire-controller-manager
docs/clusterspiffeid-crd.md) to model values.

Checked as the controller's validating webhook does (`ParseClusterSPIFFEIDSpec`): the
SPIFFE ID template is required, every template must parse, selectors must be valid label
selectors (MS197). A template that Go accepts but microseg cannot render statically (an
`if`, a `range`, a variable) is kept with notice MS198: the identity report then says the
SPIFFE ID is unknown rather than guessing it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from microseg.errors import Diagnostic, Origin, Severity
from microseg.ingest.documents import Document
from microseg.ingest.k8s_schema import RawLabelSelector
from microseg.ingest.netpols import selector_from_raw
from microseg.ingest.validation import diagnostics_from
from microseg.model.gotemplate import TemplateError, parse
from microseg.model.identity import ClusterSPIFFEID

__all__ = ["parse_cluster_spiffe_id"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Meta(_Open):
    name: StrictStr


class _Spec(_Open):
    spiffeIDTemplate: StrictStr = Field(min_length=1)
    podSelector: RawLabelSelector | None = None
    namespaceSelector: RawLabelSelector | None = None
    workloadSelectorTemplates: list[StrictStr] | None = None
    dnsNameTemplates: list[StrictStr] | None = None
    federatesWith: list[StrictStr] | None = None
    className: StrictStr = ""
    fallback: StrictBool = False


class _Raw(_Open):
    metadata: _Meta
    spec: _Spec


def parse_cluster_spiffe_id(doc: Document) -> tuple[ClusterSPIFFEID | None, list[Diagnostic]]:
    try:
        raw = _Raw.model_validate(doc.data)
    except ValidationError as exc:
        return None, diagnostics_from(exc, doc, "MS197")
    spec = raw.spec
    base = doc.origin()
    origin = Origin(base.file, base.document, base.line, "ClusterSPIFFEID", "", raw.metadata.name)
    notes: list[Diagnostic] = []
    fields = [("spec.spiffeIDTemplate", spec.spiffeIDTemplate)]
    fields += [
        (f"spec.workloadSelectorTemplates[{i}]", t)
        for i, t in enumerate(spec.workloadSelectorTemplates or [])
    ]
    for path, template in fields:
        try:
            parse(template)
        except TemplateError as exc:
            notes.append(
                Diagnostic(
                    Severity.NOTICE,
                    "MS198",
                    f"template {template!r}: {exc}; the SPIFFE IDs it renders are shown as unknown",
                    origin,
                    path,
                )
            )
    if "{{" not in spec.spiffeIDTemplate and not spec.spiffeIDTemplate.startswith("spiffe://"):
        notes.append(
            Diagnostic(
                Severity.ERROR,
                "MS197",
                f"{spec.spiffeIDTemplate!r} is not a SPIFFE ID (spiffe://<trust domain>/<path>)",
                origin,
                "spec.spiffeIDTemplate",
            )
        )
        return None, notes
    return (
        ClusterSPIFFEID(
            raw.metadata.name,
            spec.spiffeIDTemplate,
            selector_from_raw(spec.podSelector) if spec.podSelector is not None else None,
            selector_from_raw(spec.namespaceSelector)
            if spec.namespaceSelector is not None
            else None,
            tuple(spec.workloadSelectorTemplates or ()),
            tuple(spec.dnsNameTemplates or ()),
            tuple(spec.federatesWith or ()),
            spec.className,
            spec.fallback,
            origin,
        ),
        notes,
    )
