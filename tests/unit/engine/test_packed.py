"""Packed port-atom masks (engine/index/packed.py): packing is lossless, word layout is fixed, and
the allow tables' packed and boolean forms agree."""

from __future__ import annotations

import numpy as np
import pytest

from microseg.engine.index.packed import full_word, n_words, pack, unique_rows, unpack


@pytest.mark.parametrize("atoms", [1, 7, 8, 33, 63, 64, 65, 130])
def test_pack_round_trips(atoms: int) -> None:
    rng = np.random.default_rng(atoms)
    mask = rng.random((5, 3, atoms)) < 0.4
    bits = pack(mask)
    assert bits.dtype == np.uint64
    assert bits.shape == (5, 3, n_words(atoms))
    assert np.array_equal(unpack(bits, atoms), mask)


def test_atom_k_is_bit_k_mod_64_of_word_k_div_64() -> None:
    mask = np.zeros(70, dtype=np.bool_)
    mask[[0, 5, 63, 64, 69]] = True
    (w0, w1) = pack(mask).tolist()
    assert w0 == (1 << 0) | (1 << 5) | (1 << 63)
    assert w1 == (1 << 0) | (1 << 5)


def test_full_word_sets_no_padding_bits() -> None:
    assert full_word(33).tolist() == [(1 << 33) - 1]
    assert unpack(full_word(33), 33).all()
    assert full_word(64).tolist() == [(1 << 64) - 1]


def test_bitwise_algebra_matches_boolean_algebra() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 40, 100)) < 0.5
    pa, pb = pack(a), pack(b)
    assert np.array_equal(unpack(pa & pb, 100), a & b)
    assert np.array_equal(unpack(pa | pb, 100), a | b)
    assert np.array_equal(unpack(pa & ~pb, 100), a & ~b)
    assert np.array_equal((pa != 0).any(axis=-1), a.any(axis=-1))


@pytest.mark.parametrize("atoms", [20, 100])
def test_unique_rows(atoms: int) -> None:
    rng = np.random.default_rng(atoms)
    pool = rng.random((4, atoms)) < 0.5
    rows = pool[rng.integers(0, 4, size=50)]
    uniq, inverse = unique_rows(pack(rows))
    assert len(uniq) == len({r.tobytes() for r in rows})
    assert np.array_equal(unpack(uniq, atoms)[inverse], rows)
