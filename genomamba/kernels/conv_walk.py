"""The causal conv walking along L: the kernels for channels-last inputs (the model's).

Each program walks a segment of positions, one row of BLOCK_D channels per step, with the last
WIDTH - 1 inputs (and in the backward the next WIDTH - 1 pre-activation gradients) carried in
registers, so every value is loaded and activated once.
In lags: out_p = act(bias + sum_k v_k X_{p-k}), v_k = w_{WIDTH-1-k}, X_q = x_q for q >= 0 and the
initial states for -(WIDTH-1) <= q < 0.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .conv_common import _program_channels, _tap
from .launch import fast_launch


@triton.jit
def _x_at(x_row, init_row, in_d, q, L, stride_x_len, stride_init_len, WIDTH: tl.constexpr):
    """X_q for this program's channels as fp32 (zero outside [-(WIDTH-1), L)); q: a scalar."""
    at = q + tl.zeros(in_d.shape, tl.int32)   # masks as vectors (Triton's interpreter needs them)
    v = tl.load(x_row + q.to(tl.int64) * stride_x_len, mask=in_d & (at >= 0) & (at < L),
                other=0.0).to(tl.float32)
    if WIDTH > 1:
        v += tl.load(init_row + (at + WIDTH - 1) * stride_init_len,
                     mask=in_d & (at < 0) & (at >= 1 - WIDTH), other=0.0).to(tl.float32)
    return v


@fast_launch
@triton.jit
def _conv_fwd_walk_kernel(
        x_ptr, init_ptr, w_ptr, bias_ptr, out_ptr,
        dim, L, n_dblocks, segment,
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        stride_w_dim, stride_w_width,
        stride_out_batch, stride_out_dim, stride_out_len,
        WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr):
    """out at positions [s0, s0 + segment) of BLOCK_D channels, one position per step."""
    b, offs_d, mask_d, bias = _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D, HAS_BIAS)
    x_row = x_ptr + b * stride_x_batch + offs_d * stride_x_dim
    init_row = init_ptr + b * stride_init_batch + offs_d * stride_init_dim
    out_row = out_ptr + b * stride_out_batch + offs_d * stride_out_dim
    v0 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 1, WIDTH)
    v1 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 2, WIDTH)
    v2 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 3, WIDTH)
    v3 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 4, WIDTH)
    s0 = tl.program_id(1) * segment
    x1 = _x_at(x_row, init_row, mask_d, s0 - 1, L, stride_x_len, stride_init_len, WIDTH)
    x2 = _x_at(x_row, init_row, mask_d, s0 - 2, L, stride_x_len, stride_init_len, WIDTH)
    x3 = _x_at(x_row, init_row, mask_d, s0 - 3, L, stride_x_len, stride_init_len, WIDTH)
    x_at = x_row + s0.to(tl.int64) * stride_x_len   # pointers step on: 64-bit along L
    out_at = out_row + s0.to(tl.int64) * stride_out_len
    for _ in range(s0, tl.minimum(s0 + segment, L)):
        x0 = tl.load(x_at, mask=mask_d, other=0.0).to(tl.float32)
        out = bias + v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3
        if SILU:
            out = out * tl.sigmoid(out)
        tl.store(out_at, out.to(out_ptr.dtype.element_ty), mask=mask_d)
        x3, x2, x1 = x2, x1, x0
        x_at += stride_x_len
        out_at += stride_out_len


@fast_launch
@triton.jit
def _conv_bwd_walk_kernel(
        x_ptr, init_ptr, w_ptr, bias_ptr, dout_ptr, dfinal_ptr,
        dx_ptr, dinit_ptr, dw_ptr, dbias_ptr,
        dim, L, n_dblocks, segment,
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        stride_w_dim, stride_w_width,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_dx_batch, stride_dx_dim, stride_dx_len,
        WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr,
        HAS_DFINAL: tl.constexpr):
    """dX at positions [s0, s0 + segment) (the first segment also down to -(WIDTH-1): dinit),
    walking down from s0 + segment + WIDTH - 2: dX_q = sum_k v_k dpre_{q+k}, so the steps above the
    segment only compute the dpre it needs. The segment's partial sums of dw and dbias go to row
    (batch row, segment)."""
    b, offs_d, mask_d, bias = _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D, HAS_BIAS)
    x_row = x_ptr + b * stride_x_batch + offs_d * stride_x_dim
    init_row = init_ptr + b * stride_init_batch + offs_d * stride_init_dim
    dout_row = dout_ptr + b * stride_dout_batch + offs_d * stride_dout_dim
    dx_row = dx_ptr + b * stride_dx_batch + offs_d * stride_dx_dim
    state_row = b * stride_init_batch + offs_d * stride_init_dim   # dinit and dfinal
    v0 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 1, WIDTH)
    v1 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 2, WIDTH)
    v2 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 3, WIDTH)
    v3 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, WIDTH - 4, WIDTH)
    s0 = tl.program_id(1) * segment
    s1 = tl.minimum(s0 + segment, L)
    top = s1 + WIDTH - 2                  # the highest position whose dpre the segment needs
    low = tl.where(s0 == 0, 1 - WIDTH, s0)
    # X_{p-1}, X_{p-2} ahead of the first step (p = top); X_{p-3} is loaded each step
    x1 = _x_at(x_row, init_row, mask_d, top - 1, L, stride_x_len, stride_init_len, WIDTH)
    x2 = _x_at(x_row, init_row, mask_d, top - 2, L, stride_x_len, stride_init_len, WIDTH)
    x0 = _x_at(x_row, init_row, mask_d, top, L, stride_x_len, stride_init_len, WIDTH)
    g1 = tl.zeros([BLOCK_D], dtype=tl.float32)   # dpre_{p+1}, dpre_{p+2}, dpre_{p+3}
    g2 = tl.zeros([BLOCK_D], dtype=tl.float32)
    g3 = tl.zeros([BLOCK_D], dtype=tl.float32)
    dv0 = tl.zeros([BLOCK_D], dtype=tl.float32)
    dv1 = tl.zeros([BLOCK_D], dtype=tl.float32)
    dv2 = tl.zeros([BLOCK_D], dtype=tl.float32)
    dv3 = tl.zeros([BLOCK_D], dtype=tl.float32)
    dbias = tl.zeros([BLOCK_D], dtype=tl.float32)
    for i in range(top - low + 1):
        q = top - i                                 # this step's position; 64-bit in addresses
        p = q + tl.zeros([BLOCK_D], tl.int32)       # and a vector in masks (as in _x_at)
        x3 = _x_at(x_row, init_row, mask_d, q - 3, L, stride_x_len, stride_init_len, WIDTH)
        out_here = mask_d & (p >= 0) & (p < L)
        g0 = tl.load(dout_row + q.to(tl.int64) * stride_dout_len, mask=out_here,
                     other=0.0).to(tl.float32)
        if SILU:
            pre = bias + v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3
            sig = tl.sigmoid(pre)
            g0 = g0 * sig * (1.0 + pre * (1.0 - sig))
        dq = v0 * g0 + v1 * g1 + v2 * g2 + v3 * g3
        if HAS_DFINAL:   # the final states are X_{L-WIDTH+1} .. X_{L-1}
            dq += tl.load(dfinal_ptr + state_row + (p - L + WIDTH - 1) * stride_init_len,
                          mask=mask_d & (p >= L - WIDTH + 1) & (p < L), other=0.0)
        mine = p < s1
        tl.store(dx_row + q.to(tl.int64) * stride_dx_len, dq.to(dx_ptr.dtype.element_ty),
                 mask=mask_d & mine & (p >= 0))
        if WIDTH > 1:
            tl.store(dinit_ptr + state_row + (p + WIDTH - 1) * stride_init_len, dq,
                     mask=mask_d & (p < 0))
        own = tl.where(mask_d & mine, g0, 0.0)    # dw and dbias: this segment's outputs only
        dbias += own
        dv0 += own * x0
        dv1 += own * x1
        dv2 += own * x2
        dv3 += own * x3
        g3, g2, g1 = g2, g1, g0
        x0, x1, x2 = x1, x2, x3
    # this program's row of the partial sums, as the tiled backward lays them out
    row = (b * tl.num_programs(1) + tl.program_id(1)) * (WIDTH + 1) * dim + offs_d
    tl.store(dbias_ptr + row, dbias, mask=mask_d)
    tl.store(dw_ptr + row + (WIDTH - 1) * dim, dv0, mask=mask_d)
    if WIDTH > 1:
        tl.store(dw_ptr + row + (WIDTH - 2) * dim, dv1, mask=mask_d)
    if WIDTH > 2:
        tl.store(dw_ptr + row + (WIDTH - 3) * dim, dv2, mask=mask_d)
    if WIDTH > 3:
        tl.store(dw_ptr + row + (WIDTH - 4) * dim, dv3, mask=mask_d)
