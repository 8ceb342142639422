"""The out-of-distribution model of a neural classifier (``WindowDistance``): how far a record's
summary is from the species, and how far it may be.

Max probability alone is overconfident far from the training data (human DNA is still "most like"
some bacterium), so a record is also measured against the species: a Gaussian per class with one
shared, Ledoit-Wolf-shrunk covariance (``genomamba.classifiers.ood.TiedGaussian``, Lee et al. 2018)
fitted to window summaries (the mean hidden state of a ``window``-base window), and the record's
distance is the Mahalanobis distance of its summary (the mean of its n = length / ``window`` window
summaries; both strands, 2n, with the RC option) to the nearest class mean, divided by
sqrt(d_model). Longer records average more windows, so their summary concentrates on their strain's
mean: distance^2 ~ strain offset + noise / n, and the acceptable distance is
``radius(n)^2 = A + B / n`` (``genomamba.classifiers.ood.fit_radius``; how A and B are calibrated:
``genomamba.classifiers.neural_calibration``). Beyond the largest calibrated n the radius stays at
its value there (no extrapolation; conservative). Records shorter than a window get the one-window
radius, unless segments shorter than a window were calibrated: the summary of so short a segment is
dominated by the state's start-up transient, so those quantiles are radius points of their own,
interpolated in log n up to the one-window radius. A record farther than ``margin * radius(n)`` gets
confidence 0 (its probabilities are kept), so it is called ``unclassified`` whatever the threshold.
Nothing depends on the chunking: the summary is a mean over all bases and n counts bases.

Saved in config.json's ``ood`` (the radius fit) and as tensors ``ood.means`` / ``ood.precision``
beside the weights.
"""

from __future__ import annotations

import numpy as np

from .ood import TiedGaussian, radius


class WindowDistance:
    """Out-of-distribution check: the distance of a record's summary (the mean of its n window
    summaries) to the nearest class (``TiedGaussian``), accepted within ``radius(n)``."""

    def __init__(self, gaussian: TiedGaussian, radius_fit, max_windows: int, margin: float, short=()):
        self.gaussian, self.radius_fit = gaussian, [float(x) for x in radius_fit]
        self.max_windows, self.margin = int(max_windows), float(margin)
        self.short = sorted((float(n), float(q)) for n, q in short)  # (windows < 1, quantile)

    def radius(self, n_windows) -> np.ndarray:
        """Beyond the largest calibrated count the radius is not extrapolated (it stays there). Below
        one window it is the one-window radius, or, where segments that short were calibrated, the
        calibrated quantiles interpolated in log n up to the one-window radius (held below the
        shortest)."""
        n = np.asarray(n_windows, dtype=np.float64)
        out = radius(self.radius_fit, np.minimum(n, self.max_windows), self.margin)
        if self.short:
            sizes = np.log([n for n, _ in self.short] + [1.0])
            values = [self.margin * q for _, q in self.short] + [float(radius(self.radius_fit, 1, self.margin))]
            below = np.interp(np.log(np.clip(n, 1e-12, 1.0)), sizes, values)
            out = np.where(n < 1, below, out)
        return out

    def inside(self, distance_of_mean, n_windows) -> np.ndarray:
        return np.asarray(distance_of_mean) <= self.radius(n_windows)

    def config(self) -> dict:
        config = {"radius_fit": self.radius_fit, "max_windows": self.max_windows, "margin": self.margin}
        if self.short:
            config["short"] = [list(pair) for pair in self.short]
        return config

    @classmethod
    def from_saved(cls, tensors: dict, config: dict) -> "WindowDistance":
        return cls(TiedGaussian.from_tensors(tensors, "ood."), config["radius_fit"], config["max_windows"],
                   config["margin"], config.get("short", ()))
