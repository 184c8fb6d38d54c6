"""JSON Schemas shipped with microseg (package data), printed by `microseg schema NAME`.

`intent.schema.json` is generated from the pydantic models in
`microseg.ingest.intent_schema` (`intent_json_schema`), `guardrails.schema.json` from
`microseg.ingest.guardrails_schema` (`guardrails_json_schema`); tests keep the files equal to
them.
This package holds data only and imports nothing from microseg.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["SCHEMAS", "schema_text"]

SCHEMAS = {"intent": "intent.schema.json", "guardrails": "guardrails.schema.json"}


def schema_text(name: str) -> str:
    """The shipped schema `name` (a key of SCHEMAS) as text. Raises KeyError."""
    return resources.files(__name__).joinpath(SCHEMAS[name]).read_text(encoding="utf-8")
