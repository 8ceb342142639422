"""The causal conv on (channels x positions) tiles: the kernels for contiguous (batch, dim, L) inputs.

The forward adds the width shifted xc tiles; the backward walks tiles of xc positions j:
dxc_j = sum_k w_k dpre_{j-k}, with dpre recomputed from the xc tiles at j - 3 .. j + 3, each loaded
once; positions before width - 1 are the gradient of the initial states.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .conv_common import _program_channels, _tap
from .launch import fast_launch


@triton.jit
def _xc(x_row, init_row, in_d, i, L, stride_x_len, stride_init_len, WIDTH: tl.constexpr, near_start):
    """xc at columns i as fp32 (a (BLOCK_D, BLOCK_L) tile), zero outside [0, L + WIDTH - 1).
    x_row, init_row: (BLOCK_D, 1) pointers to this program's channels of x and of the initial states;
    in_d: (BLOCK_D, 1) channel mask; near_start: whether i may reach the initial states' columns (only
    then are they loaded)."""
    v = tl.load(x_row + (i - (WIDTH - 1)) * stride_x_len,
                mask=in_d & (i >= WIDTH - 1) & (i < L + WIDTH - 1), other=0.0).to(tl.float32)
    if near_start:
        v += tl.load(init_row + i * stride_init_len, mask=in_d & (i >= 0) & (i < WIDTH - 1),
                     other=0.0).to(tl.float32)
    return v


@triton.jit
def _shifted(x_row, init_row, in_d, j, s: tl.constexpr, L, stride_x_len, stride_init_len,
             WIDTH: tl.constexpr, near_start):
    """xc at columns j + s, for the shifts |s| < WIDTH that the backward reads; zero for the others."""
    if s > -WIDTH and s < WIDTH:
        v = _xc(x_row, init_row, in_d, j + s, L, stride_x_len, stride_init_len, WIDTH, near_start)
    else:
        v = tl.zeros((in_d & (j >= 0)).shape, tl.float32)
    return v


@fast_launch
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
    """out over one (BLOCK_D, BLOCK_L) tile of positions p: act(bias + sum_m w_m xc_{p+m})."""
    b, offs_d, mask_d, bias = _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D, HAS_BIAS)
    in_d = mask_d[:, None]
    x_row = x_ptr + b * stride_x_batch + offs_d[:, None] * stride_x_dim
    init_row = init_ptr + b * stride_init_batch + offs_d[:, None] * stride_init_dim
    p0 = tl.program_id(1) * BLOCK_L
    p = p0 + tl.arange(0, BLOCK_L)[None, :]
    out = bias[:, None] + tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    for m in tl.static_range(WIDTH):
        out += (_tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, m, WIDTH)[:, None]
                * _xc(x_row, init_row, in_d, p + m, L, stride_x_len, stride_init_len, WIDTH,
                      p0 < WIDTH - 1))
    if SILU:
        out = out * tl.sigmoid(out)
    tl.store(out_ptr + b * stride_out_batch + offs_d[:, None] * stride_out_dim + p * stride_out_len,
             out.to(out_ptr.dtype.element_ty), mask=in_d & (p < L))


@triton.jit
def _pre(k: tl.constexpr, bias, w0, w1, w2, w3, xm3, xm2, xm1, x0, xp1, xp2, xp3):
    """The pre-activation at positions j - k from xc at j - 3 .. j + 3: bias + sum_m w_m xc_{j-k+m}."""
    if k == 0:
        pre = bias + w0 * x0 + w1 * xp1 + w2 * xp2 + w3 * xp3
    elif k == 1:
        pre = bias + w0 * xm1 + w1 * x0 + w2 * xp1 + w3 * xp2
    elif k == 2:
        pre = bias + w0 * xm2 + w1 * xm1 + w2 * x0 + w3 * xp1
    else:
        pre = bias + w0 * xm3 + w1 * xm2 + w2 * xm1 + w3 * x0
    return pre


@fast_launch
@triton.jit
def _conv_bwd_kernel(
        # inputs (bias, dfinal: None unless their HAS_ flag)
        x_ptr, init_ptr, w_ptr, bias_ptr, dout_ptr, dfinal_ptr,
        # outputs: dx, dinit (in init's layout); per (batch row, program along L) partial sums
        # of dw and dbias, rows of (WIDTH + 1, dim) (dw's taps, then dbias)
        dx_ptr, dinit_ptr, dw_ptr, dbias_ptr,
        # sizes
        dim, L, n_dblocks, tiles_per_program,
        # strides
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        stride_w_dim, stride_w_width,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_dx_batch, stride_dx_dim, stride_dx_len,
        # tile and options
        WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
        HAS_BIAS: tl.constexpr, SILU: tl.constexpr, HAS_DFINAL: tl.constexpr):
    """dx and dinit over tiles_per_program (BLOCK_D, BLOCK_L) tiles of xc positions j, and the
    partial sums of dw and dbias over them.

    dxc_j = sum_k w_k dpre_{j-k}, dpre_p = dout_p act'(pre_p). The pre-activations at j - k for the
    WIDTH values of k come from the xc tiles at j - (WIDTH-1) .. j + (WIDTH-1), each loaded once, and
    dw_m = sum_j dpre_j xc_{j+m} from the same tiles (k = 0 visits each output position once).
    """
    b, offs_d, mask_d, bias = _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D, HAS_BIAS)
    in_d = mask_d[:, None]
    x_row = x_ptr + b * stride_x_batch + offs_d[:, None] * stride_x_dim
    init_row = init_ptr + b * stride_init_batch + offs_d[:, None] * stride_init_dim
    dout_row = dout_ptr + b * stride_dout_batch + offs_d[:, None] * stride_dout_dim
    dx_row = dx_ptr + b * stride_dx_batch + offs_d[:, None] * stride_dx_dim
    state_row = b * stride_init_batch + offs_d[:, None] * stride_init_dim   # dinit and dfinal
    bias = bias[:, None]
    w0 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 0, WIDTH)[:, None]
    w1 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 1, WIDTH)[:, None]
    w2 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 2, WIDTH)[:, None]
    w3 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 3, WIDTH)[:, None]
    # the weights' and bias' gradients, summed over L once at the end (a sum along L per tile
    # would cross threads every tile)
    dw0 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dw1 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dw2 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dw3 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dbias = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    for t in range(tiles_per_program):
        j0 = (tl.program_id(1) * tiles_per_program + t) * BLOCK_L
        j = j0 + tl.arange(0, BLOCK_L)[None, :]
        near = j0 < 2 * (WIDTH - 1)
        xm3 = _shifted(x_row, init_row, in_d, j, -3, L, stride_x_len, stride_init_len, WIDTH, near)
        xm2 = _shifted(x_row, init_row, in_d, j, -2, L, stride_x_len, stride_init_len, WIDTH, near)
        xm1 = _shifted(x_row, init_row, in_d, j, -1, L, stride_x_len, stride_init_len, WIDTH, near)
        x0 = _shifted(x_row, init_row, in_d, j, 0, L, stride_x_len, stride_init_len, WIDTH, near)
        xp1 = _shifted(x_row, init_row, in_d, j, 1, L, stride_x_len, stride_init_len, WIDTH, near)
        xp2 = _shifted(x_row, init_row, in_d, j, 2, L, stride_x_len, stride_init_len, WIDTH, near)
        xp3 = _shifted(x_row, init_row, in_d, j, 3, L, stride_x_len, stride_init_len, WIDTH, near)
        dxc = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
        for k in tl.static_range(WIDTH):
            p = j - k
            dp = tl.load(dout_row + p * stride_dout_len, mask=in_d & (p >= 0) & (p < L),
                         other=0.0).to(tl.float32)
            if SILU:
                pre = _pre(k, bias, w0, w1, w2, w3, xm3, xm2, xm1, x0, xp1, xp2, xp3)
                s = tl.sigmoid(pre)
                dp = dp * s * (1.0 + pre * (1.0 - s))
            if k == 0:   # each output position once: the weights' and bias' gradients
                dxc += w0 * dp
                dbias += dp
                dw0 += dp * x0
                dw1 += dp * xp1
                dw2 += dp * xp2
                dw3 += dp * xp3
            elif k == 1:
                dxc += w1 * dp
            elif k == 2:
                dxc += w2 * dp
            else:
                dxc += w3 * dp
        if HAS_DFINAL:  # the final states are xc[L : L + WIDTH - 1]
            dxc += tl.load(dfinal_ptr + state_row + (j - L) * stride_init_len,
                           mask=in_d & (j >= L) & (j < L + WIDTH - 1), other=0.0)
        tl.store(dx_row + (j - (WIDTH - 1)) * stride_dx_len, dxc.to(dx_ptr.dtype.element_ty),
                 mask=in_d & (j >= WIDTH - 1) & (j < L + WIDTH - 1))
        if near:
            tl.store(dinit_ptr + state_row + j * stride_init_len, dxc, mask=in_d & (j < WIDTH - 1))
    # this program's row of the (rows, WIDTH + 1, dim) partial sums (dw's WIDTH taps, then dbias;
    # dbias_ptr points at the first row's dbias)
    row = (b * tl.num_programs(1) + tl.program_id(1)) * (WIDTH + 1) * dim + offs_d
    tl.store(dbias_ptr + row, tl.sum(dbias, axis=1), mask=mask_d)
    tl.store(dw_ptr + row, tl.sum(dw0, axis=1), mask=mask_d)
    if WIDTH > 1:
        tl.store(dw_ptr + row + dim, tl.sum(dw1, axis=1), mask=mask_d)
    if WIDTH > 2:
        tl.store(dw_ptr + row + 2 * dim, tl.sum(dw2, axis=1), mask=mask_d)
    if WIDTH > 3:
        tl.store(dw_ptr + row + 3 * dim, tl.sum(dw3, axis=1), mask=mask_d)
