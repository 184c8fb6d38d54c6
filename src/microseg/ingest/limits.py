"""Input limits, apart from the readers: the CLI's options name their defaults at start-up,
and importing the readers (PyYAML, the event builder) for a constant would cost every
command, `--help` included, their import time."""

from __future__ import annotations

__all__ = ["MAX_INPUT_BYTES"]

MAX_INPUT_BYTES = 1 << 30
"""The default cap on one input file or stdin (1 GiB; B3's 150,000 pods are 139 MB): a
path to /dev/zero or a runaway generator is refused, not read until memory runs out.
`read_paths(max_bytes=...)` (the CLI's --max-input-size) sets another."""
