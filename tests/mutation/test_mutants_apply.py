"""Every hand-written mutant still names code that exists, exactly once.

Why: tests/mutation/mutate.py finds each mutant's place by its exact original text. When
the code moves or is reworded, a mutant whose text no longer occurs would silently stop
testing anything; this test fails instead, so the list is updated with the code."""

from __future__ import annotations

import pytest

from tests.mutation.mutants import MUTANTS, Edit, Mutant
from tests.mutation.mutate import REPO


def _edits() -> list[tuple[str, Edit]]:
    return [(m.name, e) for m in MUTANTS for e in m.edits]


@pytest.mark.parametrize(("name", "edit"), _edits(), ids=lambda v: v if isinstance(v, str) else "")
def test_original_occurs_once(name: str, edit: Edit) -> None:
    text = (REPO / edit.file).read_text(encoding="utf-8")
    assert text.count(edit.original) == 1, f"{name}: {edit.original!r} in {edit.file}"
    assert edit.replacement != edit.original, name


def test_mutant_edits_are_independent() -> None:
    """Edits of one mutant must not overlap: applied in order, each original must still be
    there once after the earlier edits."""
    for m in MUTANTS:
        texts: dict[str, str] = {}
        for e in m.edits:
            text = texts.get(e.file) or (REPO / e.file).read_text(encoding="utf-8")
            assert text.count(e.original) == 1, f"{m.name}: {e.original!r}"
            texts[e.file] = text.replace(e.original, e.replacement)


def test_names_unique() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names))
    assert all(isinstance(m, Mutant) and m.edits for m in MUTANTS)
