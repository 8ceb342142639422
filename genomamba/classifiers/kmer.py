"""The k-mer baseline (kind ``kmer``): canonical k-mer frequencies and a logistic regression.

Features. A sequence's canonical k-mer counts (a k-mer and its reverse complement are one feature;
k-mers containing N are skipped), counted streaming over chunks with the k-1 last tokens carried
over, so the counts do not depend on the chunking. Frequencies are square-rooted (the Hellinger
transform, which evens out rare and common k-mers) and standardised with the training mean and
standard deviation.

Training. ``windows_per_strain`` windows are drawn from every training strain's store, their lengths
log-uniform in [``min_window_length``, ``window_length``] so that short fragments are seen too
(``genomamba.data.labelled_windows``, numpy Generator seeded from ``seed``), and a scikit-learn
``LogisticRegression`` (lbfgs, class-balanced, seeded) is fitted to them.

No species. A share ``negatives`` (default 0.2; 0 = none) of the training windows, chosen at random,
is replaced, each by a synthetic sequence of no species made from it (``genomamba.negatives``:
uniform or GC-skewed random DNA, a dinucleotide shuffle, the window reversed), labelled as one more
class, the last. The species' probabilities are the species columns of the regression's softmax, so
they sum to 1 less the "no species" probability; confidence is the highest of them, so a sequence
that looks like none of the species gets a low confidence and is ``unclassified``. Class-balanced
training gives "no species" the weight of one species; its intercept is then lowered by
``negatives_offset`` (default 1: odds e times lower), because held-out strains differ from the
training strains in ways the class otherwise claims. The scaler, the centroids and the OOD radius
below come from the real windows only. Windows reach ``window_length`` 20 kb so that training covers
the 10 kb lengths from which negatives must be rejected.

Out-of-distribution guard. Max-probability is overconfident far from the training data (human DNA
is still "most like" some bacterium), so every sequence is also measured against the species:
``distance`` = RMS distance of its standardised features to the nearest class centroid. K-mer noise
grows as a sequence gets shorter, so the acceptable distance depends on length: on validation
windows of several lengths (``ood_lengths``) the ``ood_quantile`` quantile of the distance is taken
and ``radius(L)^2 = A + B / L`` (A, B >= 0: a strain-to-strain part plus sampling noise) fitted to
it by non-negative least squares (``genomamba.classifiers.ood``, shared with the neural
classifiers). A sequence farther than ``ood_margin * radius(L)`` gets confidence 0 (its
probabilities are kept), so it is called ``unclassified`` whatever the threshold. Short fragments
have few k-mers, so their distance is noisy and their radius wide: the guard rejects long foreign
sequences far more reliably than short ones.

Threshold. On validation windows drawn like the training windows (the same share of them replaced
by negatives, which count as wrong whenever they are called), the lowest confidence whose kept calls
reach ``target_accuracy`` (``genomamba.calls.calibrate_threshold``), at least
``min_threshold`` (default 0.5: a call must be more likely right than wrong; this also makes an
assembly whose fragments are mostly rejected as OOD -- mean confidence low -- ``unclassified``).
Without validation samples, fresh windows of the training strains are used (logged).

Saved as ``config.json`` (kind, species, threshold, parameters, radius fit) and ``weights.safetensors``
(coefficients and intercepts, one row per class with "no species" last, scaler mean and scale,
centroids of the species); no pickle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .. import markov
from ..kmers import codes_by_chunk, reverse_complements
from ..calls import calibrate_threshold
from ..data import calibration_rows, labelled_windows, split_sources, with_negatives
from ..errors import ConfigError, InputError
from ..modelfiles import entry, read_json, read_tensors
from .base import Classifier, training_species
from .ood import fit_radius, radius
from .params import checked_params, require

MIN_K, MAX_K = 4, 8
DEFAULTS = {
    "k": 6,
    "window_length": 20000,
    "min_window_length": 500,
    "windows_per_strain": 200,
    "validation_windows_per_strain": 100,
    "C": 1.0,
    "max_iter": 2000,
    "negatives": 0.2,
    "negatives_offset": 1.0,
    "ood_lengths": [1000, 4000, 16000],
    "ood_quantile": 0.99,
    "ood_margin": 1.0,
    "target_accuracy": 0.95,
    "min_threshold": 0.5,
    "markov_order": 6,
}


def resolve_params(params: dict) -> dict:
    """``params`` over DEFAULTS, checked (``genomamba.classifiers.params``); a problem is a ConfigError."""
    p = checked_params(params, DEFAULTS)
    check_k(p["k"])
    require(0 < p["min_window_length"] <= p["window_length"], "min_window_length",
            f"a length in 1..window_length ({p['window_length']})", p["min_window_length"])
    for key in ("windows_per_strain", "validation_windows_per_strain"):
        require(p[key] >= 1, key, "at least 1", p[key])
    require(min(p["ood_lengths"]) >= 1, "ood_lengths", "lengths of at least 1", p["ood_lengths"])
    require(0 < p["ood_quantile"] < 1, "ood_quantile", "a number in (0, 1)", p["ood_quantile"])
    require(0 < p["target_accuracy"] <= 1, "target_accuracy", "a number in (0, 1]", p["target_accuracy"])
    require(p["negatives"] < 1, "negatives", "a share in [0, 1)", p["negatives"])
    require(p["markov_order"] <= 8, "markov_order", "an integer in 0..8", p["markov_order"])
    return p


# ---- canonical k-mer counting -----------------------------------------------------------------

def canonical_index(k: int) -> tuple[np.ndarray, int]:
    """For every k-mer code (``genomamba.kmers``) the column of its canonical form (the smaller of the
    code and its reverse complement's code), and the number of columns."""
    codes = np.arange(4 ** k, dtype=np.int64)
    _, column = np.unique(np.minimum(codes, reverse_complements(k)), return_inverse=True)
    return column.astype(np.int32), int(column.max()) + 1


def check_k(k) -> None:
    require(isinstance(k, int) and not isinstance(k, bool) and MIN_K <= k <= MAX_K, "k",
            f"an integer in {MIN_K}..{MAX_K}", k)


class KmerCounter:
    """Counts canonical k-mers over a stream of token chunks, independent of how it is chunked."""

    def __init__(self, k: int):
        check_k(k)
        self.k = k
        self.column, self.n_features = canonical_index(k)

    def count(self, chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
        """Canonical k-mer counts and the number of tokens seen."""
        counts = np.zeros(self.n_features, dtype=np.int64)
        length = 0
        for chunk, codes in codes_by_chunk(chunks, self.k):
            length += len(chunk)
            if len(codes):
                counts += np.bincount(self.column[codes], minlength=self.n_features)
        return counts, length


def hellinger(counts: np.ndarray) -> np.ndarray:
    """Square roots of frequencies, row-wise (rows without k-mers stay 0)."""
    counts = np.atleast_2d(counts).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.sqrt(counts / np.where(totals > 0, totals, 1.0))


# ---- the classifier ---------------------------------------------------------------------------

def softmax_probs(scores: np.ndarray) -> np.ndarray:
    """Probabilities from linear scores as scikit-learn's LogisticRegression computes them
    (one score column: binary logistic; several: softmax)."""
    if scores.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.column_stack((1.0 - positive, positive))
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


class KmerClassifier(Classifier):
    kind = "kmer"
    ARRAYS = ("coef", "intercept", "mean", "scale", "centroids")

    def __init__(self, species, threshold, params, coef, intercept, mean, scale, centroids,
                 radius_fit, markov_check: markov.MarkovCheck | None = None):
        self.species, self.threshold, self.params = list(species), float(threshold), dict(params)
        self.coef, self.intercept = np.asarray(coef), np.asarray(intercept)
        self.mean, self.scale, self.centroids = np.asarray(mean), np.asarray(scale), np.asarray(centroids)
        self.radius_fit = [float(x) for x in radius_fit]  # (A, B) of radius(L)^2 = A + B / L
        self.counter = KmerCounter(self.params["k"])
        self.markov_check = markov_check

    # -- features and scores of many sequences at once
    def _standardised(self, counts: np.ndarray) -> np.ndarray:
        return (hellinger(counts) - self.mean) / self.scale

    def _distances(self, z: np.ndarray) -> np.ndarray:
        """RMS distance of each row to the nearest class centroid."""
        d2 = ((z[:, None, :] - self.centroids[None, :, :]) ** 2).mean(axis=2)
        return np.sqrt(d2.min(axis=1))

    def radius(self, length) -> np.ndarray:
        return radius(self.radius_fit, length, self.params["ood_margin"])

    def score_counts(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Species probabilities (rows; the "no species" column, if trained, left out) and
        confidences for rows of k-mer counts. The OOD radius is taken at the length the k-mers span
        (N runs excluded: they add no evidence)."""
        counts = np.atleast_2d(counts)
        z = self._standardised(counts)
        probs = softmax_probs(z @ self.coef.T + self.intercept)[:, :len(self.species)]
        n_kmers = counts.sum(axis=1)
        inside = self._distances(z) <= self.radius(n_kmers + self.counter.k - 1)
        empty = n_kmers == 0
        probs[empty] = 1.0 / len(self.species)
        confidence = np.where(inside & ~empty, probs.max(axis=1), 0.0)
        return probs, confidence

    def score(self, chunks):
        tally = markov.KmerTally(self.markov_check.order + 1) if self.markov_check else None
        probs, confidence = self.score_counts(self.counter.count(tally.passing(chunks) if tally else chunks)[0])
        if tally is not None and not self.markov_check.accepts_counts(tally.counts):
            return probs[0], 0.0
        return probs[0], float(confidence[0])

    # -- training
    @classmethod
    def fit(cls, split, params, seed, log=print):
        from sklearn.linear_model import LogisticRegression

        params = resolve_params(params)
        species = training_species(split)
        counter = KmerCounter(params["k"])
        rng = np.random.default_rng(seed)

        def counts_of(windows):
            return np.array([counter.count([w])[0] for w in windows])

        train_rows = split.samples("train")
        lengths = (params["min_window_length"], params["window_length"])
        windows, labels = labelled_windows(train_rows, species, params["windows_per_strain"], lengths, rng)
        windows, labels = with_negatives(windows, labels, params["negatives"], len(species), rng)
        counts = counts_of(windows)
        log(f"kmer: k={params['k']}, {counter.n_features} features, {len(windows)} training windows "
            f"of {lengths[0]}-{lengths[1]} bp from {len(train_rows)} samples, "
            f"{np.sum(labels == len(species))} of them negatives")
        features = hellinger(counts)
        real = labels < len(species)
        mean = features[real].mean(axis=0)
        scale = features[real].std(axis=0)
        scale[scale == 0] = 1.0
        z = (features - mean) / scale
        model = LogisticRegression(C=params["C"], max_iter=params["max_iter"], class_weight="balanced",
                                   random_state=seed)
        model.fit(z, labels)
        intercept = model.intercept_.copy()
        if params["negatives"]:
            intercept[-1] -= params["negatives_offset"]  # "no species" is the last class
        centroids = np.array([z[labels == i].mean(axis=0) for i in range(len(species))])
        classifier = cls(species, 0.0, params, model.coef_, intercept, mean, scale,
                         centroids, (0.0, np.inf))
        log(f"kmer: training accuracy {np.mean(model.predict(z) == labels):.4f}")

        rows = calibration_rows(split, log)
        classifier.radius_fit = cls._fit_radius(classifier, rows, species, params, rng, counts_of, log)
        windows, labels = labelled_windows(rows, species, params["validation_windows_per_strain"],
                                           lengths, rng)
        windows, labels = with_negatives(windows, labels, params["negatives"], len(species), rng)
        probs, confidence = classifier.score_counts(counts_of(windows))
        correct = probs.argmax(axis=1) == labels  # a negative's label (n species) is no column: never
        classifier.threshold = calibrate_threshold(confidence, correct, params["target_accuracy"],
                                                   params["min_threshold"])
        real = labels < len(species)
        kept = confidence >= classifier.threshold
        log(f"kmer: validation accuracy {correct[real].mean():.4f} on {real.sum()} windows; "
            f"{np.mean(confidence[real] == 0):.4f} beyond the OOD radius; threshold {classifier.threshold:.4f}; "
            f"{np.mean(~kept[~real]) if (~real).any() else 1:.4f} of {(~real).sum()} negatives unclassified")
        if params["markov_order"]:
            classifier.markov_check = markov.fit_check(
                species, split_sources(split, "train", species), split_sources(split, "validation", species),
                params["markov_order"], seed, log)
        return classifier

    @staticmethod
    def _fit_radius(classifier, rows, species, params, rng, counts_of, log):
        lengths, quantiles = [], []
        for length in params["ood_lengths"]:
            windows, _ = labelled_windows(rows, species, params["validation_windows_per_strain"],
                                          length, rng)
            counts = counts_of(windows)
            distances = classifier._distances(classifier._standardised(counts))
            lengths.append(float(np.mean(counts.sum(axis=1))) + params["k"] - 1)
            quantiles.append(float(np.quantile(distances, params["ood_quantile"])))
        a, b = fit_radius(lengths, quantiles)
        log("kmer: OOD distance quantiles " + ", ".join(f"{int(n)} bp: {q:.3f}"
                                                     for n, q in zip(lengths, quantiles))
            + f"; radius(L) = sqrt({a:.4f} + {b:.1f}/L), margin {params['ood_margin']}")
        return float(a), float(b)

    # -- persistence
    def save(self, model_dir):
        from safetensors.numpy import save_file

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        config = {"kind": self.kind, "species": self.species, "threshold": self.threshold,
                  "params": self.params, "radius_fit": self.radius_fit,
                  "features": f"canonical {self.params['k']}-mer frequencies, sqrt, standardised"}
        arrays = {name: np.ascontiguousarray(getattr(self, name), dtype=np.float64) for name in self.ARRAYS}
        if self.markov_check is not None:
            config["markov"] = self.markov_check.config()
            arrays.update(self.markov_check.tensors())
        (model_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        save_file(arrays, str(model_dir / "weights.safetensors"))

    @classmethod
    def load(cls, model_dir):
        """Read what ``save`` wrote; a missing, damaged or inconsistent file is an InputError naming it."""
        model_dir = Path(model_dir)
        config_path, weights_path = model_dir / "config.json", model_dir / "weights.safetensors"
        config = read_json(config_path)
        species = entry(config, "species", config_path, "a list of distinct names")
        threshold = entry(config, "threshold", config_path)
        try:
            # params that do not name negatives (older models) mean a model without them
            params = resolve_params({"negatives": 0, **entry(config, "params", config_path, "an object")})
        except ConfigError as exc:
            raise InputError(f"params: {exc}", config_path) from None
        radius_fit = entry(config, "radius_fit", config_path, "a list of numbers")
        if len(radius_fit) != 2:
            raise InputError(f"'radius_fit' must be two numbers (A, B), not {radius_fit}", config_path)
        arrays = read_tensors(weights_path, "numpy")
        features = canonical_index(params["k"])[1]
        classes = len(species) + (1 if params["negatives"] else 0)  # "no species" is a class
        rows = 1 if classes == 2 else classes  # scikit-learn keeps one row for two classes
        shapes = {"coef": (rows, features), "intercept": (rows,), "mean": (features,),
                  "scale": (features,), "centroids": (len(species), features)}
        for name in cls.ARRAYS:
            if name not in arrays:
                raise InputError(f"no array {name!r}", weights_path)
            if arrays[name].shape != shapes[name]:
                raise InputError(f"array {name!r} has shape {arrays[name].shape}, but the {len(species)} "
                                 f"species and k={params['k']} of config.json need {shapes[name]}", weights_path)
        check = markov.load_check(arrays, config, config_path) if "markov" in config else None
        return cls(species, threshold, params, *(arrays[name] for name in cls.ARRAYS), radius_fit, check)


CLASSIFIER = KmerClassifier
