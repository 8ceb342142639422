"""Is a sequence DNA of a trained species at all? A Markov-chain test that every model kind shares.

A classifier trained on a few species says which of them a sequence is most like; it can be sure of a
species for a sequence that is no DNA of any of them: random bases, a dinucleotide shuffle, real DNA
read backwards (``genomamba.negatives``). This test rejects those by a likelihood ratio (as Ren et al.
2019 did for bacterial sequences), with statistics that do not depend on the classifier.

Per species, a Markov chain of order K over A, C, G, T, counted on both strands of its training
sequences; each order's conditional probabilities are shrunk towards the next lower order's (a
Dirichlet backoff: ``p_k(b | c) = (n(c, b) + beta p_(k-1)(b | c')) / (n(c) + beta)``, ``c'`` the
context without its oldest base), so an unseen context falls back on the shorter ones. For a sequence
x, all from the counts of its (K+1)-mers:

  gain(x)       the most any species' chain gains per base over x's own first-order chain (fitted to
                x itself): log-likelihood per base under the chain, minus that under x's own
                dinucleotide frequencies. Independent bases (uniform, GC-skewed) and dinucleotide
                shuffles are first-order sequences: no chain beats their own first-order fit but by
                noise. Real DNA has codons, genes and motifs that the species' chain knows.
  asymmetry(x)  gain(x) minus the gain of x read backwards. The chains hold real DNA's strand
                structure (both strands, 5' to 3'); read backwards it is lost, so reversed DNA has a
                negative asymmetry.
  score(x)      gain(x) + asymmetry(x).

The threshold is calibrated at ``min_length`` bases (10 kb by default) between real windows and
synthetic negatives made from the same sequences (see ``calibrate``); shorter sequences are not judged
(the per-base statistics are too noisy there: a classifier's own out-of-distribution check decides).
Longer sequences have less noise on both sides, so one threshold serves every length above.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from . import negatives

ACGT = 4


def kmer_counts(chunks: Iterable[np.ndarray], k: int) -> np.ndarray:
    """(4^k,) float64 counts of the k-mers of a sequence given as token chunks in order (k-mers with N
    are skipped); the same whatever the chunking."""
    counts = np.zeros(ACGT ** k)
    carry = np.zeros(0, dtype=np.uint8)
    for chunk in chunks:
        tokens = np.concatenate((carry, np.asarray(chunk, dtype=np.uint8)))
        if len(tokens) >= k:
            counts += np.bincount(_kmer_index(tokens, k), minlength=ACGT ** k)
        carry = tokens[-(k - 1):] if k > 1 else tokens[:0]
    return counts


def _kmer_index(tokens: np.ndarray, k: int) -> np.ndarray:
    """Index (base-4, oldest base most significant) of every k-mer of ``tokens`` without an N."""
    t = tokens.astype(np.int64)
    n = len(t) - k + 1
    index = np.zeros(n, dtype=np.int64)
    has_n = np.zeros(n, dtype=bool)
    for j in range(k):
        part = t[j:j + n]
        index = index * ACGT + np.minimum(part, ACGT - 1)
        has_n |= part >= ACGT
    return index[~has_n]


def reversal(k: int) -> np.ndarray:
    """Permutation of k-mer indices: position i holds the index of k-mer i read backwards."""
    digits = np.indices((ACGT,) * k).reshape(k, -1)          # digits[j] = base j of every k-mer
    return np.ravel_multi_index(digits[::-1], (ACGT,) * k)


def complement(k: int) -> np.ndarray:
    """Permutation of k-mer indices: the reverse complement of every k-mer."""
    digits = np.indices((ACGT,) * k).reshape(k, -1)
    return np.ravel_multi_index((ACGT - 1 - digits)[::-1], (ACGT,) * k)


def chain(counts: np.ndarray, order: int, beta: float) -> np.ndarray:
    """(4^(order+1),) log p(next base | order bases before it) from (order+1)-mer ``counts`` (both
    strands already), each order shrunk towards the one below."""
    p = np.full(ACGT, 1.0 / ACGT)
    for k in range(order + 1):
        n = counts.reshape(ACGT ** (order - k), -1).sum(0).reshape(-1, ACGT)   # (4^k contexts, 4)
        prior = np.tile(p.reshape(-1, ACGT), (ACGT, 1)) if k else p[None, :]
        p = ((n + beta * prior) / (n.sum(1, keepdims=True) + beta)).ravel()
    return np.log(p)


def own_first_order(pairs: np.ndarray) -> float:
    """Log-likelihood of a sequence under its own first-order chain, from its (4, 4) dinucleotide counts."""
    rows = pairs.sum(1, keepdims=True)
    nonzero = pairs > 0
    return float((pairs[nonzero] * np.log(pairs[nonzero] / np.broadcast_to(rows, pairs.shape)[nonzero])).sum())


class MarkovCheck:
    """Per-species Markov chains and the threshold on ``score``; see the module docstring."""

    def __init__(self, log_probs: np.ndarray, order: int, threshold: float, min_length: int):
        self.log_probs = np.asarray(log_probs, dtype=np.float64)   # (species, 4^(order+1))
        self.order, self.threshold, self.min_length = int(order), float(threshold), int(min_length)
        self._reverse = reversal(order + 1)

    @classmethod
    def fit(cls, sequences_by_species, order: int = 6, beta: float = 4.0, min_length: int = 10_000) -> "MarkovCheck":
        """Chains from lists of token arrays, one list per species (threshold not yet calibrated: 0)."""
        if order < 1:
            raise ValueError("the Markov check needs an order of at least 1")
        k = order + 1
        rc = complement(k)
        tables = []
        for sequences in sequences_by_species:
            counts = sum((kmer_counts([s], k) for s in sequences), np.zeros(ACGT ** k))   # records not joined
            tables.append(chain(counts + counts[rc], order, beta))
        return cls(np.stack(tables), order, 0.0, min_length)

    def statistics(self, counts: np.ndarray) -> tuple[float, float]:
        """(gain, asymmetry) per base of a sequence from its (order+1)-mer counts."""
        n = counts.sum()
        if n == 0:
            return 0.0, 0.0
        pairs = counts.reshape(-1, ACGT, ACGT).sum(0)   # the dinucleotides: the last two bases of each k-mer
        own_forward, own_backward = own_first_order(pairs), own_first_order(pairs.T)
        forward = (self.log_probs @ counts - own_forward) / n
        backward = (self.log_probs @ counts[self._reverse] - own_backward) / n
        gain = float(forward.max())
        return gain, gain - float(backward.max())

    def score_counts(self, counts: np.ndarray) -> float:
        gain, asymmetry = self.statistics(counts)
        return gain + asymmetry

    def score(self, chunks: Iterable[np.ndarray]) -> float:
        return self.score_counts(kmer_counts(chunks, self.order + 1))

    def judged(self, counts: np.ndarray) -> bool:
        """Whether a sequence is long enough to be judged (``min_length`` bases without N)."""
        return counts.sum() + self.order >= self.min_length

    def accepts_counts(self, counts: np.ndarray) -> bool:
        """False only for a sequence long enough to judge whose score is below the threshold."""
        return not self.judged(counts) or self.score_counts(counts) >= self.threshold

    def accepts(self, chunks: Iterable[np.ndarray]) -> bool:
        return self.accepts_counts(kmer_counts(chunks, self.order + 1))

    def calibrate(self, real_windows: list[np.ndarray], rng: np.random.Generator, quantile: float = 0.005) -> dict:
        """Set the threshold from real windows of ``min_length`` bases (held-out sequences of the
        trained species where there are any) and synthetic negatives of every kind made from them.

        The threshold lies halfway between the highest negative's score and the ``quantile`` of the
        real windows' scores; where they overlap it is that quantile (real DNA is not rejected for the
        sake of negatives: those are then left to the classifier's own checks). Returns a summary."""
        real = np.array([self.score([w]) for w in real_windows])
        fake = np.array([self.score([negatives.make(kind, rng, w)]) for w in real_windows for kind in negatives.KINDS])
        low = float(np.quantile(real, quantile))
        high = float(fake.max())
        self.threshold = (low + high) / 2 if high < low else low
        return {"threshold": self.threshold, "real_quantile": low, "negatives_max": high,
                "real_rejected": float((real < self.threshold).mean()),
                "negatives_rejected": float((fake < self.threshold).mean()), "windows": len(real_windows)}

    def tensors(self) -> dict:
        return {"markov_log_probs": np.asarray(self.log_probs, dtype=np.float32)}

    def config(self) -> dict:
        return {"order": self.order, "threshold": self.threshold, "min_length": self.min_length}

    @classmethod
    def from_saved(cls, tensors: dict, config: dict) -> "MarkovCheck":
        return cls(np.asarray(tensors["markov_log_probs"], dtype=np.float64), config["order"],
                   config["threshold"], config["min_length"])
