"""The memory layout of (batch, dim, L) activations.

Two layouts reach the kernels: channels-first (contiguous (batch, dim, L)) and channels-last (the
transposed view of a contiguous (batch, L, dim) tensor, which is what a Linear layer writes). The
kernels index every tensor through its strides, and write their large outputs in the layout of the
input they follow, so that a channels-last model passes its activations from projection to kernel
and back without a copy.
"""

from __future__ import annotations

import torch


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether the (batch, dim, L) tensor ``x`` runs along channels (stride 1 over dim)."""
    return x.dim() == 3 and x.shape[1] > 1 and x.stride(1) == 1 and x.stride(2) >= x.shape[1]


def empty_like_layout(like: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """An uninitialised (batch, dim, L) tensor in ``like``'s layout (channels-last or contiguous)."""
    batch, dim, L = like.shape
    dtype = like.dtype if dtype is None else dtype
    if is_channels_last(like):
        return torch.empty(batch, L, dim, device=like.device, dtype=dtype).transpose(1, 2)
    return torch.empty(batch, dim, L, device=like.device, dtype=dtype)
