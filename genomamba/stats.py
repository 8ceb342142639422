"""Intervals for the rates the report and the figures show.

``wilson``: the Wilson score interval of k successes in n independent trials (good at small n and
at rates of 0 or 1, where the normal approximation fails). ``bootstrap_rate``: a percentile bootstrap
over groups (genomes, or region blocks), for rates over items that are not independent -- the
records and fragments of one genome share its answer; the groups are resampled with replacement and
the rate recomputed as total successes over total items. Both give 95% intervals by default.

A bootstrap over few groups cannot be wider than the groups it saw: when every genome is all right,
every resample is too, and the percentile interval collapses to [1, 1]. So the bootstrap interval is
widened to contain the Wilson interval of the pooled rate with as many trials as there are groups
(the independent units), never narrower than what that many genomes can tell.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_REPLICATES = 2000


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval (low, high) of k of n; None when n is 0."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_rate(groups, seed: int, replicates: int = BOOTSTRAP_REPLICATES,
                   level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of sum(k) / sum(n) over ``groups`` of (k, n), resampling
    groups with replacement (``seed`` fixes the draws). None with fewer than two groups, where
    resampling says nothing about the spread between groups."""
    groups = [(k, n) for k, n in groups if n > 0]
    if len(groups) < 2:
        return None
    k = np.array([g[0] for g in groups], dtype=float)
    n = np.array([g[1] for g in groups], dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(groups), size=(replicates, len(groups)))
    rates = k[draws].sum(axis=1) / n[draws].sum(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(rates, [tail, 100 - tail])
    pooled = k.sum() / n.sum()
    z = float(np.sqrt(2) * _erfinv(level))
    floor_low, floor_high = wilson(pooled * len(groups), len(groups), z)
    return float(min(low, floor_low)), float(max(high, floor_high))


def _erfinv(level: float) -> float:
    """The z of a two-sided ``level`` interval divided by sqrt(2) (Z95 / sqrt(2) at 0.95)."""
    if abs(level - 0.95) < 1e-12:
        return Z95 / math.sqrt(2)
    from scipy.special import erfinv

    return float(erfinv(level))
