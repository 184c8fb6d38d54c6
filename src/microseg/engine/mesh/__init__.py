"""The Istio layer over the index: which policies apply where (match.py) and the mesh's
allow table over classes, address atoms and port atoms (table.py). It never imports the
reference evaluators (engine/spec/)."""
