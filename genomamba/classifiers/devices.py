"""Which device a classifier runs on: names a user may give, the torch device they mean, and the CPU
threads a classifier scores with."""

from __future__ import annotations

import re

from ..errors import ConfigError

DEVICE = re.compile(r"auto|cpu|cuda(?::(?P<index>\d+))?")
# the precisions of a neural model's matrix products on the CPU (genomamba.kernels.cpu_inference's
# PRECISIONS, named here too so that parsing a command's arguments does not import torch and numba)
CPU_PRECISIONS = ("float32", "bfloat16")


def check_device(name: str, what: str = "device") -> str:
    """``name`` if it is auto, cpu, cuda or cuda:N and this machine has that device, else a
    ConfigError saying why (``what``: how the user gave it, for the message)."""
    match = DEVICE.fullmatch(name)
    if match is None:
        raise ConfigError(f"{what} {name!r} is not one of auto, cpu, cuda, cuda:N")
    if name.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"{what} {name!r}: CUDA is not available on this machine")
        count = torch.cuda.device_count()
        if match["index"] is not None and int(match["index"]) >= count:
            raise ConfigError(f"{what} {name!r}: this machine has {count} CUDA device(s), "
                              f"cuda:0 to cuda:{count - 1}")
    return name


def resolve_device(name: str):
    """The torch device of auto (cuda if available, else cpu), cpu, cuda or cuda:N; asking for CUDA
    where there is none is a ConfigError."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for but CUDA is not available")
    return torch.device(name)


def use_cpu(classifier, threads: int = 0, precision: str = "float32") -> None:
    """Score on ``threads`` intra-op CPU threads (0: every available core), with matrix products in
    ``precision`` (genomamba.kernels.cpu_inference.set_precision), when ``classifier`` is a neural
    model on the CPU, or a combined model with such a member; classifiers without a torch device, or
    on a GPU, are left alone."""
    members = getattr(classifier, "members", None)
    if members is not None:
        for member in members:
            use_cpu(member.classifier, threads, precision)
        return
    device = getattr(classifier, "device", None)
    if device is None or getattr(device, "type", device) != "cpu":
        return
    import torch

    from ..kernels import cpu_inference

    torch.set_num_threads(threads or cpu_inference.available_cores())
    cpu_inference.set_precision(precision)
