"""The models' precision on each device, one rule for training, scoring and the benchmarks."""

from __future__ import annotations

import contextlib

import torch


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA, plain float32 elsewhere. Without autocast's cache of the weights' bf16
    copies (CUDA graph capture cannot keep it; the model's weights are small to cast again)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()
