"""The step forward of the selective scan: a program owns BLOCK_D channels of one batch row and one
chunk of L and steps their states through time, UNROLL steps per iteration (``scan_common`` says how
the state lies in the warp). It reads (BLOCK_D, UNROLL) tiles of delta and u, B_t and C_t as rows of
``rows_of_n`` copies, and writes a (BLOCK_D, UNROLL) tile of y. Chunks of L run side by side: a
summary pass of the same kernel gives each chunk's end state from zero and its sum of delta,
``scan_chunk_carry`` scans those over chunks into start states, and the output pass starts each
chunk from its own. Two exponentials per (state, step) and about ten instructions, with no shuffles
but the sum over N: faster than the tiled forward on large inputs. When gradients are wanted it
stores the state at every ckpt_len-th step and runs without z (``scan_gate`` gates after it: y
before the gate stored beside y made this kernel spill). The PyTorch reference is
``reference.selective_scan_ref``."""

import math

import torch
import triton
import triton.language as tl

from .launch import fast_launch
from .scan_chunk_carry import chunk_carry
from .scan_common import LOG2E, _step_program, _steps, _tile_in
from .scan_plan import largest_pow2_dividing, step_chunks


@triton.jit
def _tile_steps(h, dsum, A2, DL, U, t, mt, t0, B_row, C_row, z_ptr, z_row, y_ptr, y_row, ckpt_ptr,
                Dv, dn, mask_dn, offs_n, b, dim, N, ckpt_len, n_ckpt, stride_z_len, stride_y_len,
                BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, UNROLL: tl.constexpr,
                SUMMARY: tl.constexpr, HAS_D: tl.constexpr, HAS_Z: tl.constexpr,
                STORE_CKPT: tl.constexpr):
    """One tile of UNROLL steps: the checkpoint at its start (if due), the steps, and y (or, in the
    summary, the sum of delta). z_row, y_row: the channels' offsets in z and y."""
    if STORE_CKPT:
        if t0 % ckpt_len == 0:
            tl.store(ckpt_ptr + (b * n_ckpt + t0 // ckpt_len) * dim * N + dn, h, mask=mask_dn)
    h, Y = _steps(h, A2, DL, DL * U, B_row, C_row, t0, offs_n, BLOCK_N, BLOCK_D, UNROLL,
                  not SUMMARY)
    if SUMMARY:
        dsum += tl.sum(DL, axis=1)
    else:
        if HAS_D:
            Y += Dv[:, None] * U
        if HAS_Z:
            Z = tl.load(z_ptr + z_row[:, None] + t[None, :] * stride_z_len, mask=mt,
                        other=0.0).to(tl.float32)
            Y = Y * Z * tl.sigmoid(Z)
        tl.store(y_ptr + y_row[:, None] + t[None, :] * stride_y_len,
                 Y.to(y_ptr.dtype.element_ty), mask=mt)
    return h, dsum


@fast_launch
@triton.jit
def _ss_fwd_step_kernel(
        # inputs (D, z, delta_bias, start: None unless their HAS_ flag); B and C as rows_of_n rows
        u_ptr, delta_ptr, A_ptr, B_rows_ptr, C_rows_ptr, D_ptr, z_ptr, bias_ptr, start_ptr,
        # outputs (ckpt with STORE_CKPT; the chunk summaries sumH, sumS with SUMMARY)
        y_ptr, last_ptr, ckpt_ptr, sumH_ptr, sumS_ptr,
        # sizes
        dim, L, N, n_dblocks, dim_per_group, chunk_len, n_chunks, ckpt_len, n_ckpt,
        # strides
        stride_rows_group,
        stride_u_batch, stride_u_dim, stride_u_len,
        stride_delta_batch, stride_delta_dim, stride_delta_len,
        stride_z_batch, stride_z_dim, stride_z_len,
        stride_y_batch, stride_y_dim, stride_y_len,
        # tile and options
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, UNROLL: tl.constexpr, SUMMARY: tl.constexpr,
        HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_START: tl.constexpr, STORE_CKPT: tl.constexpr):
    """BLOCK_D channels of one batch row over one chunk of L, UNROLL steps per iteration,
    the (BLOCK_D, BLOCK_N) state in registers. SUMMARY: from a zero state, store the chunk's end state
    and sum of delta. Otherwise start from the chunk's start state (batch, n_chunks, dim, N), if
    any, and write y (and the state at every ckpt_len-th step)."""
    pid, b, db, c, offs_d, offs_n, mask_n, mask_dn, dn, A, bias, Dv, rows = _step_program(
        A_ptr, bias_ptr, D_ptr, dim, N, n_dblocks, dim_per_group, stride_rows_group,
        BLOCK_D, BLOCK_N, HAS_BIAS, HAS_D)
    B_row = B_rows_ptr + rows
    C_row = C_rows_ptr + rows
    u_row = u_ptr + b * stride_u_batch + offs_d * stride_u_dim
    dl_row = delta_ptr + b * stride_delta_batch + offs_d * stride_delta_dim
    z_row = b * stride_z_batch + offs_d * stride_z_dim
    y_row = b * stride_y_batch + offs_d * stride_y_dim
    A2 = A * LOG2E
    h = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_START:
        h = tl.load(start_ptr + (b * n_chunks + c) * dim * N + dn, mask=mask_dn, other=0.0)
    dsum = tl.zeros([BLOCK_D], dtype=tl.float32)
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    for t0 in range(t_begin, t_end, UNROLL):
        t, mt, DL, U, _ = _tile_in(dl_row, u_row, t0, t_end, offs_d, dim,
                                   stride_delta_len, stride_u_len, bias, UNROLL, HAS_BIAS, SOFTPLUS)
        h, dsum = _tile_steps(h, dsum, A2, DL, U, t, mt, t0, B_row, C_row, z_ptr, z_row,
                              y_ptr, y_row, ckpt_ptr, Dv, dn, mask_dn, offs_n, b, dim, N,
                              ckpt_len, n_ckpt, stride_z_len, stride_y_len,
                              BLOCK_D, BLOCK_N, UNROLL, SUMMARY, HAS_D, HAS_Z, STORE_CKPT)
    if SUMMARY:
        base = (b * n_chunks + c) * dim
        tl.store(sumH_ptr + base * N + dn, h, mask=mask_dn)
        tl.store(sumS_ptr + base + offs_d, dsum, mask=offs_d < dim)
    else:
        if c == n_chunks - 1:
            tl.store(last_ptr + b * dim * N + dn, h, mask=mask_dn)


def fwd_step(cfg, u, delta, A32, bc_rows, *, D, z, delta_bias, h0, y, last, ckpt, block_n,
             softplus):
    """Launch the step forward: with chunks of L, a summary pass over the chunks but the last, a
    scan over chunks for their start states, then the output pass. bc_rows: B's and C's
    ``rows_of_n`` copies. Writes y (gated when z is not None), the last state and, with ckpt, the
    backward's checkpoints."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    want_grad = ckpt is not None
    B_rows, C_rows = bc_rows
    dim_per_group = dim // B_rows.shape[1]
    block_d = largest_pow2_dividing(dim_per_group, cfg.step_block_d)
    n_dblocks = dim // block_d
    # checkpoints land on iteration starts: the unroll divides the backward's tile
    unroll = math.gcd(cfg.step_unroll, cfg.bwd_tile_t) if want_grad else cfg.step_unroll
    chunk_len, n_chunks = step_chunks(L, batch * n_dblocks, unroll, cfg.fwd_chunks, cfg, u.device)
    f32 = dict(device=u.device, dtype=torch.float32)
    start, sumH, sumS = h0, None, None
    if n_chunks > 1:
        sumH = torch.empty(batch, n_chunks, dim, N, **f32)
        sumS = torch.empty(batch, n_chunks, dim, **f32)
        start = torch.empty(batch, n_chunks, dim, N, **f32)

    def launch(n_programs, start, summary):
        _ss_fwd_step_kernel[(batch * n_dblocks, n_programs)](
            u, delta, A32, B_rows, C_rows, D, z, delta_bias, start,
            y, last, ckpt if not summary else None, sumH, sumS,
            dim, L, N, n_dblocks, dim_per_group, chunk_len, n_chunks, cfg.bwd_tile_t,
            ckpt.shape[1] if want_grad else 1,
            B_rows.stride(1), *u.stride(), *delta.stride(),
            *(z.stride() if z is not None else (0, 0, 0)), *y.stride(),
            BLOCK_D=block_d, BLOCK_N=block_n, UNROLL=unroll, SUMMARY=summary,
            HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
            SOFTPLUS=softplus, HAS_START=start is not None,
            STORE_CKPT=want_grad and not summary, num_warps=cfg.step_warps)
    if n_chunks > 1:
        launch(n_chunks - 1, None, summary=True)
        chunk_carry(A32, h0, sumH, sumS, start, reverse=False)
    launch(n_chunks, start, summary=False)
