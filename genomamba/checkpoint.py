"""Checkpoint directories: JSON and safetensors only, never pickle; written atomically.

    config.json            what the model is (kind, species, threshold, model and training settings)
    model.safetensors      the weights (and any extra tensors a classifier keeps, e.g. ``ood.*``)
    labels.json            the label map: {"species": [...]} in the order of the outputs
    training.json          metadata: data digests, steps, metrics, history
    optimizer.safetensors  (resumable checkpoints) optimizer tensors and the torch RNG state
    trainer.json           (resumable checkpoints) step, stage, optimizer hyper-parameters

In data-parallel training (``genomamba.distributed``) every rank holds the same model and optimizer
and only rank 0 writes; nothing saved depends on the number of ranks, so a run resumes with another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file

from .atomic import atomic_path
from .errors import InputError
from .modelfiles import entry, read_json, read_tensors


@dataclass
class Checkpoint:
    config: dict
    tensors: dict
    species: list
    metadata: dict
    optimizer: dict = field(default_factory=dict)   # empty unless resumable
    trainer: dict | None = None


def _contiguous(tensors: dict) -> dict:
    return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict, list]:
    """An optimizer's per-parameter state as flat tensors ``state.<i>.<key>`` and its param groups."""
    sd = optimizer.state_dict()
    tensors = {f"state.{i}.{k}": (v if torch.is_tensor(v) else torch.tensor(v))
               for i, st in sd["state"].items() for k, v in st.items()}
    return tensors, sd["param_groups"]


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict, param_groups: list) -> None:
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


def save(directory, *, config: dict, tensors: dict, species: list, metadata: dict,
         optimizer: torch.optim.Optimizer | None = None, trainer: dict | None = None) -> None:
    """Write a checkpoint directory; it appears complete or not at all."""
    with atomic_path(directory) as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        save_file(_contiguous(tensors), str(tmp / "model.safetensors"))
        (tmp / "labels.json").write_text(json.dumps({"species": list(species)}, indent=2) + "\n")
        (tmp / "training.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        if optimizer is not None:
            opt, groups = optimizer_tensors(optimizer)
            opt["rng.torch"] = torch.get_rng_state()
            save_file(_contiguous(opt), str(tmp / "optimizer.safetensors"))
            (tmp / "trainer.json").write_text(
                json.dumps({**(trainer or {}), "param_groups": groups}, indent=2, sort_keys=True) + "\n")


def load(directory) -> Checkpoint:
    """Read a checkpoint directory; a missing, empty, truncated or malformed file is an InputError
    naming it (``genomamba.modelfiles``)."""
    directory = Path(directory)
    config = read_json(directory / "config.json")
    labels = read_json(directory / "labels.json")
    species = entry(labels, "species", directory / "labels.json", "a list of distinct names")
    metadata = read_json(directory / "training.json")
    tensors = read_tensors(directory / "model.safetensors", "pt")
    ckpt = Checkpoint(config, tensors, species, metadata)
    if (directory / "optimizer.safetensors").is_file():
        ckpt.optimizer = read_tensors(directory / "optimizer.safetensors", "pt")
        ckpt.trainer = read_json(directory / "trainer.json")
    return ckpt


def load_weights(module: torch.nn.Module, tensors: dict, path) -> None:
    """``module.load_state_dict(tensors)``; tensors that do not fit the module (names, shapes) are an
    InputError naming ``path`` (the weights file) and the first misfit."""
    try:
        module.load_state_dict(tensors)
    except RuntimeError as exc:
        problems = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()] or [str(exc)]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"the weights do not fit the model described in config.json: "
                         f"{problems[0][:300]}{more}", path) from None


def is_resumable(directory) -> bool:
    directory = Path(directory)
    return (directory / "optimizer.safetensors").is_file() and (directory / "trainer.json").is_file()
