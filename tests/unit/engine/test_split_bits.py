"""Refining port atoms copies each old atom's bit into its pieces (engine/incremental/apply.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from microseg.engine.incremental.atoms import split_bits as _split_bits
from microseg.engine.index.packed import pack, unpack

# split_bits works within one 64-bit word: the caller rebuilds instead when the pieces
# outgrow it (refine, "port atoms outgrow one word"), so the pieces here fit one word.
PIECES = st.lists(st.integers(1, 3), min_size=1, max_size=30).filter(lambda p: sum(p) <= 64)


@settings(max_examples=200, deadline=None)
@given(PIECES, st.integers(0, 2**32 - 1))
def test_each_bit_is_copied_into_its_pieces(pieces: list[int], seed: int) -> None:
    counts = np.array(pieces, dtype=np.int64)
    mask = np.random.default_rng(seed).random((7, 3, len(pieces))) < 0.5
    got = unpack(_split_bits(pack(mask), counts), int(counts.sum()))
    assert np.array_equal(got, np.repeat(mask, counts, axis=2))
    # padding stays clear, so a full word stays exactly full
    full = _split_bits(pack(np.ones((1, 1, len(pieces)), np.bool_)), counts)
    assert int(full[0, 0, 0]) == (1 << int(counts.sum())) - 1
