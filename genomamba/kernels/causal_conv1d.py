"""The depthwise causal conv1d with carried state: the launcher and autograd function of its Triton
kernels, tiles for contiguous inputs (``conv_tiled``) and walks along L for channels-last ones
(``conv_walk``). The PyTorch reference is ``reference.causal_conv1d_ref``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .conv_common import MAX_WIDTH
from .conv_tiled import _conv_bwd_kernel, _conv_fwd_kernel
from .conv_walk import _conv_bwd_walk_kernel, _conv_fwd_walk_kernel
from .launch import cdiv
from .layout import empty_like_layout, is_channels_last
from .scan_plan import sm_count

__all__ = ["MAX_WIDTH", "causal_conv1d_triton", "check_arguments", "conv_backward",
           "conv_forward"]


# Contiguous inputs: tiles of BLOCK_D channels x BLOCK_L positions, num_warps; the backward's
# programs each take tiles_per_program tiles along L, as many as keep PROGRAMS_PER_SM programs on
# each multiprocessor. Channels-last inputs: rows of WALK_BLOCK_D channels, WALK_WARPS warps, in
# segments of at least MIN_SEGMENT positions, as many as keep WALK_PROGRAMS_PER_SM programs on each.
FWD_TILE = (64, 32, 4)
BWD_TILE = (32, 32, 8)
PROGRAMS_PER_SM = 8
WALK_BLOCK_D, WALK_WARPS, MIN_SEGMENT, WALK_PROGRAMS_PER_SM = 256, 1, 32, 16


def _walk_plan(x, batch, dim, L):
    """(n_dblocks, segment, n_segments) of the channels-last kernels."""
    n_dblocks = cdiv(dim, WALK_BLOCK_D)
    rows = batch * n_dblocks
    segments = cdiv(WALK_PROGRAMS_PER_SM * sm_count(x.device), rows)
    segment = max(MIN_SEGMENT, cdiv(L, segments))
    return n_dblocks, segment, cdiv(L, segment)


def _check_tiled(x):
    """The tiled kernels index one batch row of a contiguous x with 32 bits (the walking kernels, for
    channels-last x, step along L with 64-bit pointers)."""
    if x.shape[1] * x.shape[2] >= 2 ** 31:
        raise ValueError("the Triton conv indexes one batch row of a contiguous x with 32 bits: "
                         "dim * L must be below 2^31 (a channels-last x has no such limit)")


def _like(x, t):
    """The (batch, dim, k) tensor ``t`` laid out as ``x``: channels-last where x is (a copy only
    where t is not), so that the kernels' loads of x, the states and the weights (k = width, passed
    as a batch of one) share one register layout instead of converting through shared memory."""
    if is_channels_last(x):
        return t.transpose(1, 2).contiguous().transpose(1, 2)
    return t.contiguous()


def _final_states(x, init, width):
    """The last width-1 columns of concat(init, x)."""
    keep = width - 1
    if keep == 0:
        return x.new_zeros(x.shape[0], x.shape[1], 0)
    if x.shape[-1] >= keep:
        return x[..., x.shape[-1] - keep:].contiguous()
    return torch.cat([init[..., x.shape[-1]:].to(x.dtype), x], dim=-1)


@dataclass
class _ForBackward:
    """What the conv's backward needs: x, the weight in x's layout, the bias, the initial states
    (zeros where none was given) and the options."""
    x: torch.Tensor
    w: torch.Tensor
    bias: torch.Tensor | None
    init: torch.Tensor
    silu: bool
    has_init: bool


def conv_forward(x, weight, bias, initial_states, silu):
    """(out, final states, what ``conv_backward`` needs): the launch of a forward kernel."""
    batch, dim, L = x.shape
    width = weight.shape[-1]
    # at least one column, so that no kernel argument is an empty (null) buffer
    if initial_states is not None and width > 1:
        init = _like(x, initial_states)
    else:   # zeros, made in x's layout
        k, like = max(width - 1, 1), dict(device=x.device, dtype=x.dtype)
        init = (torch.zeros(batch, k, dim, **like).transpose(1, 2) if is_channels_last(x)
                else torch.zeros(batch, dim, k, **like))
    out = empty_like_layout(x)   # channels-last in, channels-last out
    w = _like(x, weight.unsqueeze(0))[0]
    args = (x, init, w, bias, out)
    strides = (*x.stride(), *init.stride(), *w.stride(), *out.stride())
    options = dict(WIDTH=width, HAS_BIAS=bias is not None, SILU=silu)
    if is_channels_last(x):
        n_dblocks, segment, n_segments = _walk_plan(x, batch, dim, L)
        _conv_fwd_walk_kernel[(batch * n_dblocks, n_segments)](
            *args, dim, L, n_dblocks, segment, *strides, BLOCK_D=WALK_BLOCK_D, **options,
            num_warps=WALK_WARPS)
    else:
        _check_tiled(x)
        block_d, block_l, warps = FWD_TILE
        n_dblocks = cdiv(dim, block_d)
        _conv_fwd_kernel[(batch * n_dblocks, cdiv(L, block_l))](
            *args, dim, L, n_dblocks, *strides, BLOCK_D=block_d, BLOCK_L=block_l, **options,
            num_warps=warps)
    saved = _ForBackward(x, w, bias, init, silu, initial_states is not None)
    return out, _final_states(x, init, width), saved


def conv_backward(saved, dout, dfinal, dx=None):
    """(dx, dweight, dbias, dinit) from the gradients of out and of the final states (either may be
    None); dx is written into ``dx`` where given (x's shape and layout)."""
    x, w, bias, init = saved.x, saved.w, saved.bias, saved.init
    batch, dim, L = x.shape
    width = w.shape[-1]
    dout = dout if dout is not None else torch.zeros_like(x)
    dfinal = _like(x, dfinal.float()) if dfinal is not None and width > 1 else None
    if is_channels_last(x):
        n_dblocks, per_program, splits = _walk_plan(x, batch, dim, L)
        block_d, warps, kernel, tile = WALK_BLOCK_D, WALK_WARPS, _conv_bwd_walk_kernel, {}
    else:
        block_d, block_l, warps = BWD_TILE
        n_dblocks = cdiv(dim, block_d)
        n_tiles = cdiv(L + width - 1, block_l)
        splits = min(n_tiles, cdiv(PROGRAMS_PER_SM * sm_count(x.device), batch * n_dblocks))
        per_program = cdiv(n_tiles, splits)
        splits = cdiv(n_tiles, per_program)
        kernel, tile = _conv_bwd_kernel, dict(BLOCK_L=block_l)
    f32 = dict(device=x.device, dtype=torch.float32)
    dx = empty_like_layout(x) if dx is None else dx
    dinit = torch.empty_like(init, dtype=torch.float32)
    # each program's partial sums of dw and dbias, in one buffer: one reduction sums both
    sums = torch.empty(batch * splits, width + 1, dim, **f32)
    kernel[(batch * n_dblocks, splits)](
        x, init, w, bias, dout, dfinal, dx, dinit, sums, sums[:, width], dim, L, n_dblocks,
        per_program,
        *x.stride(), *init.stride(), *w.stride(), *dout.stride(), *dx.stride(),
        WIDTH=width, BLOCK_D=block_d, **tile, HAS_BIAS=bias is not None, SILU=saved.silu,
        HAS_DFINAL=dfinal is not None, num_warps=warps)
    total = sums.sum(0)
    return (dx, total[:width].t().to(w.dtype),
            total[width].to(bias.dtype) if bias is not None else None,
            dinit[..., :width - 1].to(init.dtype) if saved.has_init else None)


class _CausalConv1d(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, weight, bias, initial_states, silu):
        out, final, saved = conv_forward(x, weight, bias, initial_states, silu)
        ctx.save_for_backward(saved.x, saved.w, saved.bias, saved.init)
        ctx.silu, ctx.has_init = silu, saved.has_init
        return out, final

    @staticmethod
    def backward(ctx, dout, dfinal):
        saved = _ForBackward(*ctx.saved_tensors, ctx.silu, ctx.has_init)
        return (*conv_backward(saved, dout, dfinal), None)


def check_arguments(x, weight, initial_states):
    """The shapes and width the Triton conv takes, or a ValueError."""
    if weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight must be (dim, width), got {tuple(weight.shape)}")
    width = weight.shape[-1]
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"the Triton conv takes widths 1 to {MAX_WIDTH}, not {width}")
    if initial_states is not None and initial_states.shape != (x.shape[0], x.shape[1], width - 1):
        raise ValueError("initial_states must be (batch, dim, width-1), "
                         f"got {tuple(initial_states.shape)}")


def causal_conv1d_triton(x, weight, bias=None, *, initial_states=None, return_final_states=False,
                         activation=None):
    """Triton causal conv1d with causal_conv1d's arguments plus carried, differentiable state."""
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"activation must be None, 'silu' or 'swish', not {activation!r}")
    check_arguments(x, weight, initial_states)
    if x.shape[-1] == 0:
        from .reference import causal_conv1d_ref
        return causal_conv1d_ref(x, weight, bias, initial_states=initial_states,
                                 return_final_states=return_final_states, activation=activation)
    out, final = _CausalConv1d.apply(x, weight, bias, initial_states, activation is not None)
    return (out, final) if return_final_states else out
