"""Out-of-distribution checks shared by the classifiers: a radius that shrinks with the amount of
evidence, and a class-conditional Gaussian with a tied covariance for embeddings.

``fit_radius`` / ``radius``: a sequence's distance to the training species is noisier the less of it
there is (fewer k-mers, fewer windows), so the acceptable distance depends on its size ``n``. Given a
high quantile of the in-distribution distance at a few sizes, ``radius(n)^2 = A + B / n`` (A, B >= 0:
a systematic part plus sampling noise) is fitted by non-negative least squares.

``TiedGaussian``: class means and one shared covariance of embeddings (Ledoit-Wolf shrunk, so it is
well conditioned with few samples), as in Lee et al. 2018 ("A simple unified framework for detecting
out-of-distribution samples"); the distance of an embedding is its Mahalanobis distance to the
nearest class mean divided by sqrt(dimension) (about 1 for a typical training embedding).
"""

from __future__ import annotations

import numpy as np
import torch


def fit_radius(sizes, quantiles) -> tuple[float, float]:
    """(A, B) of ``radius(n)^2 = A + B / n`` fitted to distance ``quantiles`` observed at ``sizes``."""
    from scipy.optimize import nnls

    design = np.column_stack((np.ones(len(sizes)), 1.0 / np.asarray(sizes, dtype=np.float64)))
    (a, b), _ = nnls(design, np.asarray(quantiles, dtype=np.float64) ** 2)
    return float(a), float(b)


def radius(fit, size, margin: float = 1.0) -> np.ndarray:
    """``margin * sqrt(A + B / n)`` (n at least 1)."""
    a, b = fit
    return margin * np.sqrt(a + b / np.maximum(size, 1))


class TiedGaussian:
    """Class means and a shared precision matrix; ``distance`` to the nearest class mean."""

    def __init__(self, means: torch.Tensor, precision: torch.Tensor):
        self.means = torch.as_tensor(means, dtype=torch.float64)
        self.precision = torch.as_tensor(precision, dtype=torch.float64)

    @classmethod
    def fit(cls, embeddings: torch.Tensor, labels, n_classes: int) -> "TiedGaussian":
        from sklearn.covariance import ledoit_wolf

        x = torch.as_tensor(embeddings, dtype=torch.float64)
        labels = torch.as_tensor(np.asarray(labels))
        means = torch.stack([x[labels == c].mean(0) for c in range(n_classes)])
        covariance, _ = ledoit_wolf((x - means[labels]).numpy(), assume_centered=True)
        precision = np.linalg.pinv(covariance, hermitian=True)
        return cls(means, torch.as_tensor(precision))

    def distance(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(n,) Mahalanobis distance to the nearest class mean / sqrt(dimension)."""
        diff = torch.as_tensor(embeddings, dtype=torch.float64)[:, None, :] - self.means[None]
        squared = torch.einsum("ncd,de,nce->nc", diff, self.precision, diff)
        return (squared.clamp_min(0).min(-1).values / self.means.shape[1]).sqrt()

    def tensors(self, prefix: str) -> dict:
        return {f"{prefix}means": self.means, f"{prefix}precision": self.precision}

    @classmethod
    def from_tensors(cls, tensors: dict, prefix: str) -> "TiedGaussian":
        return cls(tensors[f"{prefix}means"], tensors[f"{prefix}precision"])
