"""Calibrating a trained neural classifier: its out-of-distribution model (``WindowDistance``), its
threshold and its validation metrics, from window summaries of held-out segments.

Reference. The class Gaussians are fitted to the window summaries (the state carried across
windows, as in scoring) of ``eval_windows`` training segments of 4 windows per species (1 window
where a training record is shorter).

Radius. On validation segments (held-out strains) of each of ``ood_windows`` windows
(``eval_windows`` per species) the ``ood_quantile`` quantile of the summaries' distances is taken
at every n and ``radius(n)^2 = A + B / n`` fitted by non-negative least squares (the k-mer
baseline's length-shrinking radius, same code). Segment sizes below one window (``ood_windows``
values such as 0.25) are kept as radius points of their own and do not enter the fit (see
``genomamba.classifiers.neural_ood``).

Confidence and threshold. The confidence is the max probability, or 0 beyond the radius; it is in
[0, 1]. The threshold is the ``threshold_quantile`` quantile of the confidences of the smallest
whole-window (by default one-window) validation segments, so about that fraction of
in-distribution windows is left unclassified (fewer long records, whose summary pools many
windows). It is capped at ``max_threshold``: a species the model finds more probable than all
alternatives together ("no species" included) is called at the default 0.5, however confident the
validation windows were (a well-trained model's quantile is near 1 and would leave a few per cent
of novel strains' fragments unclassified by design, while the distance check and the "no species"
class already reject what is no species). Without validation samples, fresh segments of the
training strains are used (noted in training.json as ``calibrated_on``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data import WindowSampler
from ..errors import ConfigError
from ..models import SpeciesModel, autocast_for
from .neural_ood import WindowDistance
from .ood import TiedGaussian, fit_radius

REFERENCE_WINDOWS = 4   # windows per training segment for the class Gaussians


def long_enough(sources, length: int) -> list:
    """The sources with a record of at least ``length`` bases."""
    return [s for s in sources if max(s.source.lengths, default=0) >= length]


def window_summaries(model: SpeciesModel, tokens: np.ndarray, window: int, device,
                     batch_size: int = 32) -> torch.Tensor:
    """(rows, windows, d_model) streaming summaries of every ``window`` of equal-length rows (the
    state carried across windows, as ``score`` sees them); with the RC option the reverse strands'
    windows follow, so a row has twice as many."""
    model.eval()
    out = []
    for start in range(0, len(tokens), batch_size):
        rows = torch.as_tensor(tokens[start:start + batch_size], dtype=torch.long, device=device)
        per_strand = []
        for strand in model.strands(rows):
            state, got = model.new_state(len(strand)), []
            state.watch_windows(window, lambda w: got.append(w.float().cpu()))
            with torch.inference_mode(), autocast_for(device):
                model.feed(strand, state)
                model.finish(state)
            per_strand.append(torch.cat(got).transpose(0, 1))
        out.append(torch.cat(per_strand, 1))
    return torch.cat(out)


def fit_distance(model, species, train, validation, p, seed, device, log, kind):
    """(WindowDistance, (probabilities, confidences, labels) of the smallest whole-window validation
    segments, what it was calibrated on). See the module docstring."""
    window, per_class, n_classes = p["window"], p["eval_windows"], len(species)
    ref_windows = REFERENCE_WINDOWS if len(long_enough(train, window * REFERENCE_WINDOWS)) == len(train) else 1
    ref_tokens, ref_labels = WindowSampler(train, n_classes, window * ref_windows, 1, seed,
                                           False).fixed_windows(per_class)
    ref = window_summaries(model, ref_tokens, window, device)
    gaussian = TiedGaussian.fit(ref.flatten(0, 1), np.repeat(ref_labels, ref.shape[1]), n_classes)
    sources, calibrated_on = validation, "validation windows"
    if not validation:
        sources, calibrated_on = train, "training windows (no validation samples)"
    sizes, quantiles, short, first = [], [], [], None
    for n_windows in sorted(set(p["ood_windows"])):
        length = max(1, round(window * n_windows))
        usable = long_enough(sources, length)
        if not usable:
            continue
        tokens, labels = WindowSampler(usable, n_classes, length, 1, seed + 1, False,
                                       require_all_classes=False).fixed_windows(per_class)
        summaries = window_summaries(model, tokens, window, device)
        distance_of_mean = gaussian.distance(summaries.mean(1)).numpy()
        quantile = float(np.quantile(distance_of_mean, p["ood_quantile"]))
        if length < window:  # a segment shorter than a window: radius points of their own
            short.append((summaries.shape[1] * length / window, quantile))
            continue
        sizes.append(summaries.shape[1])
        quantiles.append(quantile)
        if first is None:
            first = (summaries.mean(1), distance_of_mean, summaries.shape[1], labels)
    if first is None:
        raise ConfigError(f"no record to calibrate on ({calibrated_on}) is as long as "
                          f"{min(n for n in p['ood_windows'] if n >= 1)} window(s) of {window} bases")
    distance = WindowDistance(gaussian, fit_radius(sizes, quantiles), max(sizes), p["ood_margin"], short)
    log(f"{kind}: OOD distance of segment summaries, {p['ood_quantile']} quantile: "
        + ", ".join(f"{n:g} windows {q:.3f}" for n, q in [*short, *zip(sizes, quantiles)])
        + f"; radius(n) = {p['ood_margin']} * sqrt({distance.radius_fit[0]:.4f} + "
          f"{distance.radius_fit[1]:.4f}/min(n, {max(sizes)}))")
    pooled, distance_of_mean, n_windows, labels = first
    probs = model.probabilities(pooled)[:, :n_classes]
    confidence = np.where(distance.inside(distance_of_mean, n_windows), probs.max(1), 0.0)
    return distance, (probs, confidence, labels), calibrated_on


def calibrate(model, species, train, validation, p: dict, seed: int, device, log, kind: str):
    """(WindowDistance, threshold, validation metrics) of a trained model (the module docstring)."""
    distance, (probs, confidence, labels), calibrated_on = fit_distance(
        model, species, train, validation, p, seed, device, log, kind)
    threshold = float(np.quantile(confidence, p["threshold_quantile"])) if p["threshold_quantile"] else 0.0
    threshold = min(threshold, p["max_threshold"])
    predicted = probs.argmax(1)
    called = confidence >= threshold
    metrics = {
        "calibrated_on": calibrated_on,
        "windows": int(len(labels)),
        "window_accuracy": float((predicted == labels).mean()),
        "window_loss": float(F.nll_loss(torch.log(torch.as_tensor(probs).clamp_min(1e-12)),
                                        torch.as_tensor(labels)).item()),
        "called_fraction": float(called.mean()),
        "called_accuracy": float((predicted == labels)[called].mean()) if called.any() else None,
    }
    log(f"{kind}: validation window accuracy {metrics['window_accuracy']:.3f}, "
        f"threshold {threshold:.4f} ({p['threshold_quantile']} quantile on {calibrated_on}, "
        f"at most {p['max_threshold']})")
    return distance, threshold, metrics
