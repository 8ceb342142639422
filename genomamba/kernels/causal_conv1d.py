"""The depthwise causal conv1d with carried state: Triton kernels (forward and backward), their
launcher and autograd function. The PyTorch reference is ``reference.causal_conv1d_ref``.

xc = concat(initial_states, x) along L (width-1 + L columns);
out_p = act(bias + sum_k w_k xc_{p+k}).
The backward walks xc positions j: dxc_j = sum_k w_k dpre_{j-k}, where dpre is recomputed from x;
positions before width-1 are the gradient of the initial states.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .layout import empty_like_layout


@triton.jit
def _xc(x_ptr, init_ptr, b, offs_d, mask_d, i, L,
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        WIDTH: tl.constexpr):
    """xc at column indices i (BLOCK_D, BLOCK_L) as fp32; zero outside [0, L + WIDTH - 1)."""
    in_x = (i >= WIDTH - 1) & (i < L + WIDTH - 1)
    in_init = (i >= 0) & (i < WIDTH - 1)
    xv = tl.load(x_ptr + b * stride_x_batch + offs_d[:, None] * stride_x_dim
                 + (i - (WIDTH - 1)) * stride_x_len,
                 mask=mask_d[:, None] & in_x, other=0.0).to(tl.float32)
    iv = tl.load(init_ptr + b * stride_init_batch + offs_d[:, None] * stride_init_dim
                 + i * stride_init_len, mask=mask_d[:, None] & in_init, other=0.0).to(tl.float32)
    return xv + iv


@triton.jit
def _pre(x_ptr, init_ptr, w_ptr, b, offs_d, mask_d, p, bias, L,
         stride_x_batch, stride_x_dim, stride_x_len,
         stride_init_batch, stride_init_dim, stride_init_len,
         stride_w_dim, stride_w_width, WIDTH: tl.constexpr):
    """Pre-activation at output positions p."""
    acc = tl.zeros(p.shape, dtype=tl.float32) + bias[:, None]
    for m in tl.static_range(WIDTH):
        wm = tl.load(w_ptr + offs_d * stride_w_dim + m * stride_w_width, mask=mask_d,
                     other=0.0).to(tl.float32)
        acc += wm[:, None] * _xc(x_ptr, init_ptr, b, offs_d, mask_d, p + m, L,
                                 stride_x_batch, stride_x_dim, stride_x_len,
                                 stride_init_batch, stride_init_dim, stride_init_len, WIDTH)
    return acc


@triton.jit
def _program_tile(bias_ptr, dim, n_dblocks, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
                  HAS_BIAS: tl.constexpr):
    """This program's batch row, channels (and mask), (BLOCK_D, BLOCK_L) positions and bias."""
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    offs_d = (pid % n_dblocks) * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < dim
    pos = (tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)[None, :]
           + tl.zeros([BLOCK_D, 1], tl.int32))
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    return b, offs_d, mask_d, pos, bias


@triton.jit
def _conv_fwd_kernel(
        # inputs (bias: None unless HAS_BIAS), output
        x_ptr, init_ptr, w_ptr, bias_ptr, out_ptr,
        # sizes
        dim, L, n_dblocks,
        # strides
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        stride_w_dim, stride_w_width,
        stride_out_batch, stride_out_dim, stride_out_len,
        # tile and options
        WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
        HAS_BIAS: tl.constexpr, SILU: tl.constexpr):
    """out over one (BLOCK_D, BLOCK_L) tile: act(bias + sum_k w_k xc_{p+k})."""
    b, offs_d, mask_d, p, bias = _program_tile(bias_ptr, dim, n_dblocks, BLOCK_D, BLOCK_L, HAS_BIAS)
    out = _pre(x_ptr, init_ptr, w_ptr, b, offs_d, mask_d, p, bias, L,
               stride_x_batch, stride_x_dim, stride_x_len,
               stride_init_batch, stride_init_dim, stride_init_len,
               stride_w_dim, stride_w_width, WIDTH)
    if SILU:
        out = out * tl.sigmoid(out)
    tl.store(out_ptr + b * stride_out_batch + offs_d[:, None] * stride_out_dim + p * stride_out_len,
             out.to(out_ptr.dtype.element_ty), mask=mask_d[:, None] & (p < L))


@triton.jit
def _conv_bwd_kernel(
        # inputs (bias, dfinal: None unless their HAS_ flag)
        x_ptr, init_ptr, w_ptr, bias_ptr, dout_ptr, dfinal_ptr,
        # outputs: dx, dinit; per (batch row, tile) partial sums of dw and dbias
        dx_ptr, dinit_ptr, dw_ptr, dbias_ptr,
        # sizes
        dim, L, n_dblocks,
        # strides
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        stride_w_dim, stride_w_width,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_dx_batch, stride_dx_dim, stride_dx_len,
        # tile and options
        WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
        BLOCK_W: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr,
        HAS_DFINAL: tl.constexpr):
    """dx and dinit over one tile of xc positions j, and its partial sums of dw and dbias."""
    b, offs_d, mask_d, j, bias = _program_tile(bias_ptr, dim, n_dblocks, BLOCK_D, BLOCK_L, HAS_BIAS)
    wcols = tl.arange(0, BLOCK_W)
    dw = tl.zeros([BLOCK_D, BLOCK_W], dtype=tl.float32)
    dbias = tl.zeros([BLOCK_D], dtype=tl.float32)
    dxc = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    for k in tl.static_range(WIDTH):
        p = j - k
        valid = mask_d[:, None] & (p >= 0) & (p < L)
        dp = tl.load(dout_ptr + b * stride_dout_batch + offs_d[:, None] * stride_dout_dim
                     + p * stride_dout_len, mask=valid, other=0.0).to(tl.float32)
        if SILU:
            pre = _pre(x_ptr, init_ptr, w_ptr, b, offs_d, mask_d, p, bias, L,
                       stride_x_batch, stride_x_dim, stride_x_len,
               stride_init_batch, stride_init_dim, stride_init_len,
                       stride_w_dim, stride_w_width, WIDTH)
            s = tl.sigmoid(pre)
            dp = dp * s * (1.0 + pre * (1.0 - s))
        wk = tl.load(w_ptr + offs_d * stride_w_dim + k * stride_w_width, mask=mask_d,
                     other=0.0).to(tl.float32)
        dxc += wk[:, None] * dp
        if k == 0:  # each output position once: weight and bias gradients
            dbias += tl.sum(dp, axis=1)
            for m in tl.static_range(WIDTH):
                xm = _xc(x_ptr, init_ptr, b, offs_d, mask_d, p + m, L,
                         stride_x_batch, stride_x_dim, stride_x_len,
                         stride_init_batch, stride_init_dim, stride_init_len, WIDTH)
                dw += tl.where(wcols[None, :] == m, tl.sum(dp * xm, axis=1)[:, None], 0.0)
    if HAS_DFINAL:  # the final states are xc[L : L + WIDTH - 1]
        fin = (j >= L) & (j < L + WIDTH - 1)
        dxc += tl.load(dfinal_ptr + b * dim * (WIDTH - 1) + offs_d[:, None] * (WIDTH - 1) + (j - L),
                       mask=mask_d[:, None] & fin, other=0.0)
    in_x = mask_d[:, None] & (j >= WIDTH - 1) & (j < L + WIDTH - 1)
    tl.store(dx_ptr + b * stride_dx_batch + offs_d[:, None] * stride_dx_dim
             + (j - (WIDTH - 1)) * stride_dx_len, dxc.to(dx_ptr.dtype.element_ty), mask=in_x)
    in_init = mask_d[:, None] & (j < WIDTH - 1)
    tl.store(dinit_ptr + b * dim * (WIDTH - 1) + offs_d[:, None] * (WIDTH - 1) + j, dxc,
             mask=in_init)
    row = b * tl.num_programs(1) + tl.program_id(1)
    tl.store(dw_ptr + row * dim * WIDTH + offs_d[:, None] * WIDTH + wcols[None, :], dw,
             mask=mask_d[:, None] & (wcols[None, :] < WIDTH))
    tl.store(dbias_ptr + row * dim + offs_d, dbias, mask=mask_d)


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
        out = empty_like_layout(x)   # channels-last in, channels-last out
        n_dblocks = triton.cdiv(dim, BLOCK_D)
        grid = (batch * n_dblocks, triton.cdiv(L, BLOCK_L))
        _conv_fwd_kernel[grid](x, init, weight, bias, out,
                               dim, L, n_dblocks, *x.stride(), *init.stride(), *weight.stride(),
                               *out.stride(), WIDTH=width, BLOCK_D=BLOCK_D, BLOCK_L=BLOCK_L,
                               HAS_BIAS=bias is not None, SILU=silu)
        ctx.save_for_backward(x, weight, bias, init)
        ctx.silu, ctx.has_init = silu, initial_states is not None
        return out, _final_states(x, init, width)

    @staticmethod
    def backward(ctx, dout, dfinal):
        x, weight, bias, init = ctx.saved_tensors
        batch, dim, L = x.shape
        width = weight.shape[-1]
        dout = dout if dout is not None else torch.zeros_like(x)
        dfinal = dfinal.float().contiguous() if dfinal is not None and width > 1 else None
        n_dblocks = triton.cdiv(dim, BLOCK_D)
        n_tiles = triton.cdiv(L + width - 1, BWD_BLOCK_L)
        f32 = dict(device=x.device, dtype=torch.float32)
        dx = empty_like_layout(x)
        dinit = torch.empty(batch, dim, max(width - 1, 1), **f32)
        dw = torch.empty(batch * n_tiles, dim, width, **f32)
        dbias = torch.empty(batch * n_tiles, dim, **f32)
        _conv_bwd_kernel[(batch * n_dblocks, n_tiles)](
            x, init, weight, bias, dout, dfinal, dx, dinit, dw, dbias, dim, L, n_dblocks,
            *x.stride(), *init.stride(), *weight.stride(), *dout.stride(), *dx.stride(),
            WIDTH=width, BLOCK_D=BLOCK_D, BLOCK_L=BWD_BLOCK_L, BLOCK_W=triton.next_power_of_2(width),
            HAS_BIAS=bias is not None, SILU=ctx.silu, HAS_DFINAL=dfinal is not None)
        return (dx, dw.sum(0).to(weight.dtype),
                dbias.sum(0).to(bias.dtype) if bias is not None else None,
                dinit[..., :width - 1].to(init.dtype) if ctx.has_init else None, None)


def causal_conv1d_triton(x, weight, bias=None, *, initial_states=None, return_final_states=False,
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
        return causal_conv1d_ref(x, weight, bias, initial_states=initial_states,
                                 return_final_states=return_final_states, activation=activation)
    out, final = _CausalConv1d.apply(x, weight, bias, initial_states, activation is not None)
    return (out, final) if return_final_states else out
