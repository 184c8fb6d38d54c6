"""The loops that tail the live cluster and talk to its API: `monitor` (list, watch,
re-verify) and `apply` (server-side apply after a semantic diff).

An adapter layer under the CLI: it may use ingest (the API client, the readers), the
engine's face, analyses and render; the CLI calls it; nothing below imports it.
"""
