"""What every stage of the Triton selective scan shares: notation, Triton helpers, B/C rows.

Notation: a_t = exp(delta_t A) (dim, N), x_t = delta_t u_t B_t, h_t = a_t h_{t-1} + x_t,
y_t = C_t . h_t + D u_t, out_t = y_t silu(z_t). Backward: g_t = dL/dh_t obeys
g_t = C_t dy_t + a_{t+1} g_{t+1}, and p_t = a_t g_t is what step t sends to step t-1.

Two layouts. The tiled kernels (``scan_fwd_tiled``, ``scan_bwd_tiled``) walk L in tiles of BLOCK_T
steps, each tile's recurrence a parallel scan along time (``tl.associative_scan`` of the affine maps
h -> a h + b, reversed for g) over (BLOCK_N, BLOCK_T) in registers; they read B and C in place. The
step kernels (``scan_fwd_step``, ``scan_bwd_step``) give each program BLOCK_D channels of one batch
row whose (BLOCK_D, BLOCK_N) states it steps through time: Triton (3.6) spreads the 16 states over
16 lanes and the channels over the other lanes and the registers (32 channels in one warp: 16
channels x 1 state per thread), so a sum over N takes four rounds of shuffles and a sum over the
channels one (``benchmarks/kernel_resources.py`` counts them). They read B_t and C_t as
rows of copies in the inputs' dtype (``rows_of_n``: half the L1 traffic in bf16, which bounds the
output pass), zero-padded to BLOCK_N and past L so that they load without masks. Both layouts run
chunks of L side by side (``scan_chunk_carry``); helpers of either layout are below.
"""

import os

import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice

from .launch import cdiv

LOG2E = tl.constexpr(1.4426950408889634)
LN2 = tl.constexpr(0.6931471805599453)
# Compiled, tl.log is a polynomial of some twenty instructions, a fifth of the step forward's loop;
# libdevice's fast log2 is one (lg2.approx, relative error below 2^-21), but Triton's interpreter
# lacks it
FAST_LOG = tl.constexpr(os.environ.get("TRITON_INTERPRET", "0") != "1")


@triton.jit
def _softplus(x):
    e = 1.0 + tl.exp2(tl.minimum(x, 20.0) * LOG2E)
    if FAST_LOG:
        log_e = libdevice.fast_log2f(e) * LN2
    else:
        log_e = tl.log(e)
    return tl.where(x > 20.0, x, log_e)


@triton.jit
def _delta(dl_row, t, stride_delta_len, m, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """delta at steps t after bias and softplus (zero where masked: a = 1, x = 0), and before softplus."""
    raw = tl.load(dl_row + t * stride_delta_len, mask=m, other=0.0).to(tl.float32)
    if HAS_BIAS:
        raw = raw + bias
    dl = raw
    if SOFTPLUS:
        dl = _softplus(raw)
    return tl.where(m, dl, 0.0), raw


@triton.jit
def _dy(o_row, t, stride_dout_len, m):
    """The gradient reaching y before the z gate at steps t (with z, _ss_gate_bwd_kernel's dy)."""
    return tl.load(o_row + t * stride_dout_len, mask=m, other=0.0).to(tl.float32)


@triton.jit
def _first_order(a1, b1, a2, b2):
    """Compose h -> a1 h + b1 then h -> a2 h + b2: the scan's combine."""
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _summary_program(A_ptr, bias_ptr, delta_ptr, dim, N, dim_per_group,
                     stride_delta_batch, stride_delta_dim, first_chunk,
                     BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, HAS_BIAS: tl.constexpr):
    """A summary kernel's program (one channel of one batch row, one chunk from first_chunk on):
    its batch row, channel, group and chunk, offsets, A x log2(e) as a column, delta_bias and the
    row of delta it walks."""
    pid = tl.program_id(0)
    b = (pid // dim).to(tl.int64)
    d = pid % dim
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    A2 = tl.load(A_ptr + d * N + offs_n, mask=mask_n, other=0.0)[:, None] * LOG2E
    bias = 0.0
    if HAS_BIAS:
        bias = tl.load(bias_ptr + d).to(tl.float32)
    return (b, d, d // dim_per_group, tl.program_id(1) + first_chunk, offs_n, tl.arange(0, BLOCK_T),
            mask_n, A2, bias, delta_ptr + b * stride_delta_batch + d * stride_delta_dim)


@triton.jit
def _cols4(X, BD: tl.constexpr):
    """The 4 columns of a (BD, 4) tile whose rows lie in one thread each (no data movement)."""
    P, Q = tl.split(tl.reshape(X, [BD, 2, 2]))  # columns 0, 2 and 1, 3
    c0, c2 = tl.split(P)
    c1, c3 = tl.split(Q)
    return c0, c1, c2, c3


@triton.jit
def _join4(c0, c1, c2, c3, BD: tl.constexpr):
    """Inverse of _cols4."""
    return tl.reshape(tl.join(tl.join(c0, c2), tl.join(c1, c3)), [BD, 4])


@triton.jit
def _halves(X, BD: tl.constexpr, W: tl.constexpr):
    """(BD, W) -> its first and second W/2 columns."""
    return tl.split(tl.permute(tl.reshape(X, [BD, 2, W // 2]), (0, 2, 1)))


@triton.jit
def _unhalve(X0, X1, BD: tl.constexpr, W: tl.constexpr):
    """Inverse of _halves."""
    return tl.reshape(tl.permute(tl.join(X0, X1), (0, 2, 1)), [BD, W])


@triton.jit
def _step(h, A2, dl, du, B_row, C_row, t, offs_n, BLOCK_N: tl.constexpr, WANT_Y: tl.constexpr):
    """One step for BD channels: h <- exp(delta A) h + delta u B_t, and y_t = C_t . h (if wanted).
    B_t and C_t are rows of BLOCK_N of the zero-padded copies (rows_of_n), loaded unmasked."""
    Bk = tl.load(B_row + t * BLOCK_N + offs_n).to(tl.float32)
    h = tl.exp2(A2 * dl[:, None]) * h + du[:, None] * Bk[None, :]
    y = dl  # unused without WANT_Y
    if WANT_Y:
        Ck = tl.load(C_row + t * BLOCK_N + offs_n).to(tl.float32)
        y = tl.sum(h * Ck[None, :], axis=1)
    return h, y


@triton.jit
def _steps4(h, A2, DL, DU, B_row, C_row, t, offs_n, BLOCK_N: tl.constexpr, BD: tl.constexpr,
            WANT_Y: tl.constexpr):
    """Four steps from (BD, 4) tiles of delta and delta u; y as a (BD, 4) tile."""
    d0, d1, d2, d3 = _cols4(DL, BD)
    x0, x1, x2, x3 = _cols4(DU, BD)
    h, y0 = _step(h, A2, d0, x0, B_row, C_row, t, offs_n, BLOCK_N, WANT_Y)
    h, y1 = _step(h, A2, d1, x1, B_row, C_row, t + 1, offs_n, BLOCK_N, WANT_Y)
    h, y2 = _step(h, A2, d2, x2, B_row, C_row, t + 2, offs_n, BLOCK_N, WANT_Y)
    h, y3 = _step(h, A2, d3, x3, B_row, C_row, t + 3, offs_n, BLOCK_N, WANT_Y)
    return h, _join4(y0, y1, y2, y3, BD)


@triton.jit
def _steps(h, A2, DL, DU, B_row, C_row, t, offs_n, BLOCK_N: tl.constexpr, BD: tl.constexpr,
           W: tl.constexpr, WANT_Y: tl.constexpr):
    """W (4, 8, 16) steps from (BD, W) tiles of delta and delta u; y as a (BD, W) tile."""
    if W == 4:
        h, Y = _steps4(h, A2, DL, DU, B_row, C_row, t, offs_n, BLOCK_N, BD, WANT_Y)
    else:
        D0, D1 = _halves(DL, BD, W)
        X0, X1 = _halves(DU, BD, W)
        h, Y0 = _steps(h, A2, D0, X0, B_row, C_row, t, offs_n, BLOCK_N, BD, W // 2, WANT_Y)
        h, Y1 = _steps(h, A2, D1, X1, B_row, C_row, t + W // 2, offs_n, BLOCK_N, BD, W // 2,
                       WANT_Y)
        Y = _unhalve(Y0, Y1, BD, W)
    return h, Y


@triton.jit
def _tile_t(t0, t_end, offs_d, dim, UNROLL: tl.constexpr):
    """Steps t0 .. t0+UNROLL-1 (t0 a multiple of UNROLL) and the (BLOCK_D, UNROLL) mask of a tile."""
    t = tl.max_contiguous(tl.multiple_of(t0 + tl.arange(0, UNROLL), UNROLL), UNROLL)
    return t, (offs_d[:, None] < dim) & (t[None, :] < t_end)


@triton.jit
def _tile_in(dl_row, u_row, t0, t_end, offs_d, dim, stride_delta_len, stride_u_len, bias,
             UNROLL: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Steps t0 .. t0+UNROLL-1 (a multiple of UNROLL on), their mask, and (BLOCK_D, UNROLL) tiles of
    delta (after bias and softplus; 0 past the end, so h passes), u and delta before softplus."""
    t, mt = _tile_t(t0, t_end, offs_d, dim, UNROLL)
    DL, raw = _delta(dl_row[:, None], t[None, :], stride_delta_len, mt, bias[:, None], HAS_BIAS,
                     SOFTPLUS)
    U = tl.load(u_row[:, None] + t[None, :] * stride_u_len, mask=mt, other=0.0).to(tl.float32)
    return t, mt, DL, U, raw


@triton.jit
def _step_program(A_ptr, bias_ptr, D_ptr, dim, N, n_dblocks, dim_per_group, stride_rows_group,
                  BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
                  HAS_BIAS: tl.constexpr, HAS_D: tl.constexpr):
    """A step kernel's program: its id, batch row, channel block and chunk, their offsets and masks,
    A, delta_bias and D of its channels, and where its rows of B and C start in their
    ``rows_of_n`` copies (stride_rows_group elements per batch row and group)."""
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    db = pid % n_dblocks
    d0 = db * BLOCK_D
    offs_d = d0 + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    mask_dn = (offs_d[:, None] < dim) & mask_n[None, :]
    dn = offs_d[:, None] * N + offs_n[None, :]  # element (d, n) of a (dim, N) array
    A = tl.load(A_ptr + dn, mask=mask_dn, other=0.0)
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d).to(tl.float32)
    Dv = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d).to(tl.float32)
    rows = (b * (dim // dim_per_group) + d0 // dim_per_group) * stride_rows_group
    return pid, b, db, tl.program_id(1), offs_d, offs_n, mask_n, mask_dn, dn, A, bias, Dv, rows


def rows_of_n(X4, row_len):
    """(batch, groups, N, L) -> a (batch, groups, L', row_len) copy in X4's dtype, zero-padded to
    row_len >= N and to L' = L rounded up to 16 steps: the step kernels read one row per step,
    unmasked (a padded step's zeros leave h and the sums as they are; its outputs are masked)."""
    batch, groups, N, L = X4.shape
    out = torch.empty(batch, groups, cdiv(L, 16) * 16, row_len, device=X4.device,
                      dtype=X4.dtype)
    if out.shape[2] > L:
        out[:, :, L:].zero_()
    if row_len > N:
        out[..., N:].zero_()
    out[:, :, :L, :N].copy_(X4.transpose(-1, -2))
    return out


def dbc_parts(n_dblocks, batch, L, N, device):
    """The backward kernels' partial sums of dB and dC per channel block, (2, n_dblocks, batch, L,
    N) float32 in one buffer, so that one reduction sums both."""
    return torch.empty(2, n_dblocks, batch, L, N, device=device, dtype=torch.float32)


def reduce_dbc(parts, groups, b_ndim, dtypes):
    """``dbc_parts``' buffer -> dB and dC in dtypes (B's, C's), (batch, N, L) or (batch, groups,
    N, L) views of step-major sums, which the model's x_proj backward reads as rows without a
    copy."""
    _, n_dblocks, batch, L, N = parts.shape
    sums = parts.view(2, groups, n_dblocks // groups, batch, L, N).sum(2)
    if dtypes[0] == dtypes[1]:
        dB, dC = sums.to(dtypes[0])
    else:
        dB, dC = sums[0].to(dtypes[0]), sums[1].to(dtypes[1])
    if b_ndim == 3:
        return dB[0].transpose(1, 2), dC[0].transpose(1, 2)
    return dB.permute(1, 0, 3, 2), dC.permute(1, 0, 3, 2)


def param_sums(rows, dim, N, device):
    """The backward programs' partial sums of dA (dim, N), dD and dbias (dim each), one row of all
    three per program row (batch x chunk) in one buffer, so that one reduction sums them: the
    buffer, and the three tensors whose pointers the kernels take (row stride: the buffer's)."""
    sums = torch.empty(rows, dim * (N + 2), device=device, dtype=torch.float32)
    return sums, (sums, sums[:, dim * N:], sums[:, dim * (N + 1):])


def reduce_param_sums(sums, dim, N):
    """``param_sums``' buffer -> dA (dim, N), dD (dim,), dbias (dim,)."""
    total = sums.sum(0)
    return total[:dim * N].view(dim, N), total[dim * N:dim * (N + 1)], total[dim * (N + 1):]
