"""Autograd wrapper of the Triton depthwise causal conv1d with carried state."""

from __future__ import annotations

import torch
import triton

from .causal_conv1d_kernels import _conv_bwd_kernel, _conv_fwd_kernel

BLOCK_D = 16
BLOCK_L = 128      # forward tile
BWD_BLOCK_L = 32   # the backward recomputes width^2 shifted loads: smaller tiles, no spills


def _final_states(x, init, width):
    """The last width-1 columns of concat(init, x)."""
    keep = width - 1
    if keep == 0:
        return x.new_zeros(x.shape[0], x.shape[1], 0)
    if x.shape[-1] >= keep:
        return x[..., x.shape[-1] - keep:].contiguous()
    return torch.cat([init[..., x.shape[-1]:].to(x.dtype), x], dim=-1)


class _CausalConv1d(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, weight, bias, initial_states, silu):
        batch, dim, L = x.shape
        width = weight.shape[-1]
        # at least one column, so that no kernel argument is an empty (null) buffer
        init = (initial_states if initial_states is not None and width > 1
                else x.new_zeros(batch, dim, max(width - 1, 1)))
        out = torch.empty(batch, dim, L, device=x.device, dtype=x.dtype)
        n_dblocks = triton.cdiv(dim, BLOCK_D)
        grid = (batch * n_dblocks, triton.cdiv(L, BLOCK_L))
        _conv_fwd_kernel[grid](x, init, weight, bias if bias is not None else weight, out,
                               dim, L, n_dblocks, *x.stride(), *init.stride(), *weight.stride(),
                               *out.stride(), WIDTH=width, BLOCK_D=BLOCK_D, BLOCK_L=BLOCK_L,
                               HAS_BIAS=bias is not None, SILU=silu)
        ctx.save_for_backward(x, weight, bias, init)
        ctx.meta = (silu, initial_states is not None)
        return out, _final_states(x, init, width)

    @staticmethod
    def backward(ctx, dout, dfinal):
        x, weight, bias, init = ctx.saved_tensors
        silu, has_init = ctx.meta
        batch, dim, L = x.shape
        width = weight.shape[-1]
        dout = dout if dout is not None else torch.zeros_like(x)
        dfinal = dfinal.float().contiguous() if dfinal is not None and width > 1 else None
        n_dblocks = triton.cdiv(dim, BLOCK_D)
        n_tiles = triton.cdiv(L + width - 1, BWD_BLOCK_L)
        f32 = dict(device=x.device, dtype=torch.float32)
        dx = torch.empty(batch, dim, L, device=x.device, dtype=x.dtype)
        dinit = torch.empty(batch, dim, max(width - 1, 1), **f32)
        dw = torch.empty(batch * n_tiles, dim, width, **f32)
        dbias = torch.empty(batch * n_tiles, dim, **f32)
        _conv_bwd_kernel[(batch * n_dblocks, n_tiles)](
            x, init, weight, bias if bias is not None else weight, dout,
            dfinal if dfinal is not None else dx, dx, dinit, dw, dbias, dim, L, n_dblocks,
            *x.stride(), *init.stride(), *weight.stride(), *dout.stride(), WIDTH=width,
            BLOCK_D=BLOCK_D, BLOCK_L=BWD_BLOCK_L, BLOCK_W=triton.next_power_of_2(width),
            HAS_BIAS=bias is not None, SILU=silu, HAS_DFINAL=dfinal is not None)
        return (dx, dw.sum(0).to(weight.dtype),
                dbias.sum(0).to(bias.dtype) if bias is not None else None,
                dinit[..., :width - 1].to(init.dtype) if has_init else None, None)


def causal_conv1d_triton(x, weight, bias=None, initial_states=None, return_final_states=False,
                         activation=None):
    """Triton causal conv1d with causal_conv1d's arguments plus carried, differentiable state."""
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"activation must be None, 'silu' or 'swish', not {activation!r}")
    if weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight must be (dim, width), got {tuple(weight.shape)}")
    width = weight.shape[-1]
    if initial_states is not None and initial_states.shape != (x.shape[0], x.shape[1], width - 1):
        raise ValueError("initial_states must be (batch, dim, width-1), "
                         f"got {tuple(initial_states.shape)}")
    if x.shape[-1] == 0:
        from .reference import causal_conv1d_ref
        return causal_conv1d_ref(x, weight, bias, initial_states, return_final_states, activation)
    out, final = _CausalConv1d.apply(x, weight, bias, initial_states, activation is not None)
    return (out, final) if return_final_states else out
