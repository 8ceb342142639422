"""Species classifiers behind one interface: the Mamba model, a Transformer, k-mers, sourmash.

A trained classifier is a directory whose ``config.json`` names its ``kind``; ``load(dir)`` returns
the right class. ``KINDS`` maps kind names to the modules that implement them.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from ..errors import ConfigError
from .base import Classifier

KINDS = {
    "kmer": "genomamba.classifiers.kmer",
    "sourmash": "genomamba.classifiers.sketch",
    "mamba": "genomamba.classifiers.mamba",
    "transformer": "genomamba.classifiers.transformer",
}


def classifier_class(kind: str) -> type[Classifier]:
    if kind not in KINDS:
        raise ConfigError(f"unknown classifier kind {kind!r}; known: {', '.join(KINDS)}")
    return importlib.import_module(KINDS[kind]).CLASSIFIER


def load(model_dir) -> Classifier:
    """Load a trained classifier from its directory."""
    model_dir = Path(model_dir)
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"{model_dir}: not a model directory (no config.json)")
    kind = json.loads(config_path.read_text())["kind"]
    return classifier_class(kind).load(model_dir)


__all__ = ["Classifier", "KINDS", "classifier_class", "load"]
