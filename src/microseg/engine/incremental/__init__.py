"""`Connectivity.apply(change)`: the index after one change, with only what the change
touches recomputed; equal to a rebuild (tests/property/test_incremental.py)."""
