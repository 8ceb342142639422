"""Training, calibration, scoring and storage shared by the neural classifiers (Mamba, Transformer).

Params (``models.<name>.params`` in config.yaml; unknown keys are a ConfigError), with defaults:

  model     d_model 32, n_layers 2; Mamba: d_state 8, d_conv 4, expand 2, dt_rank 0 (= d_model/16);
            Transformer: n_heads 2, mlp_ratio 2, max_context 0 (= window)
  data      window 512 (bases per training window), batch_size 16, rc_augment true (each window is
            reverse-complemented with probability 1/2), eval_windows 32 (per species, for the
            reference statistics, validation metrics and the threshold)
  training  steps 300, pretrain_steps 0 (next-base steps before fine-tuning; Mamba only), lr 3e-3,
            weight_decay 0.01, warmup 20, chunk_size 512 (training chunk), tbptt_chunks 1
            (chunks per backpropagation segment), rc_equivariant false (RC-invariant pooling, see
            genomamba/models/streaming.py), log_every 50
  run       threads 1 (intra-op CPU threads while fitting and, process-wide, after ``load``; 0 =
            torch's default. One is best for the tiny default model: on a busy 2-core machine two
            OpenMP threads spinning against other jobs made a training step 50x slower),
            device "auto" (cuda if available, else cpu), kernel_backend "auto" ("triton",
            "reference"), score_chunk 0 (inference chunk; 0 = 8192 bases on CPU, 262144 on CUDA),
            checkpoint_dir "" (resumable checkpoints there; an existing one is resumed),
            checkpoint_every 0 (steps; 0 = only at the end when checkpoint_dir is set)
  threshold threshold_quantile 0.05

Confidence and threshold. A record's summary (the mean final hidden state) gives the probabilities,
softmax(head(summary)). Its likeness to the training data is judged window by window: the summary of
each ``window``-base window of the record (counted from its start, the state carried across) has a
distance to the training species, the smallest root-mean-square standardised distance to a class mean
(class means and the per-dimension within-class spread from ``eval_windows`` training windows per
species), turned into a tail probability: the fraction of those training windows at least as far from
their nearest class mean (+1 smoothing). The confidence is min(max probability, mean window tail
probability): a sequence unlike every training species has windows far from all means and gets a low
confidence even when the softmax is sure; averaging tails (not summaries) keeps that true for long
records. The threshold is the ``threshold_quantile`` quantile of the confidences of validation windows
(held-out strains), so that fraction of in-distribution windows is left unclassified; longer records
average over more windows and are called more often. Without validation samples the training windows
are used (noted in training.json).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import kernels

from .. import checkpoint
from ..alphabet import reverse_complement
from ..data import WindowSampler, data_digest, split_sources
from ..errors import ConfigError
from ..models import ModelConfig, SpeciesModel, build_model, rechunk
from ..train import TrainConfig, Trainer, autocast_for, summarise
from .base import Classifier

DEFAULTS = {
    "d_model": 32, "n_layers": 2, "d_state": 8, "d_conv": 4, "expand": 2, "dt_rank": 0,
    "n_heads": 2, "mlp_ratio": 2, "max_context": 0,
    "window": 512, "batch_size": 16, "rc_augment": True, "eval_windows": 32,
    "steps": 300, "pretrain_steps": 0, "lr": 3e-3, "weight_decay": 0.01, "warmup": 20,
    "chunk_size": 512, "tbptt_chunks": 1, "rc_equivariant": False, "log_every": 50,
    "threads": 1, "device": "auto", "kernel_backend": "auto", "score_chunk": 0,
    "checkpoint_dir": "", "checkpoint_every": 0, "threshold_quantile": 0.05,
}
MODEL_KEYS = {"mamba": ("d_model", "n_layers", "d_state", "d_conv", "expand", "dt_rank", "rc_equivariant"),
              "transformer": ("d_model", "n_layers", "n_heads", "mlp_ratio", "rc_equivariant")}
TRAIN_KEYS = ("steps", "pretrain_steps", "batch_size", "window", "chunk_size", "tbptt_chunks", "lr",
              "weight_decay", "warmup")


def resolve_params(params: dict | None) -> dict:
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown neural classifier params: {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    for key, value in params.items():
        default = DEFAULTS[key]
        ok = (isinstance(value, bool) if isinstance(default, bool)
              else isinstance(value, (int, float)) and not isinstance(value, bool) if isinstance(default, float)
              else isinstance(value, int) and not isinstance(value, bool) if isinstance(default, int)
              else isinstance(value, str))
        if not ok:
            raise ConfigError(f"param {key} must be a {type(default).__name__}, not {value!r}")
    resolved = {**DEFAULTS, **params}
    if resolved["device"] not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, not {resolved['device']!r}")
    if resolved["kernel_backend"] not in ("auto", "triton", "reference"):
        raise ConfigError(f"kernel_backend must be auto, triton or reference, not {resolved['kernel_backend']!r}")
    if resolved["threads"] < 0:
        raise ConfigError("threads must be 0 (torch's default) or more")
    if not 0 <= resolved["threshold_quantile"] < 1:
        raise ConfigError("threshold_quantile must be in [0, 1)")
    return resolved


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for but CUDA is not available")
    return torch.device(name)


class DistanceScore:
    """Standardised distance of a summary to the nearest class mean, as a tail probability."""

    def __init__(self, means: torch.Tensor, scale: torch.Tensor, reference: torch.Tensor):
        self.means, self.scale, self.reference = means.float(), scale.float(), reference.float()

    @classmethod
    def from_windows(cls, embeddings: torch.Tensor, labels: np.ndarray, n_classes: int) -> "DistanceScore":
        labels = torch.as_tensor(labels)
        means = torch.stack([embeddings[labels == c].mean(0) for c in range(n_classes)])
        spread = (embeddings - means[labels]).pow(2).mean(0).sqrt().clamp_min(1e-6)
        probe = cls(means, spread, torch.zeros(0))
        return cls(means, spread, torch.sort(probe.distance(embeddings)).values)

    def distance(self, embeddings: torch.Tensor) -> torch.Tensor:
        z = (embeddings.float()[:, None, :] - self.means[None]) / self.scale
        return z.pow(2).mean(-1).sqrt().min(-1).values

    def tail(self, embeddings: torch.Tensor) -> torch.Tensor:
        d = self.distance(embeddings)
        at_least = len(self.reference) - torch.searchsorted(self.reference, d, right=False)
        return (at_least + 1).float() / (len(self.reference) + 1)

    def tensors(self) -> dict:
        return {"ood.means": self.means, "ood.scale": self.scale, "ood.reference": self.reference}

    @classmethod
    def from_tensors(cls, tensors: dict) -> "DistanceScore":
        return cls(tensors["ood.means"], tensors["ood.scale"], tensors["ood.reference"])


class NeuralClassifier(Classifier):
    arch = ""

    def __init__(self, model: SpeciesModel, species, threshold: float, params: dict,
                 distance: DistanceScore, metadata: dict, device):
        self.model, self.species, self.threshold = model, list(species), float(threshold)
        self.params, self.distance, self.metadata = params, distance, metadata
        self.device = torch.device(device)
        self.score_chunk = params["score_chunk"] or (262144 if self.device.type == "cuda" else 8192)

    # -- training ------------------------------------------------------------------------------------
    @classmethod
    def model_config(cls, p: dict, n_classes: int) -> ModelConfig:
        values = {k: p[k] for k in MODEL_KEYS[cls.arch]}
        if cls.arch == "transformer":
            values["max_context"] = p["max_context"] or p["window"]
        return ModelConfig(arch=cls.arch, n_classes=n_classes, **values)

    @classmethod
    def fit(cls, split, params: dict, seed: int, log=print) -> "NeuralClassifier":
        p = resolve_params(params)
        species = list(split.species)
        if len(species) < 2:
            raise ConfigError(f"need at least two training species, found {species}")
        train = split_sources(split, "train", species)
        validation = split_sources(split, "validation", species)
        return cls.fit_sources(species, train, validation, p, seed, log)

    @classmethod
    def fit_sources(cls, species, train, validation, params: dict, seed: int, log=print):
        """``fit`` on opened sources (``genomamba.data.LabelledSource``), for tests and benchmarks."""
        p = resolve_params(params)
        threads = torch.get_num_threads()
        if p["threads"]:
            torch.set_num_threads(p["threads"])
        try:
            return cls._fit(species, train, validation, p, seed, log)
        finally:
            torch.set_num_threads(threads)

    @classmethod
    def _fit(cls, species, train, validation, p: dict, seed: int, log):
        started = time.time()
        device = resolve_device(p["device"])
        kernels.set_backend(p["kernel_backend"])
        cfg = cls.model_config(p, len(species))
        train_cfg = TrainConfig(**{k: p[k] for k in TRAIN_KEYS})
        model = build_model(cfg, seed).to(device)
        sampler = WindowSampler(train, len(species), p["window"], p["batch_size"], seed, p["rc_augment"])
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

        def save_progress(t: Trainer):
            every = p["checkpoint_every"]
            if ckpt_dir is not None and (t.step == train_cfg.total_steps or (every and t.step % every == 0)):
                t.save(ckpt_dir, config={**run_config, "threshold": None}, species=species,
                       metadata={"digests": digests, "steps": t.step})

        trainer.run(log_every=p["log_every"], on_step=save_progress)

        # reference statistics on training windows, threshold and metrics on validation windows
        ref_tokens, ref_labels = sampler.fixed_windows(p["eval_windows"])
        ref_emb = summarise(model, ref_tokens, device)
        distance = DistanceScore.from_windows(ref_emb, ref_labels, len(species))
        val_tokens = np.zeros((0, p["window"]), np.uint8)
        if validation:
            val_sampler = WindowSampler(validation, len(species), p["window"], 1, seed, False,
                                        require_all_classes=False)
            val_tokens, val_labels = val_sampler.fixed_windows(p["eval_windows"])
        calibrated_on = "validation windows"
        if len(val_tokens) == 0:
            val_tokens, val_labels, calibrated_on = ref_tokens, ref_labels, "training windows (no validation samples)"
        val_emb = summarise(model, val_tokens, device)
        clf = cls(model, species, 0.0, p, distance, {}, device)
        probs, confidence = clf._probabilities(val_emb)
        threshold = float(np.quantile(confidence, p["threshold_quantile"])) if p["threshold_quantile"] else 0.0
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
                        "history": [{"step": h["step"], "stage": h["stage"], "loss": round(h["loss"], 5)}
                                    for h in trainer.history]}
        log(f"{cls.kind}: validation window accuracy {metrics['window_accuracy']:.3f}, "
            f"threshold {threshold:.4f} ({p['threshold_quantile']} quantile on {calibrated_on})")
        return clf

    # -- scoring -------------------------------------------------------------------------------------
    def _probabilities(self, embeddings: torch.Tensor):
        with torch.no_grad():
            logits = self.model.head(embeddings.to(self.device).float()).float().cpu()
        probs = torch.softmax(logits, -1)
        confidence = torch.minimum(probs.max(-1).values, self.distance.tail(embeddings.cpu()))
        return probs.numpy().astype(np.float64), confidence.numpy().astype(np.float64)

    def _stream_summary(self, chunks):
        """(pooled summary, bases, sum and number of per-window tail probabilities) of one strand."""
        state = self.model.new_state(1)
        tails = [0.0, 0]

        def add(windows):
            t = self.distance.tail(windows[:, 0].cpu())
            tails[0] += float(t.double().sum())
            tails[1] += len(t)

        state.watch_windows(self.params["window"], add)
        for piece in rechunk(chunks, self.score_chunk):
            self.model.feed(torch.as_tensor(piece, dtype=torch.long, device=self.device)[None], state)
        self.model.finish(state)
        return self.model.pooled(state), state.count, tails

    @torch.inference_mode()
    def score(self, chunks):
        self.model.eval()
        kept = [] if self.model.cfg.rc_equivariant else None
        if kept is not None:   # the reverse strand starts at the record's end: keep its tokens
            chunks = (kept.append(np.asarray(c, np.uint8)) or c for c in chunks)
        with autocast_for(self.device):
            pooled, count, tails = self._stream_summary(chunks)
            if kept is not None and count:
                reverse, _, reverse_tails = self._stream_summary([reverse_complement(np.concatenate(kept))])
                pooled = (pooled + reverse) / 2
                tails = [tails[0] + reverse_tails[0], tails[1] + reverse_tails[1]]
        if count == 0:
            return np.full(len(self.species), 1 / len(self.species)), 0.0
        probs, _ = self._probabilities(pooled.float())
        confidence = min(float(probs[0].max()), tails[0] / tails[1])
        return probs[0], confidence

    # -- storage -------------------------------------------------------------------------------------
    def save(self, model_dir) -> None:
        config = {"kind": self.kind, "species": self.species, "threshold": self.threshold,
                  "model": self.model.cfg.to_dict(), "params": self.params,
                  "confidence": "min(max softmax probability, mean per-window distance tail probability); see "
                                "genomamba/classifiers/neural.py"}
        tensors = {**self.model.state_dict(), **self.distance.tensors()}
        checkpoint.save(model_dir, config=config, tensors=tensors, species=self.species, metadata=self.metadata)

    @classmethod
    def load(cls, model_dir) -> "NeuralClassifier":
        ckpt = checkpoint.load(model_dir)
        if ckpt.config.get("kind") != cls.kind:
            raise ConfigError(f"{model_dir}: a {ckpt.config.get('kind')!r} model, not {cls.kind!r}")
        params = resolve_params(ckpt.config["params"])
        device = resolve_device(params["device"] if params["device"] != "cuda" else "auto")
        if params["threads"] and device.type == "cpu":
            torch.set_num_threads(params["threads"])
        model = SpeciesModel(ModelConfig.from_dict(ckpt.config["model"]))
        model.load_state_dict({k: v for k, v in ckpt.tensors.items() if not k.startswith("ood.")})
        return cls(model.to(device).eval(), ckpt.species, ckpt.config["threshold"], params,
                   DistanceScore.from_tensors(ckpt.tensors), ckpt.metadata, device)
