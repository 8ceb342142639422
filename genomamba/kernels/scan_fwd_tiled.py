"""The tiled forward of the selective scan: one program per (batch row, channel, chunk of L), tiles
of BLOCK_T steps scanned in parallel along time (``scan_common``); fewer launches than the step
forward, so faster on small inputs. Where batch x dim alone would leave the GPU underused, L is cut
into chunks: a summary pass gives each chunk's end state from a zero start (an exponential of the
delta summed after each step, no scan) and its sum of delta, and each chunk's program folds the
earlier chunks' summaries into its start state. When gradients are wanted it stores the state at
every ckpt_len-th step (the backward's tile starts) and, with z, y before the gate. The PyTorch
reference is ``reference.selective_scan_ref``."""

import torch
import triton
import triton.language as tl

from .launch import fast_launch
from .scan_common import LOG2E, _delta, _first_order, _summary_program
from .scan_plan import chunks, sm_count


@fast_launch
@triton.jit
def _ss_fwd_summary_kernel(
        # inputs
        u_ptr, delta_ptr, A_ptr, B_ptr, bias_ptr,
        # outputs: per chunk, its end state from zero and its sum of delta
        sumH_ptr, sumS_ptr,
        # sizes
        dim, L, N, dim_per_group, chunk_len, n_chunks,
        # strides
        stride_u_batch, stride_u_dim, stride_u_len,
        stride_delta_batch, stride_delta_dim, stride_delta_len,
        stride_B_batch, stride_B_group, stride_B_state, stride_B_len,
        # tile and options
        BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr,
        HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Per (batch row, channel, chunk but the last): the chunk's end state from a zero start,
    sum over t of exp(A (delta_t+1 + ... + delta_end)) x_t (decays at most 1: one exponential of the
    delta summed after t is safe), walking the chunk's tiles from its end, and its sum of delta."""
    b, d, g, c, offs_n, offs_t, mask_n, A2, bias, dl_row = _summary_program(
        A_ptr, bias_ptr, delta_ptr, dim, N, dim_per_group, stride_delta_batch, stride_delta_dim, 0,
        BLOCK_N, BLOCK_T, HAS_BIAS)
    u_row = u_ptr + b * stride_u_batch + d * stride_u_dim
    B_rows = B_ptr + b * stride_B_batch + g * stride_B_group + offs_n[:, None] * stride_B_state
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    n_tiles = tl.cdiv(t_end - t_begin, BLOCK_T)
    acc = tl.zeros([BLOCK_N, BLOCK_T], dtype=tl.float32)
    R = tl.zeros([BLOCK_T], dtype=tl.float32)  # sum of delta after the tile, in every lane
    for i in range(0, n_tiles):
        t = t_begin + (n_tiles - 1 - i) * BLOCK_T + offs_t
        m = t < t_end
        dl, _ = _delta(dl_row, t, stride_delta_len, m, bias, HAS_BIAS, SOFTPLUS)
        u = tl.load(u_row + t * stride_u_len, mask=m, other=0.0).to(tl.float32)
        Bt = tl.load(B_rows + t[None, :] * stride_B_len, mask=mask_n[:, None] & m[None, :],
                     other=0.0).to(tl.float32)
        tile_sum = tl.sum(dl, axis=0)
        after = R + tile_sum - tl.cumsum(dl, axis=0)  # delta summed over the steps after t
        acc += tl.exp2(A2 * after[None, :]) * Bt * (dl * u)[None, :]
        R += tile_sum
    base = (b * n_chunks + c) * dim + d
    tl.store(sumH_ptr + base * N + offs_n, tl.sum(acc, axis=1), mask=mask_n)
    tl.store(sumS_ptr + base, tl.max(R, axis=0))


@fast_launch
@triton.jit
def _ss_fwd_tiled_kernel(
        # inputs (D, z, delta_bias, h0: None unless their HAS_ flag)
        u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, h0_ptr,
        # the earlier chunks' summaries (CHUNKED)
        sumH_ptr, sumS_ptr,
        # outputs (ypre: y before the gate, with z and STORE_CKPT; ckpt: with STORE_CKPT)
        y_ptr, ypre_ptr, last_ptr, ckpt_ptr,
        # sizes
        dim, L, N, dim_per_group, chunk_len, n_chunks, ckpt_len, n_ckpt,
        # strides (y before the gate: y's)
        stride_u_batch, stride_u_dim, stride_u_len,
        stride_delta_batch, stride_delta_dim, stride_delta_len,
        stride_B_batch, stride_B_group, stride_B_state, stride_B_len,
        stride_C_batch, stride_C_group, stride_C_state, stride_C_len,
        stride_z_batch, stride_z_dim, stride_z_len,
        stride_y_batch, stride_y_dim, stride_y_len,
        # tile and options
        BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, STAGES: tl.constexpr,
        HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_H0: tl.constexpr, CHUNKED: tl.constexpr,
        STORE_CKPT: tl.constexpr):
    """One program per (batch row, channel, chunk of L): the chunk's start state folded from the
    earlier chunks' summaries, then one pass over the chunk in tiles of BLOCK_T steps, each tile's
    recurrence a parallel scan along time over (BLOCK_N, BLOCK_T) in registers, started from the
    state the previous tile left; every load and store is a contiguous run along L."""
    pid = tl.program_id(0)
    b = (pid // dim).to(tl.int64)
    d = pid % dim
    g = d // dim_per_group
    c = tl.program_id(1)
    offs_n = tl.arange(0, BLOCK_N)
    offs_t = tl.arange(0, BLOCK_T)
    mask_n = offs_n < N
    A2v = tl.load(A_ptr + d * N + offs_n, mask=mask_n, other=0.0) * LOG2E
    A2 = A2v[:, None]
    bias = 0.0
    if HAS_BIAS:
        bias = tl.load(bias_ptr + d).to(tl.float32)
    Dv = 0.0
    if HAS_D:
        Dv = tl.load(D_ptr + d).to(tl.float32)
    state = b * dim * N + d * N + offs_n  # element (b, d, n) of a (batch, dim, N) array
    h = tl.zeros([BLOCK_N], dtype=tl.float32)
    if HAS_H0:
        h = tl.load(h0_ptr + state, mask=mask_n, other=0.0)
    if CHUNKED:
        for j in range(0, c):  # the state at this chunk's start
            base = (b * n_chunks + j) * dim + d
            Sj = tl.load(sumS_ptr + base)
            h = (tl.exp2(A2v * Sj) * h
                 + tl.load(sumH_ptr + base * N + offs_n, mask=mask_n, other=0.0))

    u_row = u_ptr + b * stride_u_batch + d * stride_u_dim
    dl_row = delta_ptr + b * stride_delta_batch + d * stride_delta_dim
    y_row = b * stride_y_batch + d * stride_y_dim  # of y and of y before the gate
    B_rows = B_ptr + b * stride_B_batch + g * stride_B_group + offs_n[:, None] * stride_B_state
    C_rows = C_ptr + b * stride_C_batch + g * stride_C_group + offs_n[:, None] * stride_C_state
    first = (offs_t == 0)[None, :]
    last_col = (offs_t == BLOCK_T - 1)[None, :]
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    for t0 in tl.range(t_begin, t_end, BLOCK_T, num_stages=STAGES):
        if STORE_CKPT:
            if t0 % ckpt_len == 0:
                tl.store(ckpt_ptr + (b * n_ckpt + t0 // ckpt_len) * dim * N + d * N + offs_n, h,
                         mask=mask_n)
        t = t0 + offs_t
        m = t < t_end
        mnt = mask_n[:, None] & m[None, :]
        dl, _ = _delta(dl_row, t, stride_delta_len, m, bias, HAS_BIAS, SOFTPLUS)  # 0 past the end
        u = tl.load(u_row + t * stride_u_len, mask=m, other=0.0).to(tl.float32)
        Bt = tl.load(B_rows + t[None, :] * stride_B_len, mask=mnt, other=0.0).to(tl.float32)
        Ct = tl.load(C_rows + t[None, :] * stride_C_len, mask=mnt, other=0.0).to(tl.float32)
        a = tl.exp2(A2 * dl[None, :])
        x = Bt * (dl * u)[None, :]
        x = tl.where(first, x + a * h[:, None], x)  # fold the carried state into step 0
        _, hs = tl.associative_scan((a, x), axis=1, combine_fn=_first_order)
        y = tl.sum(hs * Ct, axis=0) + Dv * u
        if HAS_Z:
            if STORE_CKPT:
                tl.store(ypre_ptr + y_row + t * stride_y_len, y.to(ypre_ptr.dtype.element_ty),
                         mask=m)
            z = tl.load(z_ptr + b * stride_z_batch + d * stride_z_dim + t * stride_z_len,
                        mask=m, other=0.0).to(tl.float32)
            y = y * z * tl.sigmoid(z)
        tl.store(y_ptr + y_row + t * stride_y_len, y.to(y_ptr.dtype.element_ty), mask=m)
        h = tl.sum(tl.where(last_col, hs, 0.0), axis=1)
    if c == n_chunks - 1:
        tl.store(last_ptr + state, h, mask=mask_n)


def fwd_tiled(cfg, u, delta, A32, B4, C4, *, D, z, delta_bias, h0, y, ypre, last, ckpt, block_n,
              softplus):
    """Launch the tiled forward: y (and ypre, y before the gate, when not None), the last state,
    and with ckpt (batch, L / bwd_tile_t, dim, N) the backward's checkpoints."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    want_grad = ckpt is not None
    f32 = dict(device=u.device, dtype=torch.float32)
    # with gradients: the state at every backward tile start, forward tiles dividing those
    tile = min(cfg.tile_t, cfg.bwd_tile_t) if want_grad else cfg.tile_t
    # chunks cost a summary pass (a third of the forward): only where rows leave SMs idle
    sms = sm_count(u.device)
    forced = cfg.fwd_chunks or (1 if batch * dim >= cfg.fwd_chunk_below * sms else None)
    chunk_len, n_chunks = chunks(L, batch * dim, cfg.fwd_programs_per_sm, sms,
                                 max(tile, cfg.bwd_tile_t), cfg, forced)
    sumH = sumS = None
    options = dict(BLOCK_N=block_n, BLOCK_T=tile, HAS_BIAS=delta_bias is not None,
                   SOFTPLUS=softplus, num_warps=cfg.tile_warps)
    if n_chunks > 1:
        sumH = torch.empty(batch, n_chunks, dim, N, **f32)
        sumS = torch.empty(batch, n_chunks, dim, **f32)
        _ss_fwd_summary_kernel[(batch * dim, n_chunks - 1)](
            u, delta, A32, B4, delta_bias, sumH, sumS,
            dim, L, N, dim // B4.shape[1], chunk_len, n_chunks,
            *u.stride(), *delta.stride(), *B4.stride(), **options)
    _ss_fwd_tiled_kernel[(batch * dim, n_chunks)](
        u, delta, A32, B4, C4, D, z, delta_bias, h0, sumH, sumS,
        y, ypre, last, ckpt,
        dim, L, N, dim // B4.shape[1], chunk_len, n_chunks, cfg.bwd_tile_t,
        ckpt.shape[1] if want_grad else 1,
        *u.stride(), *delta.stride(), *B4.stride(), *C4.stride(),
        *(z.stride() if z is not None else (0, 0, 0)), *y.stride(),
        STAGES=cfg.tile_stages, HAS_D=D is not None, HAS_Z=z is not None,
        HAS_H0=h0 is not None, CHUNKED=n_chunks > 1, STORE_CKPT=want_grad, **options)
