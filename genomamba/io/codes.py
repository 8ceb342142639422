"""Byte-to-token translation shared by every reader: one 256-entry table, applied with bytes.translate.

A code is ``token + 8 * lowercase`` (token 0..4 = A, C, G, T, N; IUPAC ambiguity codes and U->T
handled below), whitespace is deleted, anything else becomes ``INVALID``.
"""

from __future__ import annotations

import numpy as np

from ..alphabet import A, C, G, N, T

LOWER = 8
INVALID = 255
WHITESPACE = b"\n\r \t"
_IUPAC_N = b"RYSWKMBDHVN"  # ambiguity codes collapse to N


def _table() -> bytes:
    table = np.full(256, INVALID, dtype=np.uint8)
    for letters, token in ((b"A", A), (b"C", C), (b"G", G), (b"T", T), (b"U", T), (_IUPAC_N, N)):
        for ch in letters:
            table[ch] = token
            table[ch + 32] = token + LOWER
    return table.tobytes()


TABLE = _table()
TABLE_ARRAY = np.frombuffer(TABLE, dtype=np.uint8)


def encode(data: bytes, keep_case: bool = True):
    """Translate sequence bytes to ``(tokens, mask or None, first_invalid_index or -1)``.

    Whitespace is dropped. ``mask`` is None when no base is lower case (or ``keep_case`` is off).
    ``first_invalid_index`` is the offset in ``data`` of the first byte that is not a base.
    """
    codes = np.frombuffer(data.translate(TABLE, WHITESPACE), dtype=np.uint8)
    if not len(codes):
        return codes, None, -1
    top = int(codes.max())
    if top <= N:
        return codes, None, -1
    if top == INVALID:
        return codes, None, first_invalid(data)
    tokens = codes & 7
    if not keep_case:
        return tokens, None, -1
    return tokens, codes >= LOWER, -1


def no_mask(n: int) -> np.ndarray:
    """An all-False soft-mask for ``n`` bases (zeroed pages cost next to nothing)."""
    return np.zeros(n, dtype=bool)


def first_invalid(data: bytes) -> int:
    """Offset of the first byte of ``data`` that is neither a base nor whitespace (-1 if none)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    bad = (TABLE_ARRAY[raw] == INVALID) & ~np.isin(raw, np.frombuffer(WHITESPACE, dtype=np.uint8))
    hits = np.flatnonzero(bad)
    return int(hits[0]) if len(hits) else -1


_PROTEIN_ONLY = set(b"EFILPQ*")


def describe_invalid(byte: int) -> str:
    """A message for a byte that is not a base, with a hint at what the input probably is."""
    ch = chr(byte)
    if byte in _PROTEIN_ONLY or (byte - 32) in _PROTEIN_ONLY:
        return f"invalid character {ch!r}: not DNA (protein sequence?)"
    if ch in "-.":
        return f"invalid character {ch!r}: alignment gaps are not sequence; remove them first"
    if byte < 32 or byte >= 127:
        return f"invalid byte 0x{byte:02x}: binary data, not a sequence file"
    return f"invalid character {ch!r} in sequence"
