"""`microseg diff` against np-guard/netpol-analyzer's expected diffs, compared by meaning.

Every `expected/diff/[PREFIX_]diff_between_<NEW>_and_<OLD>.<fmt>` whose two folders exist
under `tests/` is a case; each format file (txt, csv, md) is checked for its grammar (header
rows, parseable lines, netpol-analyzer's section order) and for meaning (diff_canonical.py).

Decisions per case:
- Folder names contain `_and_` themselves (`..._changed_netpols_and_workloads_and_...`): every
  split point is tried and the one split whose two folders both exist is used; a name with
  none or several is reported, not guessed.
- ref1 is OLD (the second name) and ref2 is NEW: checked against the files, e.g. in
  `diff_between_udn_test_1_and_only_pods_test` ref1 holds only_pods_test's connections.
- `TsetOutputWithArgNamesOption_` files come from netpol-analyzer's test of its
  `WithArgNames("old", "new")` option (their headers say `old`/`new`): run with
  `--ref1-name old --ref2-name new`.
- Host-network pods: netpol-analyzer treats them as ordinary pods; as in the connlist
  conformance test, every case runs with `--host-network pod`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from microseg.cli.app import app
from tests.conformance.diff_canonical import (
    PARSERS,
    canonical_diff,
    diff_differences,
    section_order,
)
from tests.conftest import conformance_root

PREFIXES = {"TsetOutputWithArgNamesOption_": ("old", "new")}

# Known, reasoned exclusions: expected file -> why it cannot pass (with the evidence).
# (diff_between_udn_test_1_and_only_pods_test passes since UserDefinedNetworks are modelled:
# the two folders differ only by two primary UDNs, which cut blue off from green.)
XFAIL: dict[str, str] = {}


def _split(stem: str, tests: Path) -> tuple[str, str] | None:
    """(NEW, OLD) for `diff_between_<NEW>_and_<OLD>`, if exactly one split names two folders."""
    body = stem.removeprefix("diff_between_")
    parts = body.split("_and_")
    found = [
        ("_and_".join(parts[:i]), "_and_".join(parts[i:]))
        for i in range(1, len(parts))
        if (tests / "_and_".join(parts[:i])).is_dir() and (tests / "_and_".join(parts[i:])).is_dir()
    ]
    return found[0] if len(found) == 1 else None


def _cases() -> list[tuple[str, str, str, str, str]]:
    """(expected file name, fmt, NEW, OLD, prefix) for every usable expected file."""
    root = conformance_root()
    if root is None:
        return []
    base = root / "netpol-analyzer"
    out = []
    for f in sorted((base / "expected" / "diff").iterdir()):
        fmt = f.suffix.lstrip(".")
        if fmt not in PARSERS:
            continue
        prefix = next((p for p in PREFIXES if f.name.startswith(p)), "")
        split = _split(f.stem.removeprefix(prefix), base / "tests")
        if split is not None:
            out.append((f.name, fmt, *split, prefix))
    return out


CASES = _cases()


def _params() -> list[object]:
    if not CASES:
        return [
            pytest.param(
                *("none",) * 5, marks=pytest.mark.skip(reason="conformance corpus not found")
            )
        ]
    return [
        pytest.param(
            *c,
            id=c[0],
            marks=[pytest.mark.xfail(reason=XFAIL[c[0]], strict=True)] if c[0] in XFAIL else [],
        )
        for c in CASES
    ]


def _run(base: Path, old: str, new: str, fmt: str, names: tuple[str, str]) -> tuple[int, str]:
    args = ["diff", str(base / "tests" / old), str(base / "tests" / new), "-o", fmt, "-q"]
    args += ["--host-network", "pod", "--ref1-name", names[0], "--ref2-name", names[1]]
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


@pytest.mark.parametrize(("name", "fmt", "new", "old", "prefix"), _params())
def test_diff_agrees_in_meaning(
    corpus: Path, name: str, fmt: str, new: str, old: str, prefix: str
) -> None:
    base = corpus / "netpol-analyzer"
    names = PREFIXES.get(prefix, ("ref1", "ref2"))
    parse = PARSERS[fmt]
    expected = parse((base / "expected" / "diff" / name).read_text(), names)
    code, out = _run(base, old, new, fmt, names)
    actual = parse(out, names)  # raises on any line outside the grammar
    assert code == (1 if expected else 0), out
    assert section_order(actual) == sorted(section_order(actual))
    diffs = diff_differences(canonical_diff(expected), canonical_diff(actual))
    assert not diffs, f"{name} differs:\n" + "\n".join(diffs)


def test_every_expected_diff_is_a_case(corpus: Path) -> None:
    """No expected file is silently dropped: each one names two existing folders."""
    files = [
        f.name
        for f in (corpus / "netpol-analyzer" / "expected" / "diff").iterdir()
        if f.suffix.lstrip(".") in PARSERS
    ]
    assert sorted(files) == sorted(c[0] for c in CASES)
    assert len({(c[2], c[3]) for c in CASES}) >= 45
