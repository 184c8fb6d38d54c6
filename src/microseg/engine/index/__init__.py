"""The index's parts: endpoint classes, port and address atoms, compiled selectors and rule
groups, the per-direction allow tables, primary networks. Data and how to build it; no
queries, no explanations, and never the reference evaluators (engine/spec/)."""
