"""The interface every species classifier implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import ConfigError


class Classifier(ABC):
    """Scores a sequence, streamed as token chunks, against the species it was trained on.

    Attributes every classifier has after ``fit`` or ``load``:
      species    -- label names, in the order of the probability vectors
      threshold  -- calls below this confidence are 'unclassified' (calibrated on validation data)
    """

    kind: str = ""
    species: list[str]
    threshold: float

    @classmethod
    @abstractmethod
    def fit(cls, split, params: dict, seed: int, log=print) -> "Classifier":
        """Train on the 'train' samples of ``split`` (a ``genomamba.split.Split``), calibrate the
        threshold on its 'validation' samples, and return the fitted classifier."""

    @abstractmethod
    def score(self, chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, float]:
        """Probabilities over ``species`` and a confidence in [0, 1] for one record, given as an
        iterable of uint8 token chunks (0..4) in order. Must not depend on how it is chunked."""

    #: records of at most this many bases gain from being scored together (``score_many``); 0: none
    batch_bases: int = 0

    def score_many(self, records: list[np.ndarray]) -> list[tuple[np.ndarray, float]]:
        """``score`` of each of ``records``, whole records as uint8 token arrays, in their order. A
        classifier that gains from batching short records overrides it; its results are
        ``score``'s up to float rounding."""
        return [self.score([tokens]) for tokens in records]

    @abstractmethod
    def save(self, model_dir: Path) -> None:
        """Write ``config.json`` (with ``kind``, ``species``, ``threshold``) and the weights; no pickle."""

    @classmethod
    @abstractmethod
    def load(cls, model_dir: Path) -> "Classifier":
        """Read what ``save`` wrote."""


def training_species(split) -> list[str]:
    """The split's training species, in label order; fewer than two is a ConfigError."""
    if len(split.species) < 2:
        raise ConfigError(f"a classifier needs training samples of at least 2 species, got {split.species}")
    return list(split.species)
