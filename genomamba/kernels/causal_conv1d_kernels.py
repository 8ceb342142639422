"""Triton kernels of the depthwise causal conv1d with carried state (forward and backward).

xc = concat(initial_states, x) along L (width-1 + L columns); out_p = act(bias + sum_k w_k xc_{p+k}).
The backward walks xc positions j: dxc_j = sum_k w_k dpre_{j-k}, where dpre is recomputed from x;
positions before width-1 are the gradient of the initial states.
"""

import triton
import triton.language as tl


@triton.jit
def _xc(x_ptr, init_ptr, b, offs_d, mask_d, i, L, sx_b, sx_d, sx_l, si_b, si_d, si_l,
        WIDTH: tl.constexpr):
    """xc at column indices i (BLOCK_D, BLOCK_L) as fp32; zero outside [0, L + WIDTH - 1)."""
    in_x = (i >= WIDTH - 1) & (i < L + WIDTH - 1)
    in_init = (i >= 0) & (i < WIDTH - 1)
    xv = tl.load(x_ptr + b * sx_b + offs_d[:, None] * sx_d + (i - (WIDTH - 1)) * sx_l,
                 mask=mask_d[:, None] & in_x, other=0.0).to(tl.float32)
    iv = tl.load(init_ptr + b * si_b + offs_d[:, None] * si_d + i * si_l,
                 mask=mask_d[:, None] & in_init, other=0.0).to(tl.float32)
    return xv + iv


@triton.jit
def _pre(x_ptr, init_ptr, w_ptr, b, offs_d, mask_d, p, bias, L, sx_b, sx_d, sx_l, si_b, si_d,
         si_l, sw_d, sw_w, WIDTH: tl.constexpr):
    """Pre-activation at output positions p."""
    acc = tl.zeros(p.shape, dtype=tl.float32) + bias[:, None]
    for m in tl.static_range(WIDTH):
        wm = tl.load(w_ptr + offs_d * sw_d + m * sw_w, mask=mask_d, other=0.0).to(tl.float32)
        acc += wm[:, None] * _xc(x_ptr, init_ptr, b, offs_d, mask_d, p + m, L, sx_b, sx_d, sx_l,
                                 si_b, si_d, si_l, WIDTH)
    return acc


@triton.jit
def _program_tile(bias_ptr, dim, n_dblocks, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
                  HAS_BIAS: tl.constexpr):
    """This program's batch row, channels (and mask), (BLOCK_D, BLOCK_L) positions and bias."""
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    offs_d = (pid % n_dblocks) * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < dim
    pos = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)[None, :] + tl.zeros([BLOCK_D, 1], tl.int32)
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    return b, offs_d, mask_d, pos, bias


@triton.jit
def _conv_fwd_kernel(x_ptr, init_ptr, w_ptr, bias_ptr, out_ptr, dim, L, n_dblocks,
                     sx_b, sx_d, sx_l, si_b, si_d, si_l, sw_d, sw_w, so_b, so_d, so_l,
                     WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
                     HAS_BIAS: tl.constexpr, SILU: tl.constexpr):
    b, offs_d, mask_d, p, bias = _program_tile(bias_ptr, dim, n_dblocks, BLOCK_D, BLOCK_L, HAS_BIAS)
    out = _pre(x_ptr, init_ptr, w_ptr, b, offs_d, mask_d, p, bias, L, sx_b, sx_d, sx_l,
               si_b, si_d, si_l, sw_d, sw_w, WIDTH)
    if SILU:
        out = out * tl.sigmoid(out)
    tl.store(out_ptr + b * so_b + offs_d[:, None] * so_d + p * so_l,
             out.to(out_ptr.dtype.element_ty), mask=mask_d[:, None] & (p < L))


@triton.jit
def _conv_bwd_kernel(x_ptr, init_ptr, w_ptr, bias_ptr, dout_ptr, dfinal_ptr,
                     dx_ptr, dinit_ptr, dw_ptr, dbias_ptr, dim, L, n_dblocks,
                     sx_b, sx_d, sx_l, si_b, si_d, si_l, sw_d, sw_w, sg_b, sg_d, sg_l,
                     WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
                     BLOCK_W: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr,
                     HAS_DFINAL: tl.constexpr):
    b, offs_d, mask_d, j, bias = _program_tile(bias_ptr, dim, n_dblocks, BLOCK_D, BLOCK_L, HAS_BIAS)
    wcols = tl.arange(0, BLOCK_W)
    dw = tl.zeros([BLOCK_D, BLOCK_W], dtype=tl.float32)
    dbias = tl.zeros([BLOCK_D], dtype=tl.float32)
    dxc = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    for k in tl.static_range(WIDTH):
        p = j - k
        valid = mask_d[:, None] & (p >= 0) & (p < L)
        dp = tl.load(dout_ptr + b * sg_b + offs_d[:, None] * sg_d + p * sg_l, mask=valid,
                     other=0.0).to(tl.float32)
        if SILU:
            pre = _pre(x_ptr, init_ptr, w_ptr, b, offs_d, mask_d, p, bias, L, sx_b, sx_d, sx_l,
                       si_b, si_d, si_l, sw_d, sw_w, WIDTH)
            s = tl.sigmoid(pre)
            dp = dp * s * (1.0 + pre * (1.0 - s))
        wk = tl.load(w_ptr + offs_d * sw_d + k * sw_w, mask=mask_d, other=0.0).to(tl.float32)
        dxc += wk[:, None] * dp
        if k == 0:  # each output position once: weight and bias gradients
            dbias += tl.sum(dp, axis=1)
            for m in tl.static_range(WIDTH):
                xm = _xc(x_ptr, init_ptr, b, offs_d, mask_d, p + m, L, sx_b, sx_d, sx_l,
                         si_b, si_d, si_l, WIDTH)
                dw += tl.where(wcols[None, :] == m, tl.sum(dp * xm, axis=1)[:, None], 0.0)
    if HAS_DFINAL:  # the final states are xc[L : L + WIDTH - 1]
        fin = (j >= L) & (j < L + WIDTH - 1)
        dxc += tl.load(dfinal_ptr + b * dim * (WIDTH - 1) + offs_d[:, None] * (WIDTH - 1) + (j - L),
                       mask=mask_d[:, None] & fin, other=0.0)
    in_x = mask_d[:, None] & (j >= WIDTH - 1) & (j < L + WIDTH - 1)
    tl.store(dx_ptr + b * dim * L + offs_d[:, None] * L + (j - (WIDTH - 1)),
             dxc.to(dx_ptr.dtype.element_ty), mask=in_x)
    in_init = mask_d[:, None] & (j < WIDTH - 1)
    tl.store(dinit_ptr + b * dim * (WIDTH - 1) + offs_d[:, None] * (WIDTH - 1) + j, dxc,
             mask=in_init)
    row = b * tl.num_programs(1) + tl.program_id(1)
    tl.store(dw_ptr + row * dim * WIDTH + offs_d[:, None] * WIDTH + wcols[None, :], dw,
             mask=mask_d[:, None] & (wcols[None, :] < WIDTH))
    tl.store(dbias_ptr + row * dim + offs_d, dbias, mask=mask_d)
