"""Species classifiers behind one interface: the Mamba model, a Transformer, k-mers, sourmash, and
a cascade of trained ones (combined).

A trained classifier is a directory whose ``config.json`` names its ``kind``; ``load(dir)`` returns
the right class. ``KINDS`` maps kind names to the modules that implement them; each module has
``CLASSIFIER`` and ``resolve_params(params)`` (the params with defaults filled in; unknown keys and bad
values are ConfigErrors, checked with ``genomamba.classifiers.params``), which the workflow calls on
the config before any job runs. A new kind is one more such module and its entry in ``KINDS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ConfigError, InputError
from ..modelfiles import read_json
from .base import Classifier
from .devices import check_device

KINDS = {
    "kmer": "genomamba.classifiers.kmer",
    "sourmash": "genomamba.classifiers.sketch",
    "mamba": "genomamba.classifiers.mamba",
    "transformer": "genomamba.classifiers.transformer",
    "combined": "genomamba.classifiers.combined",
}


def _module(kind: str):
    if kind not in KINDS:
        raise ConfigError(f"unknown classifier kind {kind!r}; known: {', '.join(KINDS)}")
    return importlib.import_module(KINDS[kind])


def classifier_class(kind: str) -> type[Classifier]:
    return _module(kind).CLASSIFIER


def resolve_params(kind: str, params: dict | None) -> dict:
    """A ``kind``'s params with its defaults filled in, checked by the classifier's own resolver."""
    return _module(kind).resolve_params(params or {})


def load(model_dir) -> Classifier:
    """Load a trained classifier from its directory. A missing directory, or a missing or damaged
    file in it, is an InputError naming the file and what is wrong with it."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError("model directory not found", model_dir)
    config_path = model_dir / "config.json"
    kind = read_json(config_path).get("kind")
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not one of {', '.join(KINDS)}", config_path)
    return classifier_class(kind).load(model_dir)


__all__ = ["Classifier", "KINDS", "check_device", "classifier_class", "load", "resolve_params"]
