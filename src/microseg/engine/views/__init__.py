"""Readers over a built Connectivity for the analyses: workload-level graphs, blocks of the
combined tables, the ingress controller's reach, L7 conditions on edges."""
