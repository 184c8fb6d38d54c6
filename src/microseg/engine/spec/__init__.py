"""Reference evaluators, written from the specs one (source, destination, port) at a time:
the oracles the property tests hold the fast engine to.

What they share with the rest of microseg: nothing but the parsed YAML documents they are
given. Not ingest's model either (its pods, namespaces and policies carry ingest's reading:
policyTypes defaulted, empty peer lists folded, `except` subtracted, namespaces labelled,
templates turned into pods); a reference reading those objects would inherit any mistake
made there, which is how a wrong default once passed every property test. So `world.py`
reads namespaces, pods, controllers' templates, nodes and services from the documents itself,
`netpol.py` the NetworkPolicy and guardrail rules, `mesh.py` and `mesh_identity.py` Istio's.
Answers are plain values (a bool; a small Answer for the mesh) that tests compare by meaning.

import-linter holds them apart: these modules import no other part of the engine, no ingest,
no model. The index and the mesh table never import them.
"""
