"""Training: optional next-base pretraining, then species classification, with truncated
backpropagation through time over chunks, seeded and resumable.

A window of ``window`` bases is fed in chunks of ``chunk_size`` with the state carried; every
``tbptt_chunks`` chunks the loss so far is backpropagated and the state detached, so memory depends
on chunk_size x tbptt_chunks, not on the window. The classification loss of a segment is the
cross-entropy of the head on the running pooled summary (the prediction from the prefix seen so
far); the next-base loss covers every position whose successor is in the window. Gradients of all
segments are accumulated into one optimizer step per batch.

Everything the run depends on is (model, optimizer, step): batches are a function of the step
(``WindowSampler``), so a run saved at step k and resumed ends with the same weights as one that
never stopped (bitwise on CPU). ``run(should_stop=...)`` ends early at a step boundary, which is how
a long run is split into time-boxed segments (``genomamba train --max-minutes``).

Sequence-length warm-up (``window_warmup`` steps, HyenaDNA's recipe): each stage starts on windows of
one chunk and doubles them in equal steps until they reach ``window``.

Data-parallel training (``torchrun``, ``genomamba.distributed``): where a process group of N ranks is
running, the model is wrapped in DistributedDataParallel and ``batch_size`` is the batch of the whole
step, dealt row by row to the ranks (``WindowSampler.batch(share=...)``), B = batch_size / N each.
Each rank's loss is its mean over its B windows (next-base: over the whole batch's target count,
times N) and DDP averages the gradients over the ranks, so a step is the single-process step on the
same batch up to the order of floating-point sums; gradients are synchronised once per step, at the
last backpropagation segment. Losses, tokens and the time-limit decision are the whole step's, the
same on every rank, so a checkpoint (written by rank 0) does not depend on the number of ranks and
resumes with any number that divides the batch.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import checkpoint, distributed, progress
from .alphabet import N
from .cuda_graphs import StepGraphs
from .data import TRAIN_STREAM, WindowSampler
from .errors import ConfigError
from .models import SpeciesModel, autocast_for


class TrainingPaused(Exception):
    """Training stopped at its time limit; its checkpoint holds everything needed to continue."""

    def __init__(self, step: int, total: int, checkpoint_dir):
        self.step, self.total, self.checkpoint_dir = step, total, checkpoint_dir
        super().__init__(f"stopped at step {step} of {total}; the checkpoint in {checkpoint_dir} "
                         "continues the same run when the same command is given again")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 300            # classification steps
    pretrain_steps: int = 0     # next-base (causal LM) steps before them (Mamba only)
    batch_size: int = 16
    window: int = 1024
    chunk_size: int = 1024      # training chunk; the Transformer always takes the whole window
    tbptt_chunks: int = 1       # chunks per backpropagation segment
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup: int = 20
    window_warmup: int = 0      # steps over which windows grow from chunk_size to window (each stage)
    grad_clip: float = 1.0

    def __post_init__(self):
        for name in ("batch_size", "window", "chunk_size", "tbptt_chunks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.steps < 0 or self.pretrain_steps < 0 or self.window_warmup < 0:
            raise ConfigError("steps, pretrain_steps and window_warmup must not be negative")

    @property
    def total_steps(self) -> int:
        return self.pretrain_steps + self.steps


class Segment(nn.Module):
    """The forward of one backpropagation segment: the model fed chunk by chunk with its state
    carried, then the species head's logits (``classify``; with ``finish`` at the window's end) or
    the summed next-base cross-entropy. A module of its own because DistributedDataParallel
    synchronises gradients through the forward of the module it wraps."""

    def __init__(self, model: SpeciesModel):
        super().__init__()
        self.model = model

    def forward(self, tokens, state, chunks, *, classify: bool, finish: bool = False, strands: int = 1):
        model = self.model
        if classify:
            for start, end in chunks:
                model.feed(tokens[:, start:end], state)
            if finish:
                model.finish(state)
            return model.head(model.mean_of_strands(model.pooled(state).chunk(strands)))
        loss = 0.0
        for start, end in chunks:
            hidden = model.feed(tokens[:, start:end], state)
            targets = tokens[:, start + 1:end + 1]
            logits = model.lm_head(hidden[:, :targets.shape[1]])
            loss = loss + F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                          targets.reshape(-1), ignore_index=N, reduction="sum")
        return loss


class Trainer:
    def __init__(self, model: SpeciesModel, sampler: WindowSampler, cfg: TrainConfig, device, log=print):
        if cfg.pretrain_steps and model.lm_head is None:
            raise ConfigError(f"pretrain_steps needs a causal model; {model.cfg.arch} has no next-base head")
        if not model.streams and cfg.window > model.cfg.max_context:
            raise ConfigError(f"window {cfg.window} exceeds the Transformer's max_context {model.cfg.max_context}")
        self.model, self.sampler, self.cfg = model, sampler, cfg
        self.device = torch.device(device)
        self.log = log
        self.ranks, self.rank = distributed.world_size(), distributed.rank()
        if cfg.batch_size % self.ranks:
            raise ConfigError(f"batch_size {cfg.batch_size} is not a multiple of the {self.ranks} ranks: "
                              "each rank takes an equal share of the batch")
        self.segment = Segment(model)
        if distributed.active():
            # Unused parameters: the next-base head in classification, the species head in pretraining.
            self.segment = DistributedDataParallel(self.segment, find_unused_parameters=True)
        self.step = 0
        self.history: list[dict] = []
        self.tokens_seen, self.train_seconds = 0, 0.0   # throughput of the training steps (all segments)
        self.optimizer_stage = self.stage(0)
        self.optimizer = self._new_optimizer()
        # CUDA graphs of the step (genomamba.cuda_graphs): the Mamba model on CUDA, one process
        self.graphs = (StepGraphs(model.parameters(), log)
                       if self.device.type == "cuda" and model.streams and not distributed.active()
                       else None)

    def stage(self, step: int) -> str:
        return "pretrain" if step < self.cfg.pretrain_steps else "classify"

    def _new_optimizer(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 10%, restarted for the fine-tuning stage."""
        first = self.cfg.pretrain_steps
        offset, length = (step, first) if step < first else (step - first, self.cfg.steps)
        if offset < self.cfg.warmup:
            return self.cfg.lr * (offset + 1) / self.cfg.warmup
        progress = (offset - self.cfg.warmup) / max(1, length - self.cfg.warmup)
        return self.cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))

    def window_at(self, step: int) -> int:
        """The training window at ``step``: one chunk doubling to ``window`` over ``window_warmup``
        steps of each stage (the full window without warm-up, and always for the Transformer)."""
        offset = step if step < self.cfg.pretrain_steps else step - self.cfg.pretrain_steps
        if not self.cfg.window_warmup or offset >= self.cfg.window_warmup or not self.model.streams:
            return self.cfg.window
        doublings = max(0, math.ceil(math.log2(self.cfg.window / self.cfg.chunk_size)))
        return min(self.cfg.window, self.cfg.chunk_size << (doublings * offset // self.cfg.window_warmup))

    def _segments(self, length: int):
        chunk = self.cfg.chunk_size if self.model.streams else length
        span = chunk * self.cfg.tbptt_chunks
        for start in range(0, length, span):
            end = min(start + span, length)
            yield [(c, min(c + chunk, end)) for c in range(start, end, chunk)], end == length

    def _synchronised(self, last: bool):
        """Data-parallel: gradients stay local until the step's last segment, whose backward
        averages the accumulated gradients over the ranks."""
        if last or not distributed.active():
            return contextlib.nullcontext()
        return self.segment.no_sync()

    def classification_loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Backpropagates segment by segment; returns the window's loss (the last segment's)."""
        strands = self.model.strands(tokens)
        tokens = torch.cat(strands)
        state = self.model.new_state(tokens.shape[0])
        segments = list(self._segments(tokens.shape[1]))
        for index, (chunks, last) in enumerate(segments):
            with self._synchronised(index == len(segments) - 1):
                with autocast_for(self.device):
                    logits = self.segment(tokens, state, chunks, classify=True, finish=last, strands=len(strands))
                loss = F.cross_entropy(logits.float(), labels)
                (loss / len(segments)).backward()
            state.detach()
        return loss.detach()

    def next_base_loss(self, tokens: torch.Tensor, labels=None) -> torch.Tensor:
        """Backpropagates segment by segment; returns this rank's summed cross-entropy of predicting
        each base from the ones before it (N targets ignored) over the whole step's target count
        (every rank's)."""
        state = self.model.new_state(tokens.shape[0])
        targets = (tokens[:, 1:] != N).sum()
        n_targets = (max(int(distributed.total(int(targets), self.device)), 1) if distributed.active()
                     else targets.clamp_min(1))   # one process: a tensor, which a CUDA graph can hold
        segments = list(self._segments(tokens.shape[1]))
        total = 0.0
        for index, (chunks, _) in enumerate(segments):
            with self._synchronised(index == len(segments) - 1):
                with autocast_for(self.device):
                    loss = self.segment(tokens, state, chunks, classify=False)
                # DDP averages over the ranks: this rank's sum counts as a share of the batch's.
                (loss / n_targets * self.ranks if self.ranks > 1 else loss / n_targets).backward()
            total = total + loss.detach()
            state.detach()
        return total / n_targets

    def train_step(self) -> float:
        if self.stage(self.step) != self.optimizer_stage:   # fine-tuning starts with a fresh optimizer
            self.optimizer_stage = self.stage(self.step)
            self.optimizer = self._new_optimizer()
            # and without the last stage's gradients (its head's would otherwise stay, as zeros)
            self.model.zero_grad(set_to_none=True)
        self.model.train()
        started = time.perf_counter()
        tokens, labels = self.sampler.batch(self.step, TRAIN_STREAM, share=(self.rank, self.ranks))
        tokens = torch.as_tensor(tokens[:, :self.window_at(self.step)], dtype=torch.long, device=self.device)
        labels = torch.as_tensor(labels, device=self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        # a CUDA graph writes into the gradients it was captured with: zeroed, not dropped
        self.optimizer.zero_grad(set_to_none=self.graphs is None)
        if self.optimizer_stage == "pretrain":
            body, combine = self.next_base_loss, distributed.total
        else:
            body, combine = self.classification_loss, distributed.mean
        if self.graphs is not None:
            key = (self.optimizer_stage, tuple(tokens.shape))
            loss = self.graphs.run(key, body, tokens, labels)
        else:
            loss = body(tokens, labels)
        loss = combine(loss.item(), self.device)   # waits for the GPU: the step time is complete
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.train_seconds += time.perf_counter() - started
        self.tokens_seen += tokens.numel() * (2 if self.model.cfg.rc_equivariant else 1) * self.ranks
        self.history.append({"step": self.step, "stage": self.optimizer_stage, "loss": loss})
        self.step += 1
        return loss

    def throughput(self) -> dict:
        """Training tokens per second over all steps so far, and the peak GPU memory (CUDA only)."""
        stats = {"tokens": self.tokens_seen, "seconds": round(self.train_seconds, 2),
                 "tokens_per_second": round(self.tokens_seen / self.train_seconds) if self.train_seconds else None}
        if self.device.type == "cuda":
            stats["peak_gpu_memory_bytes"] = torch.cuda.max_memory_allocated(self.device)
        return stats

    def run(self, until: int | None = None, log_every: int = 50, on_step=None, should_stop=None) -> bool:
        """Train up to step ``until`` (default: the end); ``on_step(trainer)`` runs after each step.
        ``should_stop()``, asked after each step, ends the run early. True when ``until`` was reached."""
        end = self.cfg.total_steps if until is None else min(until, self.cfg.total_steps)
        # a bar on a terminal only (genomamba.progress), from rank 0 only
        with progress.Steps("train", self.step, end, show=None if distributed.is_main() else False) as bar:
            while self.step < end:
                loss = self.train_step()
                bar.update()
                if log_every and (self.step % log_every == 0 or self.step == end):
                    rate = self.throughput()["tokens_per_second"] or 0
                    self.log(f"step {self.step}/{self.cfg.total_steps} {self.optimizer_stage} loss {loss:.4f} "
                             f"window {self.window_at(self.step - 1)} ({rate / 1e6:.2f} M tokens/s)")
                if on_step is not None:
                    on_step(self)
                if should_stop is not None and self.step < end and distributed.any_rank(should_stop(), self.device):
                    return False
        return True

    # -- resumable checkpoints -------------------------------------------------------------------
    def trainer_state(self) -> dict:
        return {"step": self.step, "optimizer_stage": self.optimizer_stage,
                "train_config": asdict(self.cfg), "history": self.history,
                "tokens_seen": self.tokens_seen, "train_seconds": self.train_seconds}

    def save(self, directory, *, config: dict, species: list, metadata: dict) -> None:
        """Write a resumable checkpoint (rank 0 only: every rank holds the same model and optimizer)."""
        if not distributed.is_main():
            return
        checkpoint.save(directory, config=config, tensors=self.model.state_dict(), species=species,
                        metadata=metadata, optimizer=self.optimizer, trainer=self.trainer_state())

    def restore(self, ckpt: checkpoint.Checkpoint) -> None:
        """Continue from a resumable checkpoint written by ``save`` with the same settings."""
        saved = ckpt.trainer or {}
        if saved.get("train_config") != asdict(self.cfg):
            raise ConfigError("the checkpoint was written with other training settings; cannot resume")
        self.model.load_state_dict({k: v for k, v in ckpt.tensors.items() if not k.startswith("ood.")})
        self.step, self.optimizer_stage = saved["step"], saved["optimizer_stage"]
        self.history = saved.get("history", [])
        self.tokens_seen, self.train_seconds = saved.get("tokens_seen", 0), saved.get("train_seconds", 0.0)
        self.optimizer = self._new_optimizer()
        checkpoint.load_optimizer(self.optimizer, ckpt.optimizer, saved["param_groups"])
        if "rng.torch" in ckpt.optimizer:
            torch.set_rng_state(ckpt.optimizer["rng.torch"])
