"""The tiled backward of the selective scan: a program owns BLOCK_K channels of one batch row and
one chunk of L; tile by tile from the chunk's end it recomputes each channel's states from the
forward's checkpoint (a parallel scan along time, ``scan_common``), scans the adjoint backward, and
sums the channels' dB and dC contributions in registers, so only one partial per BLOCK_K channels
is written. Chunks run side by side: a summary pass gives, per (batch row, channel, chunk after the
first), the adjoint the chunk's own outputs send out of its first step and its sum of delta, and
each program folds the later chunks' summaries itself. The z gate's backward is applied where dout
is read (``_dy_dz``), not as a pass of its own: one launch fewer where host time rules. The
PyTorch reference is autograd through ``reference.selective_scan_ref``."""

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from .launch import fast_launch
from .scan_common import (LOG2E, _delta, _dy, _first_order, _summary_program, dbc_parts,
                          param_sums, reduce_dbc, reduce_param_sums)
from .scan_gate import _gate_grads
from .scan_plan import chunks, largest_pow2_dividing, sm_count


@triton.jit
def _gated_dy(o_row, z_row, t, stride_dout_len, stride_z_len, m, GATE: tl.constexpr):
    """The gradient reaching y before the z gate at steps t from dout: times silu(z) with GATE
    (z_row unread without)."""
    dy = _dy(o_row, t, stride_dout_len, m)
    if GATE:
        z = tl.load(z_row + t * stride_z_len, mask=m, other=0.0).to(tl.float32)
        dy = dy * z * tl.sigmoid(z)
    return dy


@triton.jit
def _dy_dz(o_row, z_row, yp_row, dz_row, t, stride_dout_len, stride_z_len, stride_yp_len,
           stride_dz_len, m, GATE: tl.constexpr):
    """_dy, and with GATE the gate's gradients (``scan_gate._gate_grads``): dy returned, z's
    stored, from y before the gate as the forward kept it (the rows of z, of that y and of dz
    unread without GATE)."""
    dy = _dy(o_row, t, stride_dout_len, m)
    if GATE:
        z = tl.load(z_row + t * stride_z_len, mask=m, other=0.0).to(tl.float32)
        yp = tl.load(yp_row + t * stride_yp_len, mask=m, other=0.0).to(tl.float32)
        dy, dz = _gate_grads(dy, z, yp)
        tl.store(dz_row + t * stride_dz_len, dz.to(dz_row.dtype.element_ty), mask=m)
    return dy


@triton.jit
def _gate_rows(z_ptr, yp_ptr, dz_ptr, b, d, stride_z_batch, stride_z_dim, stride_yp_batch,
               stride_yp_dim, stride_dz_batch, stride_dz_dim):
    """The rows of z, of y before the gate and of dz at batch row b, channel d."""
    return (z_ptr + b * stride_z_batch + d * stride_z_dim,
            yp_ptr + b * stride_yp_batch + d * stride_yp_dim,
            dz_ptr + b * stride_dz_batch + d * stride_dz_dim)


@triton.jit
def _adjoint(A2, dl_next, Ct, dy, p, last_col):
    """g over a tile: g_t = C_t dy_t + a_{t+1} g_{t+1}, with p (a g at the next tile's first step)
    arriving at its last step. The reversed scan multiplies step t's own map into t-1, so step t
    carries a_{t+1}; past L delta is 0, so g passes unchanged."""
    an = tl.exp2(A2 * dl_next[None, :])
    cc = Ct * dy[None, :]
    cc = tl.where(last_col, cc + p[:, None], cc)
    _, gs = tl.associative_scan((an, cc), axis=1, combine_fn=_first_order, reverse=True)
    return gs


@fast_launch
@triton.jit
def _ss_bwd_summary_kernel(
        # inputs (delta_bias: None unless HAS_BIAS; z read with GATE)
        delta_ptr, A_ptr, C_ptr, bias_ptr, dout_ptr, z_ptr,
        # outputs: per chunk after the first, the adjoint it sends out and its sum of delta
        sumP_ptr, sumS_ptr,
        # sizes
        dim, L, N, dim_per_group, chunk_len, n_chunks,
        # strides
        stride_delta_batch, stride_delta_dim, stride_delta_len,
        stride_C_batch, stride_C_group, stride_C_state, stride_C_len,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_z_batch, stride_z_dim, stride_z_len,
        # tile and options
        BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr,
        HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, GATE: tl.constexpr):
    """Per (batch row, channel, chunk after the first): p at the chunk's first step t0 with nothing
    arriving from after it, sum over t of exp(A (delta_t0 + ... + delta_t)) C_t dy_t (the decays
    never exceed 1, so the product as one exponential is safe), and the chunk's sum of delta."""
    # from chunk 1 on: chunk 0's summary is never needed
    b, d, g, c, offs_n, offs_t, mask_n, A2, bias, dl_row = _summary_program(
        A_ptr, bias_ptr, delta_ptr, dim, N, dim_per_group, stride_delta_batch, stride_delta_dim, 1,
        BLOCK_N, BLOCK_T, HAS_BIAS)
    o_row = dout_ptr + b * stride_dout_batch + d * stride_dout_dim
    z_row = z_ptr + b * stride_z_batch + d * stride_z_dim
    C_rows = C_ptr + b * stride_C_batch + g * stride_C_group + offs_n[:, None] * stride_C_state
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    acc = tl.zeros([BLOCK_N, BLOCK_T], dtype=tl.float32)
    S = tl.zeros([BLOCK_T], dtype=tl.float32)  # sum of delta before the tile, in every lane
    for t0 in range(t_begin, t_end, BLOCK_T):
        t = t0 + offs_t
        m = t < t_end
        dl, _ = _delta(dl_row, t, stride_delta_len, m, bias, HAS_BIAS, SOFTPLUS)
        dy = _gated_dy(o_row, z_row, t, stride_dout_len, stride_z_len, m, GATE)
        Ct = tl.load(C_rows + t[None, :] * stride_C_len, mask=mask_n[:, None] & m[None, :],
                     other=0.0).to(tl.float32)
        Si = S + tl.cumsum(dl, axis=0)
        acc += tl.exp2(A2 * Si[None, :]) * Ct * dy[None, :]
        S += tl.sum(dl, axis=0)
    base = (b * n_chunks + c) * dim + d
    tl.store(sumP_ptr + base * N + offs_n, tl.sum(acc, axis=1), mask=mask_n)
    tl.store(sumS_ptr + base, tl.max(S, axis=0))


@fast_launch
@triton.jit
def _ss_bwd_kernel(
        # inputs (D, delta_bias, dlast: None unless their HAS_ flag; sumP, sumS with CHUNKED); with
        # GATE, z and y before the gate (ypre), read, and dz, written
        u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, dout_ptr, dlast_ptr,
        ckpt_ptr, sumP_ptr, sumS_ptr, z_ptr, ypre_ptr, dz_ptr,
        # per channel, the adjoint carried from tile to tile
        carry_ptr,
        # outputs: du, ddelta; partial sums of dB, dC per channel block, (n_dblocks, batch, L, N),
        # and of dA, dD, dbias per chunk, rows of stride_sums_row elements; dh0 with WANT_DH0
        du_ptr, ddelta_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dh0_ptr,
        # sizes
        batch, dim, L, N, n_dblocks, chunk_len, n_chunks, n_ckpt, dim_per_group,
        # strides
        stride_sums_row,
        stride_u_batch, stride_u_dim, stride_u_len,
        stride_delta_batch, stride_delta_dim, stride_delta_len,
        stride_B_batch, stride_B_group, stride_B_state, stride_B_len,
        stride_C_batch, stride_C_group, stride_C_state, stride_C_len,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_z_batch, stride_z_dim, stride_z_len,
        stride_yp_batch, stride_yp_dim, stride_yp_len,
        stride_dz_batch, stride_dz_dim, stride_dz_len,
        # tile and options
        BLOCK_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, STAGES: tl.constexpr,
        HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
        HAS_DLAST: tl.constexpr, CHUNKED: tl.constexpr, WANT_DH0: tl.constexpr,
        GATE: tl.constexpr):
    """BLOCK_K channels of one batch row over one chunk, tile by tile from the chunk's end. dB and
    dC: one partial per BLOCK_K channels."""
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    db = pid % n_dblocks
    c = tl.program_id(1)
    d0 = db * BLOCK_K
    g = d0 // dim_per_group
    offs_n = tl.arange(0, BLOCK_N)
    offs_t = tl.arange(0, BLOCK_T)
    mask_n = offs_n < N
    first = (offs_t == 0)[None, :]
    last_col = (offs_t == BLOCK_T - 1)[None, :]
    row = (b * n_chunks + c) * stride_sums_row  # of the partial sums of dA, dD, dbias
    carry = carry_ptr + ((b * n_dblocks + db) * n_chunks + c) * BLOCK_K * BLOCK_N + offs_n

    # per channel: the adjoint arriving at the chunk's end from every later chunk; zero the sums
    for k in range(0, BLOCK_K):
        d = d0 + k
        A2v = tl.load(A_ptr + d * N + offs_n, mask=mask_n, other=0.0) * LOG2E
        p = tl.zeros([BLOCK_N], dtype=tl.float32)
        if HAS_DLAST:
            p = tl.load(dlast_ptr + (b * dim + d) * N + offs_n, mask=mask_n, other=0.0)
        if CHUNKED:
            for i in range(0, n_chunks - 1 - c):
                base = (b * n_chunks + n_chunks - 1 - i) * dim + d
                Sj = tl.load(sumS_ptr + base)
                p = (tl.load(sumP_ptr + base * N + offs_n, mask=mask_n, other=0.0)
                     + tl.exp2(A2v * Sj) * p)
        tl.store(carry + k * BLOCK_N, p)
        tl.store(dA_ptr + row + d * N + offs_n, tl.zeros([BLOCK_N], dtype=tl.float32),
                 mask=mask_n)
        tl.store(dD_ptr + row + d, 0.0)
        tl.store(dbias_ptr + row + d, 0.0)
    tl.debug_barrier()

    B_rows = B_ptr + b * stride_B_batch + g * stride_B_group + offs_n[:, None] * stride_B_state
    C_rows = C_ptr + b * stride_C_batch + g * stride_C_group + offs_n[:, None] * stride_C_state
    part = (db * batch + b) * L * N + offs_n[:, None]  # step 0's row of the dB/dC partials
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    n_tiles = tl.cdiv(t_end - t_begin, BLOCK_T)
    for i in range(0, n_tiles):
        t0 = t_begin + (n_tiles - 1 - i) * BLOCK_T
        t = t0 + offs_t
        m = t < t_end
        mnt = mask_n[:, None] & m[None, :]
        Bt = tl.load(B_rows + t[None, :] * stride_B_len, mask=mnt, other=0.0).to(tl.float32)
        Ct = tl.load(C_rows + t[None, :] * stride_C_len, mask=mnt, other=0.0).to(tl.float32)
        dB_acc = tl.zeros([BLOCK_N, BLOCK_T], dtype=tl.float32)
        dC_acc = tl.zeros([BLOCK_N, BLOCK_T], dtype=tl.float32)
        for k in tl.range(0, BLOCK_K, num_stages=STAGES):
            d = d0 + k
            A = tl.load(A_ptr + d * N + offs_n, mask=mask_n, other=0.0)[:, None]
            A2 = A * LOG2E
            bias = 0.0
            if HAS_BIAS:
                bias = tl.load(bias_ptr + d).to(tl.float32)
            Dv = 0.0
            if HAS_D:
                Dv = tl.load(D_ptr + d).to(tl.float32)
            dl_row = delta_ptr + b * stride_delta_batch + d * stride_delta_dim
            dl, raw = _delta(dl_row, t, stride_delta_len, m, bias, HAS_BIAS, SOFTPLUS)
            dln, _ = _delta(dl_row, t + 1, stride_delta_len, t + 1 < L, bias, HAS_BIAS, SOFTPLUS)
            u = tl.load(u_ptr + b * stride_u_batch + d * stride_u_dim + t * stride_u_len,
                        mask=m, other=0.0).to(tl.float32)
            z_row, yp_row, dz_row = _gate_rows(z_ptr, ypre_ptr, dz_ptr, b, d, stride_z_batch,
                                               stride_z_dim, stride_yp_batch, stride_yp_dim,
                                               stride_dz_batch, stride_dz_dim)
            dy = _dy_dz(dout_ptr + b * stride_dout_batch + d * stride_dout_dim, z_row, yp_row,
                        dz_row, t, stride_dout_len, stride_z_len, stride_yp_len, stride_dz_len, m,
                        GATE)

            # the tile's states again, from the forward's checkpoint at its first step
            h = tl.load(ckpt_ptr + ((b * n_ckpt + t0 // BLOCK_T) * dim + d) * N + offs_n,
                        mask=mask_n, other=0.0)
            a = tl.exp2(A2 * dl[None, :])
            x = Bt * (dl * u)[None, :]
            _, hs = tl.associative_scan((a, tl.where(first, x + a * h[:, None], x)), axis=1,
                                        combine_fn=_first_order)
            gs = _adjoint(A2, dln, Ct, dy, tl.load(carry + k * BLOCK_N), last_col)

            ah = hs - x  # a_t h_{t-1}
            ga = gs * ah
            gB = tl.sum(gs * Bt, axis=0)
            du = dy * Dv + dl * gB
            ddl = u * gB + tl.sum(ga * A, axis=0)
            if SOFTPLUS:
                ddl = ddl * tl.sigmoid(raw)
            ddl = tl.where(m, ddl, 0.0)
            out = (b * dim + d) * L + t  # du, ddelta are contiguous (batch, dim, L)
            tl.store(du_ptr + out, du.to(du_ptr.dtype.element_ty), mask=m)
            tl.store(ddelta_ptr + out, ddl.to(ddelta_ptr.dtype.element_ty), mask=m)
            dB_acc += gs * (dl * u)[None, :]
            dC_acc += hs * dy[None, :]

            dA_at = dA_ptr + row + d * N + offs_n
            tl.store(dA_at, tl.load(dA_at, mask=mask_n, other=0.0)
                     + tl.sum(ga * dl[None, :], axis=1), mask=mask_n)
            tl.store(dD_ptr + row + d, tl.load(dD_ptr + row + d) + tl.sum(dy * u, axis=0))
            tl.store(dbias_ptr + row + d, tl.load(dbias_ptr + row + d) + tl.sum(ddl, axis=0))
            tl.store(carry + k * BLOCK_N, tl.sum(tl.where(first, a * gs, 0.0), axis=1))
        tl.store(dB_ptr + part + t[None, :] * N, dB_acc, mask=mnt)
        tl.store(dC_ptr + part + t[None, :] * N, dC_acc, mask=mnt)
        tl.debug_barrier()  # this tile's carries and sums before the next tile reads them

    if WANT_DH0:
        if c == 0:
            for k in range(0, BLOCK_K):
                tl.store(dh0_ptr + (b * dim + d0 + k) * N + offs_n, tl.load(carry + k * BLOCK_N),
                         mask=mask_n)


def _gate_operands(dout, gate):
    """The gate's operands for the kernels: z, y before the gate and dz (dout three times where
    gate is None: never read), then their strides."""
    z, ypre, dz = gate if gate is not None else (dout, dout, dout)
    return (z, ypre, dz), (*z.stride(), *ypre.stride(), *dz.stride())


@dataclass(frozen=True)
class _Split:
    """The tiled backward's channel blocks (inside one group of B and C) and chunks of L."""
    block_k: int
    n_dblocks: int
    chunk_len: int
    n_chunks: int


def _split(batch, dim, L, dim_per_group, sms, cfg) -> _Split:
    block_k = largest_pow2_dividing(dim_per_group, cfg.bwd_block_k)
    n_dblocks = dim // block_k
    chunk_len, n_chunks = chunks(L, batch * n_dblocks, cfg.programs_per_sm, sms, cfg.bwd_tile_t,
                                 cfg, cfg.bwd_chunks)
    return _Split(block_k, n_dblocks, chunk_len, n_chunks)


def bwd_tiled(cfg, u, delta, A32, B4, C4, *, D, delta_bias, ckpt, dout, gate, dlast, want_dh0,
              block_n, softplus, b_ndim, bc_dtypes):
    """Launch the tiled backward: B4, C4 are B and C as 4-d (batch, groups, N, L) tensors, the other
    arguments and the results as ``scan_bwd_step.bwd_step``'s."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    groups = B4.shape[1]
    dim_per_group = dim // groups
    plan = _split(batch, dim, L, dim_per_group, sm_count(u.device), cfg)
    f32 = dict(device=u.device, dtype=torch.float32)
    options = dict(BLOCK_N=block_n, BLOCK_T=cfg.bwd_tile_t, HAS_BIAS=delta_bias is not None,
                   SOFTPLUS=softplus, num_warps=cfg.bwd_warps)
    (z, ypre, dz), gate_strides = _gate_operands(dout, gate)
    options["GATE"] = gate is not None
    sumP = sumS = None
    if plan.n_chunks > 1:
        sumP = torch.empty(batch, plan.n_chunks, dim, N, **f32)
        sumS = torch.empty(batch, plan.n_chunks, dim, **f32)
        _ss_bwd_summary_kernel[(batch * dim, plan.n_chunks - 1)](
            delta, A32, C4, delta_bias, dout, z, sumP, sumS,
            dim, L, N, dim_per_group, plan.chunk_len, plan.n_chunks,
            *delta.stride(), *C4.stride(), *dout.stride(), *gate_strides[:3], **options)
    rows = batch * plan.n_chunks
    du = torch.empty(batch, dim, L, device=u.device, dtype=u.dtype)
    ddelta = torch.empty(batch, dim, L, device=u.device, dtype=delta.dtype)
    dbc = dbc_parts(plan.n_dblocks, batch, L, N, u.device)
    sums, sum_parts = param_sums(rows, dim, N, u.device)
    dh0 = torch.empty(batch, dim, N, **f32) if want_dh0 else None
    carry = torch.empty(batch * plan.n_dblocks * plan.n_chunks * plan.block_k * block_n, **f32)
    _ss_bwd_kernel[(batch * plan.n_dblocks, plan.n_chunks)](
        u, delta, A32, B4, C4, D, delta_bias, dout, dlast, ckpt, sumP, sumS, z, ypre, dz, carry,
        du, ddelta, dbc[0], dbc[1], *sum_parts, dh0,
        batch, dim, L, N, plan.n_dblocks, plan.chunk_len, plan.n_chunks, ckpt.shape[1],
        dim_per_group, sums.stride(0),
        *u.stride(), *delta.stride(), *B4.stride(), *C4.stride(), *dout.stride(), *gate_strides,
        BLOCK_K=plan.block_k, STAGES=cfg.bwd_stages, HAS_D=D is not None,
        HAS_DLAST=dlast is not None, CHUNKED=plan.n_chunks > 1, WANT_DH0=want_dh0, **options)
    return (du, ddelta, *reduce_dbc(dbc, groups, b_ndim, bc_dtypes),
            *reduce_param_sums(sums, dim, N), dh0)
