"""Training, calibration, scoring and storage shared by the neural classifiers (Mamba, Transformer).

Params (``models.<name>.params`` in config.yaml; unknown keys are a ConfigError), with defaults:

  model     d_model 32, n_layers 2; Mamba: d_state 8, d_conv 4, expand 2, dt_rank 0 (= d_model/16);
            Transformer: n_heads 2, mlp_ratio 2, max_context 0 (= window)
  data      window 512 (bases per training window), batch_size 16, rc_augment true (each window is
            reverse-complemented with probability 1/2), negatives 0.125 (the share of training
            windows replaced by synthetic sequences of no species, genomamba/negatives.py, learnt as
            one more class; 0 = none), eval_windows 32 (per species, for the reference statistics,
            validation metrics and the threshold)
  training  steps 300, pretrain_steps 0 (next-base steps before fine-tuning; Mamba only), lr 3e-3,
            weight_decay 0.01, warmup 20, window_warmup 0 (steps over which the window doubles from
            chunk_size up to window, in each stage), chunk_size 512 (training chunk), tbptt_chunks 1
            (chunks per backpropagation segment), rc_equivariant false (RC-invariant pooling, see
            genomamba/models/streaming.py), log_every 50
  run       threads 1 (intra-op CPU threads while fitting and, process-wide, after ``load``; 0 =
            torch's default. One is best for the tiny default model: on a busy 2-core machine two
            OpenMP threads spinning against other jobs made a training step 50x slower),
            device "auto" (cuda if available, else cpu), kernel_backend "auto" ("triton",
            "reference"), score_chunk 0 (inference chunk; 0 = 8192 bases on CPU, 262144 on CUDA),
            checkpoint_dir "" (resumable checkpoints there; an existing one is resumed),
            checkpoint_every 0 (steps; 0 = only at the end when checkpoint_dir is set)
  threshold threshold_quantile 0.05, max_threshold 0.5, ood_windows [1, 4, 16], ood_quantile 0.99,
            ood_margin 1.0

Probabilities. softmax(head(summary)), the summary being the record's mean final hidden state. With
``negatives`` the head has one more output, "no species"; the species' probabilities are reported as
they are (they then sum to 1 minus that class's), so a sequence that looks like none of them gets a
low confidence and is ``unclassified`` by the threshold.

Out-of-distribution check (``WindowDistance``; the maths in ``genomamba.classifiers.ood``). Max
probability alone is overconfident far from the training data (human DNA is still "most like" some
bacterium), so a record is also measured against the species: a Gaussian per class with one shared,
Ledoit-Wolf-shrunk covariance (Lee et al. 2018) is fitted to window summaries (the mean hidden state
of a ``window``-base window, the state carried across windows as in scoring) of ``eval_windows``
training segments of 4 windows per species, and the record's distance is the Mahalanobis distance
of its summary (the mean of its n = length / ``window`` window summaries; both strands, 2n, with the
RC option) to the nearest class mean, divided by sqrt(d_model). Longer records average more windows,
so their summary concentrates on their strain's mean: distance^2 ~ strain offset + noise / n. The
rejection radius is calibrated on validation segments (held-out strains) of each of ``ood_windows``
windows (``eval_windows`` per species): the ``ood_quantile`` quantile of their distances is taken at
every n and ``radius(n)^2 = A + B / n`` fitted by non-negative least squares (the k-mer baseline's
length-shrinking radius, same code). Beyond the largest calibrated n the radius stays at its value
there (no extrapolation; conservative). Records shorter than a window get the one-window radius,
unless ``ood_windows`` holds fractions of a window (e.g. 0.25): the summary of so short a segment is
dominated by the state's start-up transient, so those quantiles are kept as radius points of their
own, interpolated in log n up to the one-window radius, and do not enter the fit. A record farther than ``ood_margin * radius(n)`` gets
confidence 0 (its probabilities are kept), so it is called ``unclassified`` whatever the threshold.
Nothing depends on the chunking: the summary is a mean over all bases and n counts bases.
With the default params on the default split (seed 20261123) the radius came out as
sqrt(0.400 + 0.735 / min(n, 16)) (0.668 for records of 8 kb and more): held-out and training
bacterial records of 40 kb were at 0.22-0.49, 60 kb slices of human, chimpanzee, gorilla and
orangutan chr22 at 0.71-0.85, all rejected; of their 10 kb (2 kb) fragments 91% (58%) were rejected,
of bacterial ones 0% (2.5%).
(Averaging per-window distances instead separated 60 kb ape/human chr22 slices from bacterial
records less well: 0.96-1.04 against at most 0.83, where the summary's distance gives 0.71-0.85
against at most 0.49.)

Confidence and threshold. The confidence is the max probability, or 0 beyond the radius; it is in
[0, 1]. The threshold is the ``threshold_quantile`` quantile of the confidences of the smallest
(by default one-window) validation segments, so about that fraction of in-distribution windows is
left unclassified (fewer long records, whose summary pools many windows). It is capped at
``max_threshold``: a species the model finds more probable than all alternatives together ("no
species" included) is called at the default 0.5, however confident the validation windows were (a
well-trained model's quantile is near 1 and would leave a few per cent of novel strains' fragments
unclassified by design, while the distance check and the "no species" class already reject what is
no species). Without validation samples, fresh segments of the training strains are used (noted in training.json
as ``calibrated_on``). config.json keeps the threshold and the radius fit (``ood``); the class means
and the shared precision matrix are tensors ``ood.means`` / ``ood.precision`` beside the weights.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genomamba import kernels

from .. import checkpoint
from ..alphabet import reverse_complement
from ..data import WindowSampler, data_digest, split_sources
from ..errors import ConfigError
from ..models import ModelConfig, SpeciesModel, build_model, rechunk
from ..train import TrainConfig, Trainer, TrainingPaused, autocast_for
from .base import Classifier
from .ood import TiedGaussian, fit_radius, radius

DEFAULTS = {
    "d_model": 32, "n_layers": 2, "d_state": 8, "d_conv": 4, "expand": 2, "dt_rank": 0,
    "n_heads": 2, "mlp_ratio": 2, "max_context": 0,
    "window": 512, "batch_size": 16, "rc_augment": True, "negatives": 0.125, "eval_windows": 32,
    "steps": 300, "pretrain_steps": 0, "lr": 3e-3, "weight_decay": 0.01, "warmup": 20, "window_warmup": 0,
    "chunk_size": 512, "tbptt_chunks": 1, "rc_equivariant": False, "log_every": 50,
    "threads": 1, "device": "auto", "kernel_backend": "auto", "score_chunk": 0,
    "checkpoint_dir": "", "checkpoint_every": 0, "threshold_quantile": 0.05, "max_threshold": 0.5,
    "ood_windows": [1, 4, 16], "ood_quantile": 0.99, "ood_margin": 1.0,
}
MODEL_KEYS = {"mamba": ("d_model", "n_layers", "d_state", "d_conv", "expand", "dt_rank", "rc_equivariant"),
              "transformer": ("d_model", "n_layers", "n_heads", "mlp_ratio", "rc_equivariant")}
TRAIN_KEYS = ("steps", "pretrain_steps", "batch_size", "window", "chunk_size", "tbptt_chunks", "lr",
              "weight_decay", "warmup", "window_warmup")


def resolve_params(params: dict | None) -> dict:
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown neural classifier params: {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    for key, value in params.items():
        default = DEFAULTS[key]
        ok = (isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                        and v > 0 for v in value)
              if isinstance(default, list)
              else isinstance(value, bool) if isinstance(default, bool)
              else isinstance(value, (int, float)) and not isinstance(value, bool) if isinstance(default, float)
              else isinstance(value, int) and not isinstance(value, bool) if isinstance(default, int)
              else isinstance(value, str))
        if not ok:
            wanted = "list of positive numbers" if isinstance(default, list) else type(default).__name__
            raise ConfigError(f"param {key} must be a {wanted}, not {value!r}")
    resolved = {**DEFAULTS, **params}
    if resolved["device"] not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, not {resolved['device']!r}")
    if resolved["kernel_backend"] not in ("auto", "triton", "reference"):
        raise ConfigError(f"kernel_backend must be auto, triton or reference, not {resolved['kernel_backend']!r}")
    if resolved["threads"] < 0:
        raise ConfigError("threads must be 0 (torch's default) or more")
    if not 0 <= resolved["threshold_quantile"] < 1:
        raise ConfigError("threshold_quantile must be in [0, 1)")
    if not 0 <= resolved["max_threshold"] <= 1:
        raise ConfigError("max_threshold must be in [0, 1]")
    if max(resolved["ood_windows"]) < 1:
        raise ConfigError("ood_windows needs at least one whole window (a value >= 1)")
    if not 0 < resolved["ood_quantile"] < 1 or resolved["ood_margin"] <= 0:
        raise ConfigError("ood_quantile must be in (0, 1) and ood_margin > 0")
    if not 0 <= resolved["negatives"] < 1:
        raise ConfigError("negatives must be in [0, 1)")
    return resolved


def head_outputs(species, params: dict) -> int:
    """The head's outputs: one per species, and one for "no species" when trained with negatives
    (a model saved before negatives existed has no such param, and no such output)."""
    return len(species) + (1 if params.get("negatives") else 0)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for but CUDA is not available")
    return torch.device(name)


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
        rows = [tokens[start:start + batch_size]]
        if model.cfg.rc_equivariant:
            rows.append(np.stack([reverse_complement(r) for r in rows[0]]))
        per_strand = []
        for strand in rows:
            state, got = model.new_state(len(strand)), []
            state.watch_windows(window, lambda w: got.append(w.float().cpu()))
            with torch.inference_mode(), autocast_for(device):
                model.feed(torch.as_tensor(strand, dtype=torch.long, device=device), state)
                model.finish(state)
            per_strand.append(torch.cat(got).transpose(0, 1))
        out.append(torch.cat(per_strand, 1))
    return torch.cat(out)


class NeuralClassifier(Classifier):
    arch = ""

    def __init__(self, model: SpeciesModel, species, threshold: float, params: dict,
                 distance: WindowDistance, metadata: dict, device):
        self.model, self.species, self.threshold = model, list(species), float(threshold)
        self.params, self.distance, self.metadata = params, distance, metadata
        self.to(device)

    def to(self, device) -> "NeuralClassifier":
        """Score on ``device`` (``genomamba classify --device``); the chunk follows the device."""
        self.device = resolve_device(str(device)) if str(device) in ("auto", "cpu", "cuda") \
            else torch.device(device)
        self.model.to(self.device)
        self.score_chunk = self.params["score_chunk"] or (262144 if self.device.type == "cuda" else 8192)
        return self

    # -- training ------------------------------------------------------------------------------------
    @classmethod
    def model_config(cls, p: dict, n_classes: int) -> ModelConfig:
        values = {k: p[k] for k in MODEL_KEYS[cls.arch]}
        if cls.arch == "transformer":
            values["max_context"] = p["max_context"] or p["window"]
        return ModelConfig(arch=cls.arch, n_classes=n_classes, **values)

    @classmethod
    def fit(cls, split, params: dict, seed: int, log=print, deadline: float | None = None) -> "NeuralClassifier":
        """Train on the split's training samples, calibrate on its validation samples. With a
        ``deadline`` (``time.monotonic()`` seconds) training stops at the first step boundary past it,
        saves its checkpoint and raises ``TrainingPaused``; the same call again continues."""
        p = resolve_params(params)
        species = list(split.species)
        if len(species) < 2:
            raise ConfigError(f"need at least two training species, found {species}")
        train = split_sources(split, "train", species)
        validation = split_sources(split, "validation", species)
        return cls.fit_sources(species, train, validation, p, seed, log, deadline)

    @classmethod
    def fit_sources(cls, species, train, validation, params: dict, seed: int, log=print,
                    deadline: float | None = None):
        """``fit`` on opened sources (``genomamba.data.LabelledSource``), for tests and benchmarks."""
        p = resolve_params(params)
        if deadline is not None and not p["checkpoint_dir"]:
            raise ConfigError("a time limit needs params.checkpoint_dir, where the run is saved to continue")
        threads = torch.get_num_threads()
        if p["threads"]:
            torch.set_num_threads(p["threads"])
        try:
            return cls._fit(species, train, validation, p, seed, log, deadline)
        finally:
            torch.set_num_threads(threads)

    @classmethod
    def _fit(cls, species, train, validation, p: dict, seed: int, log, deadline):
        started = time.time()
        device = resolve_device(p["device"])
        kernels.set_backend(p["kernel_backend"])
        cfg = cls.model_config(p, head_outputs(species, p))
        train_cfg = TrainConfig(**{k: p[k] for k in TRAIN_KEYS})
        model = build_model(cfg, seed).to(device)
        sampler = WindowSampler(train, len(species), p["window"], p["batch_size"], seed, p["rc_augment"],
                                negatives=p["negatives"])
        trainer = Trainer(model, sampler, train_cfg, device, log)
        digests = {"train": data_digest(train), "validation": data_digest(validation)}
        run_config = {"kind": cls.kind, "species": species, "model": cfg.to_dict(), "params": p, "seed": seed}
        ckpt_dir = Path(p["checkpoint_dir"]) if p["checkpoint_dir"] else None
        if ckpt_dir is not None and checkpoint.is_resumable(ckpt_dir):
            saved = checkpoint.load(ckpt_dir)
            if saved.metadata.get("digests") != digests or saved.config != {**run_config, "threshold": None}:
                raise ConfigError(f"{ckpt_dir}: checkpoint is from other data or settings; remove it to start over")
            trainer.restore(saved)
            log(f"resumed from {ckpt_dir} at step {trainer.step}")

        def save_checkpoint(t: Trainer):
            t.save(ckpt_dir, config={**run_config, "threshold": None}, species=species,
                   metadata={"digests": digests, "steps": t.step})

        def save_progress(t: Trainer):
            every = p["checkpoint_every"]
            if ckpt_dir is not None and (t.step == train_cfg.total_steps or (every and t.step % every == 0)):
                save_checkpoint(t)

        past_deadline = None if deadline is None else (lambda: time.monotonic() > deadline)
        if not trainer.run(log_every=p["log_every"], on_step=save_progress, should_stop=past_deadline):
            save_checkpoint(trainer)
            raise TrainingPaused(trainer.step, train_cfg.total_steps, ckpt_dir)

        # the OOD Gaussian on training windows; its radius, the threshold and metrics on validation
        distance, (val_probs, confidence, val_labels), calibrated_on = cls._calibrate_ood(
            model, species, train, validation, p, seed, device, log)
        clf = cls(model, species, 0.0, p, distance, {}, device)
        probs = val_probs
        threshold = float(np.quantile(confidence, p["threshold_quantile"])) if p["threshold_quantile"] else 0.0
        threshold = min(threshold, p["max_threshold"])
        predicted = probs.argmax(1)
        metrics = {
            "calibrated_on": calibrated_on,
            "windows": int(len(val_labels)),
            "window_accuracy": float((predicted == val_labels).mean()),
            "window_loss": float(F.nll_loss(torch.log(torch.as_tensor(probs).clamp_min(1e-12)),
                                            torch.as_tensor(val_labels)).item()),
            "called_fraction": float((confidence >= threshold).mean()),
            "called_accuracy": float((predicted == val_labels)[confidence >= threshold].mean())
            if (confidence >= threshold).any() else None,
        }
        clf.threshold = threshold
        clf.metadata = {"digests": digests, "steps": trainer.step, "seed": seed, "metrics": metrics,
                        "seconds": round(time.time() - started, 1), "device": str(device),
                        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                        "training_throughput": trainer.throughput(),
                        "history": [{"step": h["step"], "stage": h["stage"], "loss": round(h["loss"], 5)}
                                    for h in trainer.history]}
        log(f"{cls.kind}: validation window accuracy {metrics['window_accuracy']:.3f}, "
            f"threshold {threshold:.4f} ({p['threshold_quantile']} quantile on {calibrated_on}, "
            f"at most {p['max_threshold']})")
        return clf

    @classmethod
    def _calibrate_ood(cls, model, species, train, validation, p, seed, device, log):
        """(WindowDistance, (probabilities, confidences, labels) of one-window validation segments,
        what it was calibrated on). See the module docstring."""
        window, per_class, n_classes = p["window"], p["eval_windows"], len(species)
        ref_windows = 4 if len(long_enough(train, window * 4)) == len(train) else 1
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
        log(f"{cls.kind}: OOD distance of segment summaries, {p['ood_quantile']} quantile: "
            + ", ".join(f"{n:g} windows {q:.3f}" for n, q in [*short, *zip(sizes, quantiles)])
            + f"; radius(n) = {p['ood_margin']} * sqrt({distance.radius_fit[0]:.4f} + "
              f"{distance.radius_fit[1]:.4f}/min(n, {max(sizes)}))")
        pooled, distance_of_mean, n_windows, labels = first
        probs = cls._softmax(model, pooled, device)[:, :n_classes]
        confidence = np.where(distance.inside(distance_of_mean, n_windows), probs.max(1), 0.0)
        return distance, (probs, confidence, labels), calibrated_on

    @staticmethod
    def _softmax(model, embeddings: torch.Tensor, device) -> np.ndarray:
        """Probabilities of every output of the head: the species, then "no species" if trained."""
        with torch.no_grad():
            logits = model.head(embeddings.to(device).float()).float().cpu()
        return torch.softmax(logits, -1).numpy().astype(np.float64)

    # -- scoring -------------------------------------------------------------------------------------
    def _stream_summary(self, chunks):
        """(pooled summary, bases) of one strand."""
        state = self.model.new_state(1)
        for piece in rechunk(chunks, self.score_chunk):
            self.model.feed(torch.as_tensor(piece, dtype=torch.long, device=self.device)[None], state)
        self.model.finish(state)
        return self.model.pooled(state), state.count

    @torch.inference_mode()
    def score(self, chunks):
        self.model.eval()
        kept = [] if self.model.cfg.rc_equivariant else None
        if kept is not None:   # the reverse strand starts at the record's end: keep its tokens
            chunks = (kept.append(np.asarray(c, np.uint8)) or c for c in chunks)
        with autocast_for(self.device):
            pooled, count = self._stream_summary(chunks)
            if kept is not None and count:
                reverse, _ = self._stream_summary([reverse_complement(np.concatenate(kept))])
                pooled = (pooled + reverse) / 2
        if count == 0:
            return np.full(len(self.species), 1 / len(self.species)), 0.0
        probs = self._softmax(self.model, pooled.float(), self.device)[0, :len(self.species)]
        n_windows = count / self.params["window"] * (2 if kept is not None else 1)
        inside = self.distance.inside(float(self.distance.gaussian.distance(pooled.cpu())[0]), n_windows)
        return probs, float(probs.max()) if inside else 0.0

    # -- storage -------------------------------------------------------------------------------------
    def save(self, model_dir) -> None:
        config = {"kind": self.kind, "species": self.species, "threshold": self.threshold,
                  "model": self.model.cfg.to_dict(), "params": self.params,
                  "confidence": "max softmax probability, 0 where the summary's distance to the nearest "
                                "class exceeds radius(windows); see genomamba/classifiers/neural.py",
                  "ood": self.distance.config()}
        tensors = {**self.model.state_dict(), **self.distance.gaussian.tensors("ood.")}
        checkpoint.save(model_dir, config=config, tensors=tensors, species=self.species, metadata=self.metadata)

    @classmethod
    def load(cls, model_dir) -> "NeuralClassifier":
        """Read what ``save`` wrote. A missing or damaged file, or files that do not fit together
        (weights and config.json's model, labels.json and the model's outputs), is an InputError
        naming the file and what is wrong."""
        from ..errors import InputError
        from ..modelfiles import entry

        model_dir = Path(model_dir)
        config_path, labels_path = model_dir / "config.json", model_dir / "labels.json"
        weights_path = model_dir / "model.safetensors"
        ckpt = checkpoint.load(model_dir)
        config = ckpt.config
        if config.get("kind") != cls.kind:
            raise InputError(f"a {config.get('kind')!r} model, not {cls.kind!r}", config_path)
        if "ood" not in config:
            raise InputError("no 'ood': saved without the out-of-distribution model (an older version "
                             "of genomamba); train it again", config_path)
        try:
            params = resolve_params(entry(config, "params", config_path, "an object"))
        except ConfigError as exc:
            raise InputError(f"params: {exc}", config_path) from None
        try:
            model_cfg = ModelConfig.from_dict(entry(config, "model", config_path, "an object"))
        except (ConfigError, TypeError) as exc:
            raise InputError(f"model: {exc}", config_path) from None
        threshold = entry(config, "threshold", config_path)
        species = entry(config, "species", config_path, "a list of distinct names")
        if ckpt.species != species:
            raise InputError(f"species {ckpt.species} differ from those of config.json, {species}", labels_path)
        outputs = head_outputs(species, config["params"])
        if model_cfg.n_classes != outputs:
            raise InputError(f"{len(species)} species, but the model of config.json has {model_cfg.n_classes} "
                             f"outputs (expected {outputs})", labels_path)
        model = SpeciesModel(model_cfg)
        checkpoint.load_weights(model, {k: v for k, v in ckpt.tensors.items() if not k.startswith("ood.")},
                                weights_path)
        d, means, precision = model_cfg.d_model, ckpt.tensors.get("ood.means"), ckpt.tensors.get("ood.precision")
        if means is None or precision is None or means.ndim != 2 or means.shape[1] != d \
                or tuple(precision.shape) != (d, d):
            found = [None if t is None else tuple(t.shape) for t in (means, precision)]
            raise InputError(f"ood.means and ood.precision must be of shapes (classes, {d}) and ({d}, {d}) "
                             f"(d_model {d} in config.json), found {found[0]} and {found[1]}", weights_path)
        try:
            distance = WindowDistance.from_saved(ckpt.tensors, config["ood"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"'ood' is not a saved out-of-distribution model ({type(exc).__name__}: {exc})",
                             config_path) from None
        device = resolve_device(params["device"] if params["device"] != "cuda" else "auto")
        if params["threads"] and device.type == "cpu":
            torch.set_num_threads(params["threads"])
        return cls(model.to(device).eval(), species, threshold, params, distance, ckpt.metadata, device)
