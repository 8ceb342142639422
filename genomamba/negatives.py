"""Synthetic sequences that belong to no species: what every classifier must call ``unclassified``.

Four kinds, each seeded by the caller's ``numpy.random.Generator``:

  uniform     independent bases, each of A, C, G, T with probability 1/4
  gc_skewed   independent bases with a GC fraction drawn uniformly from [0.2, 0.8]
  shuffled    a real sequence shuffled with its dinucleotide counts kept exactly (Altschul & Erickson
              1985: a random Eulerian walk over the sequence's dinucleotide graph), so its base and
              dinucleotide composition are those of the real DNA while codons, genes and every longer
              structure are destroyed
  reversed    a real sequence read backwards (not complemented): same composition, every strand
              asymmetry of real DNA mirrored

The neural and k-mer classifiers train on such windows as one more class, "no species" (outlier
exposure, Hendrycks et al. 2019): the two real-derived kinds are the hard ones, because composition
alone does not tell them from the species they were made of. The tests and the evaluation use the same
generators on held-out sequences.
"""

from __future__ import annotations

import numpy as np

from .alphabet import N

KINDS = ("uniform", "gc_skewed", "shuffled", "reversed")
_ACGT = np.arange(4, dtype=np.uint8)  # token codes of A, C, G, T (genomamba.alphabet)


def uniform(rng: np.random.Generator, length: int) -> np.ndarray:
    return rng.integers(0, 4, size=length, dtype=np.uint8)


def gc_skewed(rng: np.random.Generator, length: int, gc: float | None = None) -> np.ndarray:
    """Independent bases of GC fraction ``gc`` (drawn from [0.2, 0.8] when not given)."""
    gc = rng.uniform(0.2, 0.8) if gc is None else gc
    p = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    return rng.choice(_ACGT, size=length, p=p)


def dinucleotide_shuffle(tokens: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random sequence with exactly the dinucleotide counts (and first and last base) of
    ``tokens`` (N is a symbol like any other).

    The sequence is an Eulerian path through the graph whose vertices are symbols and whose edges are
    its dinucleotides. Choose for every symbol but the last one a "last exit" edge such that these
    edges form a tree pointing at the last symbol; shuffle every symbol's other exits; walk from the
    first symbol taking exits in order, the last exit last: the walk uses every edge once.
    """
    tokens = np.asarray(tokens, dtype=np.uint8)
    if len(tokens) < 3:
        return tokens.copy()
    first, last = int(tokens[0]), int(tokens[-1])
    order = np.argsort(tokens[:-1], kind="stable")
    sources, targets = tokens[:-1][order], tokens[1:][order]
    exits = {int(s): targets[sources == s] for s in np.unique(sources)}
    while True:  # a random last exit per symbol until they form a tree into ``last`` (few tries: <= 5 symbols)
        chosen = {s: int(rng.integers(len(e))) for s, e in exits.items() if s != last}
        if all(_reaches(s, last, {v: int(exits[v][i]) for v, i in chosen.items()}) for s in chosen):
            break
    ordered = {}
    for s, e in exits.items():
        if s in chosen:
            rest = np.delete(e, chosen[s])
            ordered[s] = [*rng.permutation(rest).tolist(), int(e[chosen[s]])]
        else:
            ordered[s] = rng.permutation(e).tolist()
    walk, position, current = [first], {s: 0 for s in ordered}, first
    for _ in range(len(tokens) - 1):
        step = ordered[current][position[current]]
        position[current] += 1
        walk.append(step)
        current = step
    return np.array(walk, dtype=np.uint8)


def _reaches(start: int, goal: int, next_of: dict) -> bool:
    seen, vertex = set(), start
    while vertex != goal:
        if vertex in seen or vertex not in next_of:
            return False
        seen.add(vertex)
        vertex = next_of[vertex]
    return True


def make(kind: str, rng: np.random.Generator, real: np.ndarray | None = None,
         length: int | None = None) -> np.ndarray:
    """One negative of ``kind``: the random kinds are ``length`` (or ``len(real)``) bases; the
    real-derived kinds transform ``real``."""
    if kind in ("shuffled", "reversed"):
        if real is None:
            raise ValueError(f"negative kind {kind!r} needs a real sequence")
        return dinucleotide_shuffle(real, rng) if kind == "shuffled" else np.ascontiguousarray(real[::-1])
    length = len(real) if length is None else length
    if kind == "uniform":
        return uniform(rng, length)
    if kind == "gc_skewed":
        return gc_skewed(rng, length)
    raise ValueError(f"unknown negative kind {kind!r}; known: {', '.join(KINDS)}")


def random_negative(rng: np.random.Generator, real: np.ndarray) -> np.ndarray:
    """A negative of a kind drawn uniformly, as long as ``real`` (the source of the real-derived
    kinds); a window that is mostly N is reversed rather than shuffled, since a shuffle of N runs
    would scatter N through the sequence."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    if kind == "shuffled" and np.count_nonzero(real == N) * 2 > len(real):
        kind = "reversed"
    return make(kind, rng, real)
