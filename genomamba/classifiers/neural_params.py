"""The params of the neural classifiers (Mamba, Transformer) and the model and training settings
they make.

Params (``models.<name>.params`` in config.yaml; checked by ``genomamba.classifiers.params``), with
defaults:

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
            torch's default; `genomamba classify` and `track` then score on their
            ``--threads``. One suits the tiny default model: on a busy machine OpenMP threads
            spinning against other jobs slow its training steps down many times),
            device "auto" (cuda if available, else cpu), kernel_backend "auto" ("triton",
            "reference", "blocked": genomamba/kernels/dispatch.py), score_chunk 0 (inference
            chunk; 0 = 8192 bases on CPU, 262144 on CUDA; records up to one chunk long are
            scored together, in batches of up to one chunk of tokens),
            checkpoint_dir "" (resumable checkpoints there; an existing one is resumed),
            checkpoint_every 0 (steps; 0 = only at the end when checkpoint_dir is set)
  threshold threshold_quantile 0.05, max_threshold 0.5, ood_windows [1, 4, 16], ood_quantile 0.99,
            ood_margin 1.0 (``genomamba.classifiers.neural_calibration``), markov_order 6 (the
            order of the Markov check that a record of 10 kb or more is DNA of a trained species at
            all, ``genomamba.markov``; 0 = no check)
"""

from __future__ import annotations

from ..errors import ConfigError
from ..models import ModelConfig
from ..train import TrainConfig
from .params import checked_params, require

DEFAULTS = {
    "d_model": 32, "n_layers": 2, "d_state": 8, "d_conv": 4, "expand": 2, "dt_rank": 0,
    "n_heads": 2, "mlp_ratio": 2, "max_context": 0,
    "window": 512, "batch_size": 16, "rc_augment": True, "negatives": 0.125, "eval_windows": 32,
    "steps": 300, "pretrain_steps": 0, "lr": 3e-3, "weight_decay": 0.01, "warmup": 20, "window_warmup": 0,
    "chunk_size": 512, "tbptt_chunks": 1, "rc_equivariant": False, "log_every": 50,
    "threads": 1, "device": "auto", "kernel_backend": "auto", "score_chunk": 0,
    "checkpoint_dir": "", "checkpoint_every": 0, "threshold_quantile": 0.05, "max_threshold": 0.5,
    "ood_windows": [1, 4, 16], "ood_quantile": 0.99, "ood_margin": 1.0, "markov_order": 6,
}
MODEL_KEYS = {"mamba": ("d_model", "n_layers", "d_state", "d_conv", "expand", "dt_rank", "rc_equivariant"),
              "transformer": ("d_model", "n_layers", "n_heads", "mlp_ratio", "rc_equivariant")}
TRAIN_KEYS = ("steps", "pretrain_steps", "batch_size", "window", "chunk_size", "tbptt_chunks", "lr",
              "weight_decay", "warmup", "window_warmup")


def resolve_params(params: dict | None, arch: str) -> dict:
    """The params with defaults filled in, checked as a classifier of ``arch`` ("mamba" or
    "transformer") will use them: they must also make a model of that arch and a training
    configuration."""
    p = checked_params(params, DEFAULTS)
    require(p["device"] in ("auto", "cpu", "cuda"), "device", "auto, cpu or cuda", p["device"])
    require(p["kernel_backend"] in ("auto", "triton", "reference", "blocked"), "kernel_backend",
            "auto, triton, reference or blocked", p["kernel_backend"])
    require(p["threshold_quantile"] < 1, "threshold_quantile", "a number in [0, 1)", p["threshold_quantile"])
    require(p["max_threshold"] <= 1, "max_threshold", "a number in [0, 1]", p["max_threshold"])
    require(max(p["ood_windows"]) >= 1, "ood_windows", "at least one whole window (a value >= 1)",
            p["ood_windows"])
    require(0 < p["ood_quantile"] < 1, "ood_quantile", "a number in (0, 1)", p["ood_quantile"])
    require(p["ood_margin"] > 0, "ood_margin", "a number > 0", p["ood_margin"])
    require(p["negatives"] < 1, "negatives", "a share in [0, 1)", p["negatives"])
    require(p["markov_order"] <= 8, "markov_order", "an integer in 0..8", p["markov_order"])
    if arch == "transformer" and p["pretrain_steps"]:
        raise ConfigError("pretrain_steps is for mamba only: the transformer's encoder is bidirectional, "
                          "it has no next-base head")
    model_config(arch, p, n_classes=2)
    train_config(p)
    return p


def head_outputs(species, params: dict) -> int:
    """The head's outputs: one per species, and one for "no species" when trained with negatives
    (a model saved before negatives existed has no such param, and no such output)."""
    return len(species) + (1 if params.get("negatives") else 0)


def model_config(arch: str, p: dict, n_classes: int) -> ModelConfig:
    """The model of ``arch`` that the params describe, with ``n_classes`` head outputs."""
    values = {k: p[k] for k in MODEL_KEYS[arch]}
    if arch == "transformer":
        values["max_context"] = p["max_context"] or p["window"]
    return ModelConfig(arch=arch, n_classes=n_classes, **values)


def train_config(p: dict) -> TrainConfig:
    return TrainConfig(**{k: p[k] for k in TRAIN_KEYS})
