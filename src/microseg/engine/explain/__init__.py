"""Why a query got its answer: per direction, the tiers, policies and rules that decided
each part of a connection (netpol.py), and the mesh's reasons (mesh.py), as typed steps."""
