"""The sourmash baseline (kind ``sourmash``): containment of a query's FracMinHash sketch in the
sketches of the training strains. (Named ``sketch`` so that it does not shadow the ``sourmash`` package.)

Training sketches every training strain's store (in a region-block split: its training blocks) as
one scaled MinHash (``sourmash.MinHash(n=0, ksize, scaled)``; DNA, canonical k-mers, those with N skipped). A query record is sketched the same
way, streaming: every chunk is decoded and added with the last ``ksize - 1`` bases of the previous
chunk in front, so the sketch does not depend on the chunking.

Scores: the containment of the query in a strain, ``|Q & R| / |Q|``, and per species the maximum
over its strains. Probabilities are the species' containments divided by their sum (uniform when
nothing is shared); confidence is the best containment. A query sharing no hashes (or too short to
have any) gets confidence 0. The threshold is calibrated on validation windows like the k-mer
baseline's (``target_accuracy``), but is never below ``min_containment`` (default 0.05): containment
near 0 means nothing is shared, whatever the validation data say.

Saved as ``config.json`` (kind, species, threshold, parameters, the species of each reference) and
``references.sig.json`` (sourmash's own JSON signature format, one signature per training sample,
named ``sample (species)``, in the order of ``reference_samples``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..alphabet import decode
from ..calls import calibrate_threshold
from ..data import calibration_rows, labelled_windows, sample_sources
from ..errors import ConfigError, InputError
from ..modelfiles import DAMAGED, entry, read_bytes, read_json
from .base import Classifier, training_species
from .params import checked_params, require

SIGNATURES = "references.sig.json"
DEFAULTS = {
    "ksize": 31,
    "scaled": 100,
    "window_length": 10000,
    "validation_windows_per_strain": 50,
    "target_accuracy": 0.95,
    "min_containment": 0.05,
    "chunk_size": 1 << 20,
}


def resolve_params(params: dict) -> dict:
    """``params`` over DEFAULTS, checked (``genomamba.classifiers.params``); a problem is a ConfigError."""
    p = checked_params(params, DEFAULTS)
    for key in ("ksize", "scaled", "window_length", "chunk_size"):
        require(p[key] >= 1, key, "at least 1", p[key])
    return p


def sketch(chunks: Iterable[np.ndarray], ksize: int, scaled: int):
    """A scaled MinHash of a token stream (chunk-invariant: ``ksize - 1`` bases carried over)."""
    import sourmash

    minhash = sourmash.MinHash(n=0, ksize=ksize, scaled=scaled)
    carry = np.empty(0, dtype=np.uint8)
    for chunk in chunks:
        tokens = np.concatenate((carry, chunk)) if len(carry) else np.asarray(chunk)
        if len(tokens) >= ksize:
            minhash.add_sequence(decode(tokens).decode(), force=True)
        carry = tokens[max(len(tokens) - (ksize - 1), 0):]
    return minhash


def sketch_source(source, ksize: int, scaled: int, chunk_size: int):
    """One MinHash of all of a source's records (a store, or a split's blocks of one; k-mers never
    span two records)."""
    import sourmash

    minhash = sourmash.MinHash(n=0, ksize=ksize, scaled=scaled)
    for record in range(len(source.lengths)):
        minhash.merge(sketch(source.iter_chunks(record, chunk_size), ksize, scaled))
    return minhash


class SourmashClassifier(Classifier):
    kind = "sourmash"

    def __init__(self, species, threshold, params, references, reference_species, reference_samples):
        self.species, self.threshold, self.params = list(species), float(threshold), dict(params)
        self.references = list(references)  # sourmash MinHash objects, one per training sample
        self.reference_species = list(reference_species)
        self.reference_samples = list(reference_samples)
        self._species_of = np.array([self.species.index(s) for s in self.reference_species])

    def containments(self, minhash) -> np.ndarray:
        """Per species: the best containment of the query in one of its strains."""
        best = np.zeros(len(self.species))
        if len(minhash) == 0:
            return best
        for reference, index in zip(self.references, self._species_of):
            best[index] = max(best[index], minhash.contained_by(reference))
        return best

    def score(self, chunks):
        contained = self.containments(sketch(chunks, self.params["ksize"], self.params["scaled"]))
        total = contained.sum()
        probs = contained / total if total > 0 else np.full(len(self.species), 1.0 / len(self.species))
        return probs, float(contained.max())

    @classmethod
    def fit(cls, split, params, seed, log=print):
        params = resolve_params(params)
        species = training_species(split)
        rows, references = [], []
        for row, source in sample_sources(split, "train"):
            rows.append(row)
            references.append(sketch_source(source, params["ksize"], params["scaled"], params["chunk_size"]))
            log(f"sourmash: {row.sample} ({row.species}): {len(references[-1])} hashes")
        classifier = cls(species, 0.0, params, references, [r.species for r in rows], [r.sample for r in rows])

        rng = np.random.default_rng(seed)
        windows, labels = labelled_windows(calibration_rows(split, log), species,
                                           params["validation_windows_per_strain"],
                                           params["window_length"], rng)
        scores = [classifier.score([w]) for w in windows]
        confidence = np.array([c for _, c in scores])
        correct = np.array([np.argmax(p) for p, _ in scores]) == labels
        classifier.threshold = calibrate_threshold(confidence, correct & (confidence > 0),
                                                   params["target_accuracy"], params["min_containment"])
        log(f"sourmash: validation accuracy {np.mean(correct & (confidence > 0)):.4f} on "
            f"{len(windows)} windows; threshold {classifier.threshold:.4f}")
        return classifier

    def save(self, model_dir):
        import sourmash

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        signatures = [sourmash.SourmashSignature(mh, name=f"{sample} ({name})") for mh, sample, name
                      in zip(self.references, self.reference_samples, self.reference_species)]
        save, _ = _signature_json()
        (model_dir / SIGNATURES).write_bytes(save(signatures))
        config = {"kind": self.kind, "species": self.species, "threshold": self.threshold,
                  "params": self.params, "reference_species": self.reference_species,
                  "reference_samples": self.reference_samples,
                  "signatures": SIGNATURES}
        (model_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def load(cls, model_dir):
        """Read what ``save`` wrote; a missing, damaged or inconsistent file is an InputError naming it."""
        from sourmash.exceptions import SourmashError

        model_dir = Path(model_dir)
        config_path, signatures_path = model_dir / "config.json", model_dir / SIGNATURES
        config = read_json(config_path)
        species = entry(config, "species", config_path, "a list of distinct names")
        threshold = entry(config, "threshold", config_path)
        try:
            params = resolve_params(entry(config, "params", config_path, "an object"))
        except ConfigError as exc:
            raise InputError(f"params: {exc}", config_path) from None
        reference_species = entry(config, "reference_species", config_path, "a list of names")
        reference_samples = entry(config, "reference_samples", config_path, "a list of distinct names")
        unknown = sorted(set(reference_species) - set(species))
        if unknown or len(reference_samples) != len(reference_species):
            raise InputError(f"'reference_species' must be {len(reference_samples)} of its 'species' (one per "
                             f"reference sample), found {reference_species}", config_path)
        _, load = _signature_json()
        try:
            signatures = list(load(read_bytes(signatures_path), do_raise=True))
        except (ValueError, SourmashError) as exc:
            raise InputError(f"not a readable sourmash signature file: {exc} ({DAMAGED})", signatures_path) from None
        if len(signatures) != len(reference_samples):
            raise InputError(f"{len(signatures)} signatures, but config.json names {len(reference_samples)} "
                             f"reference samples ({DAMAGED})", signatures_path)
        for signature in signatures:
            if (signature.minhash.ksize, signature.minhash.scaled) != (params["ksize"], params["scaled"]):
                raise InputError(f"signature {signature.name!r} has ksize {signature.minhash.ksize}, scaled "
                                 f"{signature.minhash.scaled}; config.json's params say {params['ksize']}, "
                                 f"{params['scaled']}", signatures_path)
        return cls(species, threshold, params, [s.minhash for s in signatures], reference_species,
                   reference_samples)


CLASSIFIER = SourmashClassifier


def _signature_json():
    """sourmash's JSON signature writer and reader (named *_to_json / *_from_json from 4.9 on)."""
    from sourmash import signature

    save = getattr(signature, "save_signatures_to_json", None) or signature.save_signatures
    load = getattr(signature, "load_signatures_from_json", None) or signature.load_signatures
    return save, load
