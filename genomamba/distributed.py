"""Data-parallel training across processes started by ``torchrun``: which rank this process is, its
device, and the process group.

``torchrun --nproc-per-node N`` (or ``srun`` + ``torchrun`` on SLURM) starts N copies of a command
with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their
environment. With more than one rank, ``process_group(device)`` joins them: NCCL where the device is
a GPU, gloo on CPUs. Without those variables (or with a world of one) nothing here starts anything and
every function answers as for a single process, so a plain run is untouched.

Rank r trains on CUDA device ``LOCAL_RANK`` of its node. The training loop (``genomamba.train``) sees
an initialised process group and trains data-parallel across it; only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist

from .errors import ConfigError

ENVIRONMENT = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _environment_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer (set by torchrun)") from None


def launched() -> bool:
    """Whether this process is one of several started by torchrun."""
    return all(name in os.environ for name in ENVIRONMENT) and _environment_int("WORLD_SIZE") > 1


def active() -> bool:
    """Whether a process group of several ranks is running (training is data-parallel)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    if active():
        return dist.get_world_size()
    return _environment_int("WORLD_SIZE") if launched() else 1


def rank() -> int:
    if active():
        return dist.get_rank()
    return _environment_int("RANK") if launched() else 0


def is_main() -> bool:
    """Rank 0, the one that logs, writes checkpoints and the model, and calibrates."""
    return rank() == 0


def rank_device(device: torch.device) -> torch.device:
    """This rank's device: CUDA device ``LOCAL_RANK`` where ``device`` is CUDA and the run is
    launched by torchrun with several ranks; ``device`` otherwise."""
    if device.type != "cuda" or not launched():
        return device
    local = _environment_int("LOCAL_RANK")
    count = torch.cuda.device_count()
    if local >= count:
        raise ConfigError(f"rank {rank()} is local rank {local} of its node, which has {count} CUDA "
                          f"device(s): start at most {count} processes per node (torchrun --nproc-per-node)")
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


@contextlib.contextmanager
def process_group(device: torch.device):
    """Join the other ranks (NCCL on CUDA, gloo on CPU) for the duration of the block; nothing
    without torchrun's environment."""
    if not launched() or active():
        yield
        return
    if not dist.is_available():
        raise ConfigError("this torch has no torch.distributed: data-parallel training is not possible")
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _reduce(value: float, op, device) -> float:
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=op)
    return float(tensor.item())


def total(value: float, device) -> float:
    """The sum of ``value`` over the ranks (``value`` itself in a single process)."""
    return _reduce(value, dist.ReduceOp.SUM, device) if active() else value


def mean(value: float, device) -> float:
    """The mean of ``value`` over the ranks (``value`` itself in a single process)."""
    return total(value, device) / world_size() if active() else value


def any_rank(flag: bool, device) -> bool:
    """True on every rank when ``flag`` is true on any (all ranks take the same decision)."""
    return bool(_reduce(float(flag), dist.ReduceOp.MAX, device)) if active() else flag
