"""The neural classifiers' common class (Mamba, Transformer): training, scoring and storage.

The parts live in their own modules: the params and the model and training settings they make in
``neural_params``, the out-of-distribution model in ``neural_ood``, its calibration with the
threshold in ``neural_calibration``; the species model and its streaming summary in
``genomamba.models``, the training loop in ``genomamba.train``.

Probabilities. softmax(head(summary)), the summary being the record's mean final hidden state
(with the RC option, the mean of both strands' summaries). With ``negatives`` the head has one more
output, "no species"; the species' probabilities are reported as they are (they then sum to 1 minus
that class's), so a sequence that looks like none of them gets a low confidence and is
``unclassified`` by the threshold. The confidence is the max probability, or 0 where the summary is
beyond the out-of-distribution radius or where a record of 10 kb or more fails the Markov check
(``genomamba.markov``: is it DNA of a trained species at all?).

Storage: a checkpoint directory (``genomamba.checkpoint``); config.json keeps the params, the
threshold and the radius fit (``ood``), the class means and the shared precision matrix are tensors
``ood.means`` / ``ood.precision`` beside the weights.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .. import checkpoint, distributed, kernels, markov
from ..alphabet import reverse_complement
from ..data import WindowSampler, data_digest, split_sources
from ..errors import ConfigError, InputError
from ..inputs import rechunk
from ..kernels import cpu_inference
from ..modelfiles import entry
from ..models import ModelConfig, SpeciesModel, autocast_for, build_model
from ..train import Trainer, TrainingPaused
from .base import Classifier, training_species
from .devices import resolve_device
from .neural_calibration import calibrate
from .neural_ood import WindowDistance
from .neural_params import head_outputs, model_config, resolve_params, train_config


class NeuralClassifier(Classifier):
    arch = ""

    def __init__(self, model: SpeciesModel, species, threshold: float, params: dict,
                 distance: WindowDistance, metadata: dict, device, markov_check: markov.MarkovCheck | None = None):
        self.model, self.species, self.threshold = model, list(species), float(threshold)
        self.params, self.distance, self.metadata = params, distance, metadata
        self.markov_check = markov_check
        self.to(device)

    def to(self, device) -> "NeuralClassifier":
        """Score on ``device`` (``genomamba classify --device``); the chunk follows the device."""
        self.device = resolve_device(str(device))
        self.model.to(self.device)
        self.score_chunk = self.params["score_chunk"] or (262144 if self.device.type == "cuda" else 8192)
        # on CUDA the record's full pieces replay a CUDA graph (genomamba.cuda_graphs)
        self.model.replay_chunks(self.score_chunk if self.device.type == "cuda" else None)
        return self

    # -- training ------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, split, params: dict, seed: int, log=print, deadline: float | None = None) -> "NeuralClassifier":
        """Train on the split's training samples, calibrate on its validation samples. With a
        ``deadline`` (``time.monotonic()`` seconds) training stops at the first step boundary past it,
        saves its checkpoint and raises ``TrainingPaused``; the same call again continues.

        Under ``torchrun`` with several ranks (``genomamba.distributed``) the ranks train one model
        data-parallel, ``batch_size`` windows per step in all; rank 0 logs, writes the checkpoints,
        then calibrates alone and returns the classifier, the others return None once training ends."""
        p = resolve_params(params, cls.arch)
        species = training_species(split)
        train = split_sources(split, "train", species)
        validation = split_sources(split, "validation", species)
        return cls.fit_sources(species, train, validation, p, seed, log, deadline)

    @classmethod
    def fit_sources(cls, species, train, validation, params: dict, seed: int, log=print,
                    deadline: float | None = None):
        """``fit`` on opened sources (``genomamba.data.LabelledSource``), for tests and benchmarks."""
        p = resolve_params(params, cls.arch)
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
        device = distributed.rank_device(resolve_device(p["device"]))
        if not distributed.is_main():
            log = lambda message: None   # noqa: E731 (rank 0 speaks for the run)
        kernels.set_backend(p["kernel_backend"])
        with distributed.process_group(device):
            trainer, digests = cls._train(model_config(cls.arch, p, head_outputs(species, p)), species, train,
                                          validation, p, seed, device, log, deadline)
        if not distributed.is_main():
            return None
        model = trainer.model
        distance, threshold, metrics = calibrate(model, species, train, validation, p, seed, device, log, cls.kind)
        check = markov.fit_check(species, train, validation, p["markov_order"], seed, log) if p["markov_order"] else None
        metadata = {"digests": digests, "steps": trainer.step, "seed": seed, "metrics": metrics,
                    "seconds": round(time.time() - started, 1), "device": str(device),
                    "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "training_throughput": trainer.throughput(),
                    "history": [{"step": h["step"], "stage": h["stage"], "loss": round(h["loss"], 5)}
                                for h in trainer.history]}
        if trainer.ranks > 1:
            metadata["ranks"] = trainer.ranks
        return cls(model, species, threshold, p, distance, metadata, device, check)

    @classmethod
    def _train(cls, cfg, species, train, validation, p: dict, seed: int, device, log, deadline):
        """(the Trainer at the end of training, the data digests): resumed from and saved to
        ``checkpoint_dir`` where there is one."""
        train_cfg = train_config(p)
        model = build_model(cfg, seed).to(device)
        sampler = WindowSampler(train, len(species), p["window"], p["batch_size"], seed, p["rc_augment"],
                                negatives=p["negatives"])
        trainer = Trainer(model, sampler, train_cfg, device, log)
        digests = {"train": data_digest(train), "validation": data_digest(validation)}
        run_config = {"kind": cls.kind, "species": species, "model": cfg.to_dict(), "params": p, "seed": seed,
                      "threshold": None}
        ckpt_dir = Path(p["checkpoint_dir"]) if p["checkpoint_dir"] else None
        if ckpt_dir is not None and checkpoint.is_resumable(ckpt_dir):
            saved = checkpoint.load(ckpt_dir)
            if saved.metadata.get("digests") != digests or saved.config != run_config:
                raise ConfigError(f"{ckpt_dir}: checkpoint is from other data or settings; remove it to start over")
            trainer.restore(saved)
            log(f"resumed from {ckpt_dir} at step {trainer.step}")

        def save_checkpoint(t: Trainer):
            t.save(ckpt_dir, config=run_config, species=species, metadata={"digests": digests, "steps": t.step})

        def save_progress(t: Trainer):
            every = p["checkpoint_every"]
            if ckpt_dir is not None and (t.step == train_cfg.total_steps or (every and t.step % every == 0)):
                save_checkpoint(t)

        past_deadline = None if deadline is None else (lambda: time.monotonic() > deadline)
        if not trainer.run(log_every=p["log_every"], on_step=save_progress, should_stop=past_deadline):
            save_checkpoint(trainer)
            raise TrainingPaused(trainer.step, train_cfg.total_steps, ckpt_dir)
        return trainer, digests

    # -- scoring -------------------------------------------------------------------------------------
    def _stream_summary(self, chunks):
        """(pooled summary, bases) of one strand, streamed in ``score_chunk`` pieces."""
        state = self.model.new_state(1)
        for piece in rechunk(chunks, self.score_chunk):
            tokens = torch.from_numpy(piece.astype(np.int64))   # a copy: chunks may be read-only views
            self.model.feed(tokens.to(self.device)[None], state)
        self.model.finish(state)
        return self.model.pooled(state), state.count

    @torch.inference_mode()
    def score(self, chunks):
        self.model.eval()
        tally = markov.KmerTally(self.markov_check.order + 1) if self.markov_check else None
        if tally is not None:
            chunks = tally.passing(chunks)
        kept = [] if self.model.cfg.rc_equivariant else None
        if kept is not None:   # the reverse strand starts at the record's end: keep its tokens
            chunks = (kept.append(np.asarray(c, np.uint8)) or c for c in chunks)
        with autocast_for(self.device):
            forward, count = self._stream_summary(chunks)
            strands = [forward]
            if kept is not None and count:
                strands.append(self._stream_summary([reverse_complement(np.concatenate(kept))])[0])
        if count == 0:
            return np.full(len(self.species), 1 / len(self.species)), 0.0
        pooled = self.model.mean_of_strands(strands)
        return self._results(pooled, [count], len(strands), [tally])[0]

    @property
    def batch_bases(self) -> int:
        """Records up to one scoring chunk are scored together (``score_many``) where the model
        streams; the Transformer scores each record on its own."""
        return self.score_chunk if self.model.streams else 0

    @torch.inference_mode()
    def score_many(self, records):
        """``score`` of each record; records of 1 to ``batch_bases`` bases run through the backbone
        together, in batches of similar lengths up to ``score_chunk`` tokens (padded at the end:
        the model is causal, and a record's summary sums only its own positions)."""
        results, short = [None] * len(records), []
        for i, tokens in enumerate(records):
            if 0 < len(tokens) <= self.batch_bases:
                short.append(i)
            else:   # empty, or streamed in chunks
                results[i] = self.score([tokens])
        short.sort(key=lambda i: len(records[i]))
        self.model.eval()

        def score(batch):
            for i, result in zip(batch, self._score_batch([records[i] for i in batch])):
                results[i] = result

        batch = []
        for i in short:   # by length: the one added last is the batch's longest
            if batch and len(records[i]) * (len(batch) + 1) > self.score_chunk:
                score(batch)
                batch = []
            batch.append(i)
        if batch:
            score(batch)
        return results

    def _score_batch(self, records):
        """The results of records of 1 to ``score_chunk`` bases, scored as one batch."""
        lengths = [len(tokens) for tokens in records]
        strands = [records]
        if self.model.cfg.rc_equivariant:
            strands.append([reverse_complement(np.asarray(tokens, np.uint8)) for tokens in records])
        with autocast_for(self.device):
            pooled = self.model.mean_of_strands([self._batch_summaries(s, lengths) for s in strands])
        tallies = [None] * len(records)
        if self.markov_check:
            tallies = [markov.KmerTally(self.markov_check.order + 1) for _ in records]
            for tally, tokens in zip(tallies, records):
                for _ in tally.passing([tokens]):
                    pass
        return self._results(pooled, lengths, len(strands), tallies)

    def _batch_summaries(self, records, lengths):
        """(records, d_model) mean final hidden states of records of one strand, run as one batch."""
        tokens = np.zeros((len(records), max(lengths)), np.int64)
        for row, record in zip(tokens, records):
            row[:len(record)] = record
        hidden, _ = self.model.backbone(torch.from_numpy(tokens).to(self.device), None)
        counts = torch.tensor(lengths, device=hidden.device)
        padding = torch.arange(hidden.shape[1], device=hidden.device)[None] >= counts[:, None]
        sums = cpu_inference.time_sums(hidden.masked_fill_(padding[..., None], 0))
        return (sums / counts[:, None].to(sums)).float()

    def _results(self, pooled, counts, n_strands: int, tallies):
        """(probabilities, confidence) of each row of the (records, d_model) summaries ``pooled`` of
        records of ``counts`` bases, summarised over ``n_strands`` strands; ``tallies`` their k-mer
        counts for the Markov check (None without one)."""
        probs = self.model.probabilities(pooled.float())[:, :len(self.species)]
        distances = self.distance.gaussian.distance(pooled.cpu())
        results = []
        for row, count, distance, tally in zip(probs, counts, distances, tallies):
            n_windows = count / self.params["window"] * n_strands
            inside = self.distance.inside(float(distance), n_windows)
            if tally is not None:
                inside = inside and self.markov_check.accepts_counts(tally.counts)
            results.append((row, float(row.max()) if inside else 0.0))
        return results

    # -- storage -------------------------------------------------------------------------------------
    def save(self, model_dir) -> None:
        config = {"kind": self.kind, "species": self.species, "threshold": self.threshold,
                  "model": self.model.cfg.to_dict(), "params": self.params,
                  "confidence": "max softmax probability, 0 where the summary's distance to the nearest "
                                "class exceeds radius(windows); see genomamba/classifiers/neural.py",
                  "ood": self.distance.config()}
        tensors = {**self.model.state_dict(), **self.distance.gaussian.tensors("ood.")}
        if self.markov_check is not None:
            config["markov"] = self.markov_check.config()
            tensors.update({k: torch.from_numpy(v) for k, v in self.markov_check.tensors().items()})
        checkpoint.save(model_dir, config=config, tensors=tensors, species=self.species, metadata=self.metadata)

    @classmethod
    def load(cls, model_dir) -> "NeuralClassifier":
        """Read what ``save`` wrote. A missing or damaged file, or files that do not fit together
        (weights and config.json's model, labels.json and the model's outputs), is an InputError
        naming the file and what is wrong."""
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
            params = resolve_params(entry(config, "params", config_path, "an object"), cls.arch)
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
        checkpoint.load_weights(model, {k: v for k, v in ckpt.tensors.items()
                                        if not k.startswith(("ood.", "markov."))}, weights_path)
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
        check = markov.load_check(ckpt.tensors, config, config_path) if "markov" in config else None
        device = resolve_device(params["device"] if params["device"] != "cuda" else "auto")
        if params["threads"] and device.type == "cpu":
            torch.set_num_threads(params["threads"])
        return cls(model.to(device).eval(), species, threshold, params, distance, ckpt.metadata, device, check)
