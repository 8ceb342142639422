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
from .kmers import codes_by_chunk, reverse_complements, reversals

ACGT = 4


def kmer_counts(chunks: Iterable[np.ndarray], k: int) -> np.ndarray:
    """(4^k,) float64 counts of the k-mers of a sequence given as token chunks in order (k-mers with N
    are skipped); the same whatever the chunking."""
    tally = KmerTally(k)
    for _ in tally.passing(chunks):
        pass
    return tally.counts


class KmerTally:
    """k-mer counts of a sequence fed chunk by chunk, for a classifier that streams its chunks on:
    ``for chunk in tally.passing(chunks)`` counts while the classifier reads."""

    def __init__(self, k: int):
        self.k, self.counts = k, np.zeros(ACGT ** k)

    def passing(self, chunks: Iterable[np.ndarray]):
        for chunk, codes in codes_by_chunk(chunks, self.k):
            self.counts += np.bincount(codes, minlength=ACGT ** self.k)
            yield chunk


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
        self._reverse = reversals(order + 1)

    @classmethod
    def fit(cls, sequences_by_species, order: int = 6, beta: float = 4.0, min_length: int = 10_000) -> "MarkovCheck":
        """Chains from lists of token arrays, one list per species (threshold not yet calibrated: 0)."""
        if order < 1:
            raise ValueError("the Markov check needs an order of at least 1")
        k = order + 1
        rc = reverse_complements(k)
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
        """The chains as a float32 array ``markov.log_probs`` (for a model directory's safetensors)."""
        return {"markov.log_probs": np.ascontiguousarray(self.log_probs, dtype=np.float32)}

    def config(self) -> dict:
        return {"order": self.order, "threshold": self.threshold, "min_length": self.min_length}

    @classmethod
    def from_saved(cls, tensors: dict, config: dict) -> "MarkovCheck":
        return cls(np.asarray(tensors["markov.log_probs"], dtype=np.float64), config["order"],
                   config["threshold"], config["min_length"])


def load_check(tensors: dict, config: dict, config_path) -> MarkovCheck:
    """The check saved in a model directory (``config["markov"]`` and tensor ``markov.log_probs``); an
    InputError naming ``config_path`` where they do not fit together."""
    from .errors import InputError

    try:
        check = MarkovCheck.from_saved(tensors, config["markov"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"'markov' is not a saved Markov check ({type(exc).__name__}: {exc})", config_path) from None
    if check.log_probs.ndim != 2 or check.log_probs.shape[1] != ACGT ** (check.order + 1) \
            or check.log_probs.shape[0] != len(config.get("species", [])):
        raise InputError(f"markov.log_probs has shape {tuple(check.log_probs.shape)}, expected "
                         f"({len(config.get('species', []))}, {ACGT ** (check.order + 1)})", config_path)
    return check


def fit_check(species, train, validation, order: int, seed: int, log=print, windows_per_sample: int = 40):
    """A calibrated ``MarkovCheck`` from labelled sources (``genomamba.data.LabelledSource``): chains
    from every record of the training sources, the threshold from ``windows_per_sample`` windows of
    ``min_length`` bases of each validation source (of the training sources where no validation
    record is long enough: then real DNA scores higher than unseen DNA would, a looser check)."""
    check = MarkovCheck.fit([[s.source.read(r) for s in train if s.label == label for r in range(len(s.source.lengths))]
                             for label in range(len(species))], order=order)
    rng = np.random.default_rng([seed, 20261206])
    windows, held_out = [], True
    for sources in (validation, train):
        for s in sources:
            for r, length in enumerate(s.source.lengths):
                if length >= check.min_length:
                    for a in rng.integers(0, length - check.min_length + 1, size=windows_per_sample):
                        windows.append(s.source.read(r, int(a), int(a) + check.min_length))
        if windows:
            break
        held_out = False
    if not windows:
        log(f"Markov check: no record of {check.min_length} bases to calibrate on; not used")
        return None
    summary = check.calibrate(windows, rng)
    log(f"Markov check (order {order}) calibrated on {summary['windows']} {'held-out' if held_out else 'training'} "
        f"windows of {check.min_length} bases: threshold {summary['threshold']:.4f}, real windows rejected "
        f"{summary['real_rejected']:.3f}, synthetic negatives rejected {summary['negatives_rejected']:.3f}")
    return check
