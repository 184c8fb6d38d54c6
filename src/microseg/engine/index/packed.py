"""Port-atom masks packed into 64-bit words.

A boolean per port atom costs a byte per (target, peer, atom) cell; the same mask packed
into words costs a bit, so the allow tables shrink eightfold and combining two of them is
one `&` per word instead of one per atom. Real inputs have a few dozen port atoms, which
fit one word: tables are then plain `[rows, cols]` uint64 matrices with one trailing axis
of length 1. Atom `a` is bit `a % 64` of word `a // 64`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Bits", "full_word", "n_words", "pack", "unique_rows", "unpack"]

Bits = npt.NDArray[np.uint64]
_WORD = np.dtype("<u8")  # little-endian so that byte k of a word holds atoms 8k..8k+7


def n_words(n_atoms: int) -> int:
    return max(1, (n_atoms + 63) // 64)


def pack(mask: npt.NDArray[np.bool_]) -> Bits:
    """`[..., atoms]` booleans to `[..., words]` uint64."""
    packed = np.packbits(mask, axis=-1, bitorder="little")
    width = n_words(mask.shape[-1]) * 8
    if packed.shape[-1] != width:
        padded = np.zeros((*packed.shape[:-1], width), dtype=np.uint8)
        padded[..., : packed.shape[-1]] = packed
        packed = padded
    return np.ascontiguousarray(packed).view(_WORD).astype(np.uint64, copy=False)


def unpack(bits: Bits, n_atoms: int) -> npt.NDArray[np.bool_]:
    """`[..., words]` uint64 back to `[..., atoms]` booleans."""
    raw = np.ascontiguousarray(bits, dtype=_WORD).view(np.uint8)
    out = np.unpackbits(raw, axis=-1, count=n_atoms, bitorder="little")
    return out.view(np.bool_)


def full_word(n_atoms: int) -> Bits:
    """Every atom set, padding bits clear (so `!= 0` means "some connection")."""
    return pack(np.ones(n_atoms, dtype=np.bool_))


def unique_rows(rows: Bits) -> tuple[Bits, npt.NDArray[np.int64]]:
    """Distinct `[n, words]` rows and each row's index among them (a 1-D sort)."""
    if rows.shape[1] == 1:
        uniq, inverse = np.unique(rows[:, 0], return_inverse=True)
        return uniq[:, None], inverse.reshape(-1).astype(np.int64)
    keys = np.ascontiguousarray(rows).view(np.dtype((np.void, rows.shape[1] * 8))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return rows[first], inverse.reshape(-1).astype(np.int64)
