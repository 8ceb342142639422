"""The step backward of the selective scan, in the step forward's layout (``scan_fwd_step``):
chunks of L side by side, each a power-of-two multiple of the checkpoint interval. A summary pass
(_ss_bwd_step_summary_kernel) gives, per (batch row, channel, chunk after the first), the adjoint p
the chunk's own outputs send out of its first step and the chunk's sum of delta;
``scan_chunk_carry`` scans those backward into the adjoint arriving at each chunk's end. Then per segment of ckpt_len
steps a program recomputes from the forward's checkpoint the states at every 4-step tile start
into its scratch, walks the tiles backward, recomputing each tile's states and stepping the adjoint
back through them; dB_t and dC_t are summed over its channels at every step. A tile's inputs and
gradients move as (BLOCK_D, 4) tiles where each channel runs along L (contiguous tensors), and as
one value per channel and step where the channels are contiguous (the model's channels-last
tensors): each the access that coalesces, and the second also spills less. Takes no z: the gate's
backward runs first, as its own pass (``scan_gate``; applied inside this kernel's loop, it slowed
the kernel by a third on the H100, docs/benchmarks.md). The PyTorch reference is autograd through
``reference.selective_scan_ref``."""

import math

import torch
import triton
import triton.language as tl

from .launch import fast_launch
from .layout import empty_like_layout, is_channels_last
from .scan_chunk_carry import chunk_carry
from .scan_common import (LN2, LOG2E, _cols4, _delta, _dy, _halves, _join4, _step,
                          _step_program, _steps4, _tile_in, _tile_t, dbc_parts, param_sums,
                          reduce_dbc, reduce_param_sums)
from .scan_plan import largest_pow2_dividing, step_chunks


@triton.jit
def _adjoint_sum(acc, S, A2, dl, dy, C_row, t, offs_n, BLOCK_N: tl.constexpr):
    """One step of the step backward's summary: S += delta_t, acc += exp(A S) C_t dy_t."""
    S += dl
    Ck = tl.load(C_row + t * BLOCK_N + offs_n).to(tl.float32)
    return acc + tl.exp2(A2 * S[:, None]) * (Ck[None, :] * dy[:, None]), S


@triton.jit
def _adjoint_sums(acc, S, A2, DL, DY, C_row, t, offs_n, BLOCK_N: tl.constexpr, BD: tl.constexpr,
                  W: tl.constexpr):
    """W (4, 8, 16) summary steps from (BD, W) tiles of delta and dy."""
    if W == 4:
        d0, d1, d2, d3 = _cols4(DL, BD)
        y0, y1, y2, y3 = _cols4(DY, BD)
        acc, S = _adjoint_sum(acc, S, A2, d0, y0, C_row, t, offs_n, BLOCK_N)
        acc, S = _adjoint_sum(acc, S, A2, d1, y1, C_row, t + 1, offs_n, BLOCK_N)
        acc, S = _adjoint_sum(acc, S, A2, d2, y2, C_row, t + 2, offs_n, BLOCK_N)
        acc, S = _adjoint_sum(acc, S, A2, d3, y3, C_row, t + 3, offs_n, BLOCK_N)
    else:
        D0, D1 = _halves(DL, BD, W)
        Y0, Y1 = _halves(DY, BD, W)
        acc, S = _adjoint_sums(acc, S, A2, D0, Y0, C_row, t, offs_n, BLOCK_N, BD, W // 2)
        acc, S = _adjoint_sums(acc, S, A2, D1, Y1, C_row, t + W // 2, offs_n, BLOCK_N, BD,
                               W // 2)
    return acc, S


@fast_launch
@triton.jit
def _ss_bwd_step_summary_kernel(
        # inputs (delta_bias: None unless HAS_BIAS); C as rows_of_n rows
        delta_ptr, A_ptr, C_rows_ptr, bias_ptr, dout_ptr,
        # outputs: per chunk after the first, the adjoint it sends out and its sum of delta
        sumP_ptr, sumS_ptr,
        # sizes
        dim, L, N, n_dblocks, dim_per_group, chunk_len, n_chunks,
        # strides
        stride_rows_group,
        stride_delta_batch, stride_delta_dim, stride_delta_len,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        # tile and options
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, UNROLL: tl.constexpr,
        HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """_ss_bwd_summary_kernel's sums in the step layout, for the step backward: BLOCK_D channels of
    one batch row over one chunk after the first, UNROLL steps per iteration, C_t read as rows of
    the padded copy."""
    _, b, _, c, offs_d, offs_n, mask_n, mask_dn, dn, A, bias, _, rows = _step_program(
        A_ptr, bias_ptr, None, dim, N, n_dblocks, dim_per_group, stride_rows_group,
        BLOCK_D, BLOCK_N, HAS_BIAS, False)
    C_row = C_rows_ptr + rows
    dl_row = delta_ptr + b * stride_delta_batch + offs_d * stride_delta_dim
    c += 1  # chunk 0's summary is never needed
    A2 = A * LOG2E
    o_row = dout_ptr + b * stride_dout_batch + offs_d * stride_dout_dim
    acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    S = tl.zeros([BLOCK_D], dtype=tl.float32)
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    for t0 in range(t_begin, t_end, UNROLL):
        t, mt = _tile_t(t0, t_end, offs_d, dim, UNROLL)
        DL = _delta(dl_row[:, None], t[None, :], stride_delta_len, mt, bias[:, None], HAS_BIAS,
                    SOFTPLUS)[0]
        DY = _dy(o_row[:, None], t[None, :], stride_dout_len, mt)
        acc, S = _adjoint_sums(acc, S, A2, DL, DY, C_row, t0, offs_n, BLOCK_N, BLOCK_D, UNROLL)
    base = (b * n_chunks + c) * dim
    tl.store(sumP_ptr + base * N + dn, acc, mask=mask_dn)
    tl.store(sumS_ptr + base + offs_d, S, mask=offs_d < dim)


@triton.jit
def _back_step(p, h_prev, A2, dl, du, dyk, u, B_row, C_row, t, offs_n, BLOCK_N: tl.constexpr):
    """One step backward for BD channels, given the state before it, its delta, delta u, dy and u,
    and the adjoint p sent back by the step after it: the p it sends back and its contributions:
    B_t . g_t (for du), ddelta before the softplus gradient, dA, and dB_t, dC_t summed over the
    channels."""
    Bk = tl.load(B_row + t * BLOCK_N + offs_n).to(tl.float32)
    Ck = tl.load(C_row + t * BLOCK_N + offs_n).to(tl.float32)
    a = tl.exp2(A2 * dl[:, None])
    ah = a * h_prev  # a_t h_{t-1}
    h = ah + du[:, None] * Bk[None, :]
    g = p + Ck[None, :] * dyk[:, None]
    gB = tl.sum(g * Bk[None, :], axis=1)
    ga = g * ah
    ddl = u * gB + tl.sum(ga * A2, axis=1) * LN2  # A2 = A log2(e)
    dA = ga * dl[:, None]
    dB = tl.sum(g * du[:, None], axis=0)
    dC = tl.sum(h * dyk[:, None], axis=0)
    return a * g, gB, ddl, dA, dB, dC


@triton.jit
def _before(t, t_end, SIZE: tl.constexpr):
    """t < t_end as a (SIZE,) mask (Triton's interpreter cannot mask a vector with a scalar)."""
    return tl.zeros([SIZE], tl.int32) + t < t_end


@triton.jit
def _step_in(dl_row, u_row, o_row, t, t_end, stride_delta_len, stride_u_len, stride_dout_len, bias,
             BLOCK_D: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Step t's delta (after bias and softplus; 0 from t_end on, so that the step passes h and p),
    delta before the softplus, u and dy, each one value per channel."""
    m = _before(t, t_end, BLOCK_D)
    dl, raw = _delta(dl_row, t, stride_delta_len, m, bias, HAS_BIAS, SOFTPLUS)
    u = tl.load(u_row + t * stride_u_len, mask=m, other=0.0).to(tl.float32)
    dy = tl.load(o_row + t * stride_dout_len, mask=m, other=0.0).to(tl.float32)
    return dl, raw, u, dy


@triton.jit
def _back_and_out(p, dA, dDv, dbias, h_prev, A2, dl, du, dy, u, raw, B_row, C_row, t, offs_n,
                  du_row, ddl_row, dB_row, dC_row, stride_du_len, stride_ddelta_len,
                  stride_part_len, t_end, Dv, mask_n, BLOCK_D: tl.constexpr,
                  BLOCK_N: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Step t backward (_back_step), its du, ddelta, dB_t and dC_t written (dB_t, dC_t summed over
    the channel block, in the partial sums' row of step t) and its dA, dD and dbias added to the
    sums."""
    p, gB, ddl, dA_t, dB, dC = _back_step(p, h_prev, A2, dl, du, dy, u, B_row, C_row, t, offs_n,
                                          BLOCK_N)
    m = _before(t, t_end, BLOCK_D)
    if SOFTPLUS:
        ddl = ddl * tl.sigmoid(raw)
    ddl = tl.where(m, ddl, 0.0)
    tl.store(du_row + t * stride_du_len, (dy * Dv + dl * gB).to(du_row.dtype.element_ty), mask=m)
    tl.store(ddl_row + t * stride_ddelta_len, ddl.to(ddl_row.dtype.element_ty), mask=m)
    m_n = mask_n & _before(t, t_end, BLOCK_N)
    tl.store(dB_row + t * stride_part_len, dB, mask=m_n)
    tl.store(dC_row + t * stride_part_len, dC, mask=m_n)
    return p, dA + dA_t, dDv + dy * u, dbias + ddl


@fast_launch
@triton.jit
def _ss_bwd_step_kernel(
        # inputs (D, delta_bias, p_in: None unless their HAS_ flag); B and C as rows_of_n rows;
        # p_in: the adjoint arriving at each chunk's end (batch, n_chunks, dim, N)
        u_ptr, delta_ptr, A_ptr, B_rows_ptr, C_rows_ptr, D_ptr, bias_ptr, dout_ptr, p_in_ptr,
        ckpt_ptr,
        # this program's states at the 4-step tile starts of one segment
        scratch_ptr,
        # outputs: du, ddelta; partial sums of dB, dC per channel block, (n_dblocks, batch, L, N),
        # and of dA, dD, dbias per chunk, rows of stride_sums_row elements; dh0 with WANT_DH0
        du_ptr, ddelta_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dh0_ptr,
        # sizes
        batch, dim, L, N, n_dblocks, dim_per_group, chunk_len, n_chunks, ckpt_len, n_ckpt,
        # strides
        stride_rows_group, stride_sums_row,
        stride_u_batch, stride_u_dim, stride_u_len,
        stride_delta_batch, stride_delta_dim, stride_delta_len,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_du_batch, stride_du_dim, stride_du_len,
        stride_ddelta_batch, stride_ddelta_dim, stride_ddelta_len,
        # tile and options
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, HAS_D: tl.constexpr,
        HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, HAS_P_IN: tl.constexpr,
        WANT_DH0: tl.constexpr, PER_STEP: tl.constexpr):
    """BLOCK_D channels of one batch row over one chunk, from its end, 4 steps per tile: per segment
    of ckpt_len steps (a multiple of 4) the states at its 4-step tile starts are recomputed from the
    forward's checkpoint into this program's scratch, then the tiles are walked backward, each
    tile's states recomputed again and the adjoint stepped back through them."""
    pid, b, db, c, offs_d, offs_n, mask_n, mask_dn, dn, A, bias, Dv, rows = _step_program(
        A_ptr, bias_ptr, D_ptr, dim, N, n_dblocks, dim_per_group, stride_rows_group,
        BLOCK_D, BLOCK_N, HAS_BIAS, HAS_D)
    B_row = B_rows_ptr + rows
    C_row = C_rows_ptr + rows
    u_row = u_ptr + b * stride_u_batch + offs_d * stride_u_dim
    dl_row = delta_ptr + b * stride_delta_batch + offs_d * stride_delta_dim
    A2 = A * LOG2E
    p = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_P_IN:
        p = tl.load(p_in_ptr + (b * n_chunks + c) * dim * N + dn, mask=mask_dn, other=0.0)
    o_row = dout_ptr + b * stride_dout_batch + offs_d * stride_dout_dim
    du_row = b * stride_du_batch + offs_d * stride_du_dim
    ddl_row = b * stride_ddelta_batch + offs_d * stride_ddelta_dim
    part = (db * batch + b) * L * N + offs_n  # step 0's row of the dB/dC partials
    scratch = (scratch_ptr + (pid * n_chunks + c).to(tl.int64) * (ckpt_len // 4) * BLOCK_D * N
               + tl.arange(0, BLOCK_D)[:, None] * N + offs_n[None, :])
    dA = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    dDv = tl.zeros([BLOCK_D], dtype=tl.float32)
    dbias = tl.zeros([BLOCK_D], dtype=tl.float32)
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    n_seg = tl.cdiv(t_end - t_begin, ckpt_len)
    for i in range(0, n_seg):
        s0 = t_begin + (n_seg - 1 - i) * ckpt_len
        n_tiles = tl.cdiv(tl.minimum(s0 + ckpt_len, t_end) - s0, 4)
        h = tl.load(ckpt_ptr + (b * n_ckpt + s0 // ckpt_len) * dim * N + dn, mask=mask_dn,
                    other=0.0)
        for j in range(0, n_tiles):  # the state before every tile of the segment
            tl.store(scratch + j * BLOCK_D * N, h, mask=mask_dn)
            DL, U = _tile_in(dl_row, u_row, s0 + 4 * j, t_end, offs_d, dim, stride_delta_len,
                             stride_u_len, bias, 4, HAS_BIAS, SOFTPLUS)[2:4]
            h = _steps4(h, A2, DL, DL * U, B_row, C_row, s0 + 4 * j, offs_n, BLOCK_N,
                        BLOCK_D, False)[0]
        tl.debug_barrier()
        for j in range(0, n_tiles):
            jj = n_tiles - 1 - j
            t0 = s0 + 4 * jj
            h = tl.load(scratch + jj * BLOCK_D * N, mask=mask_dn, other=0.0)
            if PER_STEP:  # the tile's inputs
                # one value per channel and step, in the states' layout: where the channels are
                # contiguous (the model's channels-last tensors) these loads and stores coalesce
                args = (dl_row, u_row, o_row)
                strides = (stride_delta_len, stride_u_len, stride_dout_len)
                d_0, r_0, u_0, y_0 = _step_in(*args, t0, t_end, *strides, bias, BLOCK_D, HAS_BIAS,
                                              SOFTPLUS)
                d_1, r_1, u_1, y_1 = _step_in(*args, t0 + 1, t_end, *strides, bias, BLOCK_D,
                                              HAS_BIAS, SOFTPLUS)
                d_2, r_2, u_2, y_2 = _step_in(*args, t0 + 2, t_end, *strides, bias, BLOCK_D,
                                              HAS_BIAS, SOFTPLUS)
                d_3, r_3, u_3, y_3 = _step_in(*args, t0 + 3, t_end, *strides, bias, BLOCK_D,
                                              HAS_BIAS, SOFTPLUS)
                x_0, x_1, x_2, x_3 = d_0 * u_0, d_1 * u_1, d_2 * u_2, d_3 * u_3
            else:  # (BLOCK_D, 4) tiles: coalesced where each channel runs along L
                t, mt, DL, U, RAW = _tile_in(dl_row, u_row, t0, t_end, offs_d, dim,
                                             stride_delta_len, stride_u_len, bias, 4, HAS_BIAS,
                                             SOFTPLUS)
                DY = _dy(o_row[:, None], t[None, :], stride_dout_len, mt)
                d_0, d_1, d_2, d_3 = _cols4(DL, BLOCK_D)
                x_0, x_1, x_2, x_3 = _cols4(DL * U, BLOCK_D)
                y_0, y_1, y_2, y_3 = _cols4(DY, BLOCK_D)
                u_0, u_1, u_2, u_3 = _cols4(U, BLOCK_D)
            # the states before steps 1, 2, 3 (before step 0: h)
            h1, _ = _step(h, A2, d_0, x_0, B_row, C_row, t0, offs_n, BLOCK_N, False)
            h2, _ = _step(h1, A2, d_1, x_1, B_row, C_row, t0 + 1, offs_n, BLOCK_N, False)
            h3, _ = _step(h2, A2, d_2, x_2, B_row, C_row, t0 + 2, offs_n, BLOCK_N, False)
            if PER_STEP:  # back through the steps, writing each step's gradients
                outs = (du_ptr + du_row, ddelta_ptr + ddl_row, dB_ptr + part, dC_ptr + part,
                        stride_du_len, stride_ddelta_len, N, t_end, Dv, mask_n)
                p, dA, dDv, dbias = _back_and_out(p, dA, dDv, dbias, h3, A2, d_3, x_3, y_3, u_3,
                                                  r_3, B_row, C_row, t0 + 3, offs_n, *outs,
                                                  BLOCK_D, BLOCK_N, SOFTPLUS)
                p, dA, dDv, dbias = _back_and_out(p, dA, dDv, dbias, h2, A2, d_2, x_2, y_2, u_2,
                                                  r_2, B_row, C_row, t0 + 2, offs_n, *outs,
                                                  BLOCK_D, BLOCK_N, SOFTPLUS)
                p, dA, dDv, dbias = _back_and_out(p, dA, dDv, dbias, h1, A2, d_1, x_1, y_1, u_1,
                                                  r_1, B_row, C_row, t0 + 1, offs_n, *outs,
                                                  BLOCK_D, BLOCK_N, SOFTPLUS)
                p, dA, dDv, dbias = _back_and_out(p, dA, dDv, dbias, h, A2, d_0, x_0, y_0, u_0, r_0,
                                                  B_row, C_row, t0, offs_n, *outs, BLOCK_D, BLOCK_N,
                                                  SOFTPLUS)
            else:
                p, gB3, e3, a3, b3, c3 = _back_step(p, h3, A2, d_3, x_3, y_3, u_3, B_row, C_row,
                                                    t0 + 3, offs_n, BLOCK_N)
                p, gB2, e2, a2, b2, c2 = _back_step(p, h2, A2, d_2, x_2, y_2, u_2, B_row, C_row,
                                                    t0 + 2, offs_n, BLOCK_N)
                p, gB1, e1, a1, b1, c1 = _back_step(p, h1, A2, d_1, x_1, y_1, u_1, B_row, C_row,
                                                    t0 + 1, offs_n, BLOCK_N)
                p, gB0, e0, a0, b0, c0 = _back_step(p, h, A2, d_0, x_0, y_0, u_0, B_row, C_row,
                                                    t0, offs_n, BLOCK_N)
                dA += a0 + a1 + a2 + a3
                GB = _join4(gB0, gB1, gB2, gB3, BLOCK_D)
                DDL = _join4(e0, e1, e2, e3, BLOCK_D)
                if SOFTPLUS:
                    DDL = DDL * tl.sigmoid(RAW)
                DDL = tl.where(mt, DDL, 0.0)
                DU = DY * Dv[:, None] + DL * GB
                tl.store(du_ptr + du_row[:, None] + t[None, :] * stride_du_len,
                         DU.to(du_ptr.dtype.element_ty), mask=mt)
                tl.store(ddelta_ptr + ddl_row[:, None] + t[None, :] * stride_ddelta_len,
                         DDL.to(ddelta_ptr.dtype.element_ty), mask=mt)
                dDv += tl.sum(DY * U, axis=1)
                dbias += tl.sum(DDL, axis=1)
                tt = t0 + tl.arange(0, 4)
                mtt = mask_n[:, None] & (tt[None, :] < t_end)
                tl.store(dB_ptr + part[:, None] + tt[None, :] * N,
                         _join4(b0, b1, b2, b3, BLOCK_N), mask=mtt)
                tl.store(dC_ptr + part[:, None] + tt[None, :] * N,
                         _join4(c0, c1, c2, c3, BLOCK_N), mask=mtt)
        tl.debug_barrier()  # the next segment overwrites the scratch
    row = (b * n_chunks + c) * stride_sums_row  # of the partial sums of dA, dD, dbias
    tl.store(dA_ptr + row + dn, dA, mask=mask_dn)
    tl.store(dD_ptr + row + offs_d, dDv, mask=offs_d < dim)
    tl.store(dbias_ptr + row + offs_d, dbias, mask=offs_d < dim)
    if WANT_DH0:
        if c == 0:
            tl.store(dh0_ptr + b * dim * N + dn, p, mask=mask_dn)


def bwd_step(cfg, u, delta, A32, bc_rows, *, D, delta_bias, ckpt, dy, dlast, want_dh0, block_n,
             softplus, b_ndim, bc_dtypes):
    """Launch the step backward. bc_rows: B's and C's ``rows_of_n`` copies (the forward's); dy: the
    gradient reaching y before the gate; dlast: the last state's (None if unused); b_ndim and
    bc_dtypes: B's and C's dimensions and dtypes. Returns du, ddelta, dB, dC (B's and C's shapes
    and dtypes), dA, dD, dbias (float32) and dh0 (None unless want_dh0)."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    B_rows, C_rows = bc_rows
    groups = B_rows.shape[1]
    dim_per_group = dim // groups
    ckpt_len = cfg.bwd_tile_t
    block_d = largest_pow2_dividing(dim_per_group, cfg.bwd_step_block_d)
    n_dblocks = dim // block_d
    chunk_len, n_chunks = step_chunks(L, batch * n_dblocks, ckpt_len, cfg.bwd_chunks, cfg,
                                      u.device)
    f32 = dict(device=u.device, dtype=torch.float32)
    p_in = dlast
    if n_chunks > 1:
        sumP = torch.empty(batch, n_chunks, dim, N, **f32)
        sumS = torch.empty(batch, n_chunks, dim, **f32)
        _ss_bwd_step_summary_kernel[(batch * n_dblocks, n_chunks - 1)](
            delta, A32, C_rows, delta_bias, dy, sumP, sumS,
            dim, L, N, n_dblocks, dim_per_group, chunk_len, n_chunks,
            C_rows.stride(1), *delta.stride(), *dy.stride(),
            BLOCK_D=block_d, BLOCK_N=block_n, UNROLL=math.gcd(cfg.step_unroll, cfg.bwd_tile_t),
            HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus, num_warps=cfg.bwd_step_warps)
        p_in = torch.empty(batch, n_chunks, dim, N, **f32)
        chunk_carry(A32, dlast, sumP, sumS, p_in, reverse=True)
    rows = batch * n_chunks
    du, ddelta = empty_like_layout(u), empty_like_layout(delta)   # each in its input's layout
    dbc = dbc_parts(n_dblocks, batch, L, N, u.device)
    sums, sum_parts = param_sums(rows, dim, N, u.device)
    dh0 = torch.empty(batch, dim, N, **f32) if want_dh0 else None
    scratch = torch.empty(batch * n_dblocks * n_chunks * (ckpt_len // 4) * block_d * N, **f32)
    _ss_bwd_step_kernel[(batch * n_dblocks, n_chunks)](
        u, delta, A32, B_rows, C_rows, D, delta_bias, dy, p_in, ckpt, scratch,
        du, ddelta, dbc[0], dbc[1], *sum_parts, dh0,
        batch, dim, L, N, n_dblocks, dim_per_group, chunk_len, n_chunks, ckpt_len, ckpt.shape[1],
        B_rows.stride(1), sums.stride(0), *u.stride(), *delta.stride(), *dy.stride(), *du.stride(),
        *ddelta.stride(),
        BLOCK_D=block_d, BLOCK_N=block_n, HAS_D=D is not None, HAS_BIAS=delta_bias is not None,
        SOFTPLUS=softplus, HAS_P_IN=p_in is not None, WANT_DH0=want_dh0,
        PER_STEP=is_channels_last(u), num_warps=cfg.bwd_step_warps)
    return (du, ddelta, *reduce_dbc(dbc, groups, b_ndim, bc_dtypes),
            *reduce_param_sums(sums, dim, N), dh0)
