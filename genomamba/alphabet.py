"""The token alphabet shared by every part of the pipeline: A, C, G, T, N as 0..4."""

import numpy as np

TOKENIZER_VERSION = 1
BASES = "ACGTN"
A, C, G, T, N = range(5)
VOCAB_SIZE = len(BASES)

# Complement of each token (N stays N).
COMPLEMENT = np.array([T, G, C, A, N], dtype=np.uint8)

_DECODE = np.frombuffer(BASES.encode(), dtype=np.uint8)


def reverse_complement(tokens: np.ndarray) -> np.ndarray:
    """Reverse complement of a token array (uint8 0..4)."""
    return COMPLEMENT[tokens[::-1]]


def decode(tokens: np.ndarray) -> bytes:
    """Tokens back to upper-case ASCII bases."""
    return _DECODE[np.asarray(tokens, dtype=np.uint8)].tobytes()
