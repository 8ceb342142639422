"""k-mers of token sequences, shared by the k-mer classifier and the Markov check.

A k-mer's code is its bases in base 4, the first (oldest) base most significant; k-mers that contain
an N are skipped. ``codes_by_chunk`` carries the last k - 1 tokens of each chunk over to the next, so
a sequence's k-mers do not depend on how it is chunked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def kmer_codes(tokens: np.ndarray, k: int) -> np.ndarray:
    """Codes of the k-mers of ``tokens`` that contain no N, in order."""
    n = len(tokens) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    tokens = np.asarray(tokens)
    code = np.zeros(n, dtype=np.int64)
    for j in range(k):
        code = code * 4 + (tokens[j:j + n] & 3)
    n_count = np.concatenate(([0], np.cumsum(tokens > 3)))
    return code[(n_count[k:] - n_count[:-k]) == 0]


def codes_by_chunk(chunks: Iterable[np.ndarray], k: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(chunk, codes of the k-mers that end in it) for each chunk of a sequence, in order."""
    carry = np.empty(0, dtype=np.uint8)
    for chunk in chunks:
        tokens = np.concatenate((carry, chunk)) if len(carry) else np.asarray(chunk)
        yield chunk, kmer_codes(tokens, k)
        carry = tokens[len(tokens) - (k - 1):] if len(tokens) >= k - 1 else tokens


def reverse_complements(k: int) -> np.ndarray:
    """For every k-mer code, the code of its reverse complement."""
    digits = np.indices((4,) * k).reshape(k, -1)   # digits[j] = base j of every k-mer
    return np.ravel_multi_index((3 - digits)[::-1], (4,) * k)


def reversals(k: int) -> np.ndarray:
    """For every k-mer code, the code of the k-mer read backwards (not complemented)."""
    digits = np.indices((4,) * k).reshape(k, -1)
    return np.ravel_multi_index(digits[::-1], (4,) * k)
