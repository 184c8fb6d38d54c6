"""`microseg ui`: the segmentation graph in a browser, over a JSON API.

An adapter, like the CLI: it loads inputs (through ingest), asks the engine and the
analyses, and serves their answers as JSON (pydantic models, OpenAPI at /openapi.json) and
one static page built from npm packages by `make ui` (sources in the repository's `ui/`
folder). It computes nothing of its own beyond choosing what to show: connectivity,
explanations, blast radius, diff, verify and flow replay all come from microseg.analyses
and microseg.engine. It binds to loopback by default; anywhere else every request needs
the random token printed at start-up.
"""

__all__: list[str] = []
