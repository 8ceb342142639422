"""Triton kernels of the selective scan (forward and backward).

Notation: a_t = exp(delta_t A) (dim, N), x_t = delta_t u_t B_t, h_t = a_t h_{t-1} + x_t,
y_t = C_t . h_t + D u_t, out_t = y_t silu(z_t). Backward: g_t = dL/dh_t obeys
g_t = C_t dy_t + a_{t+1} g_{t+1}, and p_t = a_t g_t is what step t sends to step t-1.

Two forwards. The step forward (_ss_fwd_step_kernel): a program owns BLOCK_D channels of one batch
row and one chunk of L and steps their states through time, UNROLL steps per iteration (as Triton
lays out 32 channels in one warp, each thread holds 4 channels x 4 states and 4 lanes share a
channel). It reads (BLOCK_D, UNROLL) tiles of delta and u, B_t and C_t as rows of copies in the
inputs' dtype (half the L1 traffic in bf16, which bounds the output pass) zero-padded to BLOCK_N and
past L (loaded without masks; all step kernels share them), and writes a (BLOCK_D, UNROLL) tile of
y. Chunks of L run side by side: a summary pass of the same kernel gives each chunk's end state from
zero and its sum of delta, _ss_chunk_carry_kernel scans those over chunks into start states, and
the output pass starts each chunk from its own. Two exponentials per (state, step) and about ten
instructions, with no shuffles but the sum over N: faster than the tiled forward on large inputs.

The tiled forward (_ss_fwd_tiled_kernel) and the backward walk L in tiles of BLOCK_T steps; a tile's
recurrence is a parallel scan along time (``tl.associative_scan`` of the affine maps h -> a h + b,
reversed for g) over (BLOCK_N, BLOCK_T) in registers, seeded with what the neighbouring tile left.
Loads and stores are contiguous runs along L; B and C are read in place. The tiled forward: one
program per (batch row, channel, chunk of L). Where batch x dim alone would leave the GPU underused,
L is cut into chunks: a summary pass gives each chunk's end state from a zero start (an exponential
of the delta summed after each step, no scan) and its sum of delta, and each chunk's program folds
the earlier chunks' summaries into its start state. Either forward, when gradients are wanted,
stores the state at every ckpt_len-th step (the backward's tile starts) and, with z, y before the
gate (the step forward then runs without z and _ss_gate_fwd_kernel gates after it). The
backwards take no z: with z, _ss_gate_bwd_kernel first turns the incoming gradient into dz and the
gradient reaching y before the gate, elementwise, from that stored y.

Two backwards; both run chunks of L side by side. A summary pass gives, per (batch row, channel,
chunk), the p that the chunk's own outputs send out of its first step and the chunk's sum of delta
(its product of decays is exp(A * sum delta)). The step backward (_ss_bwd_step_kernel) takes the
step forward's layout, and so does its summary pass (_ss_bwd_step_summary_kernel):
_ss_chunk_carry_kernel scans the summaries backward into the adjoint arriving at each chunk's end;
per segment of ckpt_len steps a program recomputes from the forward's checkpoint the states at every
4-step tile start into its scratch, then walks the tiles
backward, recomputing each tile's states and stepping the adjoint back through them; dB_t and dC_t
are summed over its channels at every step. The tiled backward (_ss_bwd_kernel) folds the later chunks'
summaries itself; a program owns BLOCK_K channels of one batch row and one chunk: tile by tile from
the chunk's end, it recomputes each channel's states from the forward's checkpoint, scans the
adjoint, and sums the channels' dB and dC contributions in registers, so only one partial per
BLOCK_K channels is written.
"""

import os

import triton
import triton.language as tl
from triton.language.extra import libdevice

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
def _delta(dl_row, t, sd_l, m, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """delta at steps t after bias and softplus (zero where masked: a = 1, x = 0), and before softplus."""
    raw = tl.load(dl_row + t * sd_l, mask=m, other=0.0).to(tl.float32)
    if HAS_BIAS:
        raw = raw + bias
    dl = raw
    if SOFTPLUS:
        dl = _softplus(raw)
    return tl.where(m, dl, 0.0), raw


@triton.jit
def _dy(o_row, t, so_l, m):
    """The gradient reaching y before the z gate (with z, _ss_gate_bwd_kernel's dy)."""
    return tl.load(o_row + t * so_l, mask=m, other=0.0).to(tl.float32)


@triton.jit
def _gate_program(ypre_ptr, z_ptr, dim, L, sz_b, sz_d, sz_l,
                  BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """A gate kernel's program, a (BLOCK_D channels, BLOCK_L steps) tile of one batch row (grid:
    blocks of L, then batch row x channel blocks): the batch row, channel and step offsets, the
    tile's offsets in a contiguous (batch, dim, L) array, its mask, z and y before the gate
    (contiguous). Tiles, not rows: z and the incoming gradient may run along channels (the model
    passes them channels-last), and each load is coalesced along whichever axis has stride 1."""
    n_dblocks = tl.cdiv(dim, BLOCK_D)
    b = (tl.program_id(1) // n_dblocks).to(tl.int64)
    d = (tl.program_id(1) % n_dblocks) * BLOCK_D + tl.arange(0, BLOCK_D)[:, None]
    t = tl.program_id(0).to(tl.int64) * BLOCK_L + tl.arange(0, BLOCK_L)[None, :]
    m = (d < dim) & (t < L)
    z = tl.load(z_ptr + b * sz_b + d * sz_d + t * sz_l, mask=m, other=0.0).to(tl.float32)
    at = (b * dim + d) * L + t
    y = tl.load(ypre_ptr + at, mask=m, other=0.0).to(tl.float32)
    return b, d, t, at, m, z, y


@triton.jit
def _ss_gate_fwd_kernel(ypre_ptr, z_ptr, y_ptr, dim, L, sz_b, sz_d, sz_l,
                        BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """The z gate after the step forward when gradients are wanted (the backward keeps y before the
    gate), out = y silu(z), per tile of _gate_program; y and out are contiguous."""
    _, _, _, at, m, z, y = _gate_program(ypre_ptr, z_ptr, dim, L, sz_b, sz_d, sz_l, BLOCK_D,
                                         BLOCK_L)
    tl.store(y_ptr + at, (y * z * tl.sigmoid(z)).to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def _ss_gate_bwd_kernel(dout_ptr, z_ptr, ypre_ptr, dy_ptr, dz_ptr, dim, L,
                        so_b, so_d, so_l, sz_b, sz_d, sz_l,
                        BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """The z gate's backward, out = y silu(z), before the scan's: per tile of _gate_program,
    dy = dout silu(z) (fp32) and dz = dout y sigmoid(z) (1 + z (1 - sigmoid(z))), from the y
    before the gate that the forward stored; dy, dz and y are contiguous (batch, dim, L)."""
    b, d, t, at, m, z, y = _gate_program(ypre_ptr, z_ptr, dim, L, sz_b, sz_d, sz_l, BLOCK_D,
                                         BLOCK_L)
    dout = tl.load(dout_ptr + b * so_b + d * so_d + t * so_l, mask=m, other=0.0).to(tl.float32)
    sz = tl.sigmoid(z)
    tl.store(dy_ptr + at, dout * z * sz, mask=m)
    tl.store(dz_ptr + at, (dout * y * sz * (1.0 + z * (1.0 - sz))).to(dz_ptr.dtype.element_ty),
             mask=m)


@triton.jit
def _first_order(a1, b1, a2, b2):
    """Compose h -> a1 h + b1 then h -> a2 h + b2: the scan's combine."""
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _summary_program(A_ptr, bias_ptr, dl_ptr, dim, N, dpg, sd_b, sd_d, first_chunk,
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
    return (b, d, d // dpg, tl.program_id(1) + first_chunk, offs_n, tl.arange(0, BLOCK_T), mask_n,
            A2, bias, dl_ptr + b * sd_b + d * sd_d)


@triton.jit
def _ss_fwd_summary_kernel(
        u_ptr, dl_ptr, A_ptr, B_ptr, bias_ptr, sumH_ptr, sumS_ptr,
        dim, L, N, dpg, chunk_len, n_chunks,
        su_b, su_d, su_l, sd_b, sd_d, sd_l, sB_b, sB_g, sB_n, sB_l,
        BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr,
        HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Per (batch row, channel, chunk but the last): the chunk's end state from a zero start,
    sum over t of exp(A (delta_t+1 + ... + delta_end)) x_t (decays at most 1: one exponential of the
    delta summed after t is safe), walking the chunk's tiles from its end, and its sum of delta."""
    b, d, g, c, offs_n, offs_t, mask_n, A2, bias, dl_row = _summary_program(
        A_ptr, bias_ptr, dl_ptr, dim, N, dpg, sd_b, sd_d, 0, BLOCK_N, BLOCK_T, HAS_BIAS)
    u_row = u_ptr + b * su_b + d * su_d
    B_rows = B_ptr + b * sB_b + g * sB_g + offs_n[:, None] * sB_n
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    n_tiles = tl.cdiv(t_end - t_begin, BLOCK_T)
    acc = tl.zeros([BLOCK_N, BLOCK_T], dtype=tl.float32)
    R = tl.zeros([BLOCK_T], dtype=tl.float32)  # sum of delta after the tile, in every lane
    for i in range(0, n_tiles):
        t = t_begin + (n_tiles - 1 - i) * BLOCK_T + offs_t
        m = t < t_end
        dl, _ = _delta(dl_row, t, sd_l, m, bias, HAS_BIAS, SOFTPLUS)
        u = tl.load(u_row + t * su_l, mask=m, other=0.0).to(tl.float32)
        Bt = tl.load(B_rows + t[None, :] * sB_l, mask=mask_n[:, None] & m[None, :],
                     other=0.0).to(tl.float32)
        tile_sum = tl.sum(dl, axis=0)
        after = R + tile_sum - tl.cumsum(dl, axis=0)  # delta summed over the steps after t
        acc += tl.exp2(A2 * after[None, :]) * Bt * (dl * u)[None, :]
        R += tile_sum
    base = (b * n_chunks + c) * dim + d
    tl.store(sumH_ptr + base * N + offs_n, tl.sum(acc, axis=1), mask=mask_n)
    tl.store(sumS_ptr + base, tl.max(R, axis=0))


@triton.jit
def _ss_fwd_tiled_kernel(
        u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, h0_ptr,
        y_ptr, ypre_ptr, last_ptr, ckpt_ptr, sumH_ptr, sumS_ptr,
        dim, L, N, dpg, chunk_len, n_chunks, ckpt_len, n_ckpt,
        su_b, su_d, su_l, sd_b, sd_d, sd_l, sB_b, sB_g, sB_n, sB_l, sC_b, sC_g, sC_n, sC_l,
        sz_b, sz_d, sz_l, sy_b, sy_d, sy_l,
        BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, STAGES: tl.constexpr,
        HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_H0: tl.constexpr, STORE_CKPT: tl.constexpr):
    """One program per (batch row, channel, chunk of L): the chunk's start state folded from the
    earlier chunks' summaries, then one pass over the chunk in tiles of BLOCK_T steps, each tile's
    recurrence a parallel scan along time over (BLOCK_N, BLOCK_T) in registers, started from the
    state the previous tile left; every load and store is a contiguous run along L."""
    pid = tl.program_id(0)
    b = (pid // dim).to(tl.int64)
    d = pid % dim
    g = d // dpg
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
    for j in range(0, c):  # the state at this chunk's start
        base = (b * n_chunks + j) * dim + d
        Sj = tl.load(sumS_ptr + base)
        h = tl.exp2(A2v * Sj) * h + tl.load(sumH_ptr + base * N + offs_n, mask=mask_n, other=0.0)

    u_row = u_ptr + b * su_b + d * su_d
    dl_row = dl_ptr + b * sd_b + d * sd_d
    z_row = z_ptr + b * sz_b + d * sz_d
    y_row = y_ptr + b * sy_b + d * sy_d
    ypre_row = ypre_ptr + b * sy_b + d * sy_d  # y's strides
    B_rows = B_ptr + b * sB_b + g * sB_g + offs_n[:, None] * sB_n
    C_rows = C_ptr + b * sC_b + g * sC_g + offs_n[:, None] * sC_n
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
        dl, _ = _delta(dl_row, t, sd_l, m, bias, HAS_BIAS, SOFTPLUS)  # past the end: h passes
        u = tl.load(u_row + t * su_l, mask=m, other=0.0).to(tl.float32)
        Bt = tl.load(B_rows + t[None, :] * sB_l, mask=mnt, other=0.0).to(tl.float32)
        Ct = tl.load(C_rows + t[None, :] * sC_l, mask=mnt, other=0.0).to(tl.float32)
        a = tl.exp2(A2 * dl[None, :])
        x = Bt * (dl * u)[None, :]
        x = tl.where(first, x + a * h[:, None], x)  # fold the carried state into step 0
        _, hs = tl.associative_scan((a, x), axis=1, combine_fn=_first_order)
        y = tl.sum(hs * Ct, axis=0) + Dv * u
        if HAS_Z:
            if STORE_CKPT:
                tl.store(ypre_row + t * sy_l, y.to(ypre_ptr.dtype.element_ty), mask=m)
            z = tl.load(z_row + t * sz_l, mask=m, other=0.0).to(tl.float32)
            y = y * z * tl.sigmoid(z)
        tl.store(y_row + t * sy_l, y.to(y_ptr.dtype.element_ty), mask=m)
        h = tl.sum(tl.where(last_col, hs, 0.0), axis=1)
    if c == n_chunks - 1:
        tl.store(last_ptr + state, h, mask=mask_n)


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
    B_t and C_t are rows of BLOCK_N of the zero-padded copies (_rows_of_n), loaded unmasked."""
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
def _tile_in(dl_row, u_row, t0, t_end, offs_d, dim, sd_l, su_l, bias, UNROLL: tl.constexpr,
             HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Steps t0 .. t0+UNROLL-1 (a multiple of UNROLL on), their mask, and (BLOCK_D, UNROLL) tiles of
    delta (after bias and softplus; 0 past the end, so h passes), u and delta before softplus."""
    t, mt = _tile_t(t0, t_end, offs_d, dim, UNROLL)
    DL, raw = _delta(dl_row[:, None], t[None, :], sd_l, mt, bias[:, None], HAS_BIAS, SOFTPLUS)
    U = tl.load(u_row[:, None] + t[None, :] * su_l, mask=mt, other=0.0).to(tl.float32)
    return t, mt, DL, U, raw


@triton.jit
def _tile_steps(h, dsum, A2, DL, U, t, mt, t0, B_row, C_row, z_row, y_row, ckpt_ptr, Dv, dn, mask_dn,
                offs_n, b, dim, N, ckpt_len, n_ckpt, sz_l, sy_l, BLOCK_D: tl.constexpr,
                BLOCK_N: tl.constexpr, UNROLL: tl.constexpr, SUMMARY: tl.constexpr,
                HAS_D: tl.constexpr, HAS_Z: tl.constexpr, STORE_CKPT: tl.constexpr):
    """One tile of UNROLL steps: the checkpoint at its start (if due), the steps, and y (or, in the
    summary, the sum of delta)."""
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
            Z = tl.load(z_row[:, None] + t[None, :] * sz_l, mask=mt, other=0.0).to(tl.float32)
            Y = Y * Z * tl.sigmoid(Z)
        tl.store(y_row[:, None] + t[None, :] * sy_l, Y.to(y_row.dtype.element_ty), mask=mt)
    return h, dsum


@triton.jit
def _step_program(A_ptr, bias_ptr, D_ptr, Bt_ptr, Ct_ptr, u_ptr, dl_ptr, dim, N, n_dblocks, dpg,
                  sr_g, su_b, su_d, sd_b, sd_d, BLOCK_D: tl.constexpr,
                  BLOCK_N: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_D: tl.constexpr):
    """A step kernel's program: its id, batch row, channel block and chunk, their offsets and masks,
    A, delta_bias and D of its channels, and the rows of B and C (_rows_of_n, sr_g elements per
    batch row and group), u and delta that it walks."""
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
    g = d0 // dpg
    B_row = Bt_ptr + (b * (dim // dpg) + g) * sr_g
    C_row = Ct_ptr + (b * (dim // dpg) + g) * sr_g
    u_row = u_ptr + b * su_b + offs_d * su_d
    dl_row = dl_ptr + b * sd_b + offs_d * sd_d
    return (pid, b, db, tl.program_id(1), offs_d, offs_n, mask_n, mask_dn, dn, A, bias, Dv, B_row,
            C_row, u_row, dl_row)


@triton.jit
def _ss_fwd_step_kernel(
        u_ptr, dl_ptr, A_ptr, Bt_ptr, Ct_ptr, D_ptr, z_ptr, bias_ptr, start_ptr,
        y_ptr, last_ptr, ckpt_ptr, sumH_ptr, sumS_ptr,
        dim, L, N, n_dblocks, dpg, chunk_len, n_chunks, ckpt_len, n_ckpt, sr_g,
        su_b, su_d, su_l, sd_b, sd_d, sd_l, sz_b, sz_d, sz_l, sy_b, sy_d, sy_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, UNROLL: tl.constexpr, SUMMARY: tl.constexpr,
        HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_START: tl.constexpr, STORE_CKPT: tl.constexpr):
    """BLOCK_D channels of one batch row over one chunk of L, UNROLL steps per iteration,
    the (BLOCK_D, BLOCK_N) state in registers. SUMMARY: from a zero state, store the chunk's end state
    and sum of delta. Otherwise start from the chunk's start state (batch, n_chunks, dim, N), if
    any, and write y (and the state at every ckpt_len-th step)."""
    pid, b, db, c, offs_d, offs_n, mask_n, mask_dn, dn, A, bias, Dv, B_row, C_row, u_row, dl_row = \
        _step_program(A_ptr, bias_ptr, D_ptr, Bt_ptr, Ct_ptr, u_ptr, dl_ptr, dim, N, n_dblocks, dpg,
                      sr_g, su_b, su_d, sd_b, sd_d, BLOCK_D, BLOCK_N, HAS_BIAS, HAS_D)
    z_row = z_ptr + b * sz_b + offs_d * sz_d
    A2 = A * LOG2E
    h = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_START:
        h = tl.load(start_ptr + (b * n_chunks + c) * dim * N + dn, mask=mask_dn, other=0.0)
    y_row = y_ptr + b * sy_b + offs_d * sy_d
    dsum = tl.zeros([BLOCK_D], dtype=tl.float32)
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    for t0 in range(t_begin, t_end, UNROLL):
        t, mt, DL, U, _ = _tile_in(dl_row, u_row, t0, t_end, offs_d, dim, sd_l, su_l, bias, UNROLL,
                                   HAS_BIAS, SOFTPLUS)
        h, dsum = _tile_steps(h, dsum, A2, DL, U, t, mt, t0, B_row, C_row, z_row, y_row, ckpt_ptr,
                              Dv, dn, mask_dn, offs_n, b, dim, N, ckpt_len, n_ckpt,
                              sz_l, sy_l, BLOCK_D, BLOCK_N, UNROLL, SUMMARY, HAS_D, HAS_Z,
                              STORE_CKPT)
    if SUMMARY:
        base = (b * n_chunks + c) * dim
        tl.store(sumH_ptr + base * N + dn, h, mask=mask_dn)
        tl.store(sumS_ptr + base + offs_d, dsum, mask=offs_d < dim)
    else:
        if c == n_chunks - 1:
            tl.store(last_ptr + b * dim * N + dn, h, mask=mask_dn)


@triton.jit
def _back_step(p, h_prev, A, A2, dl, du, dyk, u, B_row, C_row, t, offs_n, BLOCK_N: tl.constexpr):
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
    ddl = u * gB + tl.sum(ga * A, axis=1)
    dA = ga * dl[:, None]
    dB = tl.sum(g * du[:, None], axis=0)
    dC = tl.sum(h * dyk[:, None], axis=0)
    return a * g, gB, ddl, dA, dB, dC


@triton.jit
def _ss_bwd_step_kernel(
        u_ptr, dl_ptr, A_ptr, Bt_ptr, Ct_ptr, D_ptr, bias_ptr, dout_ptr, pin_ptr,
        ckpt_ptr, scratch_ptr,
        du_ptr, ddl_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dh0_ptr,
        batch, dim, L, N, n_dblocks, dpg, chunk_len, n_chunks, ckpt_len, n_ckpt, sr_g,
        su_b, su_d, su_l, sd_b, sd_d, sd_l, so_b, so_d, so_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, HAS_D: tl.constexpr,
        HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, HAS_PIN: tl.constexpr,
        WANT_DH0: tl.constexpr):
    """BLOCK_D channels of one batch row over one chunk, from its end, 4 steps per tile: per segment
    of ckpt_len steps (a multiple of 4) the states at its 4-step tile starts are recomputed from the
    forward's checkpoint into this program's scratch, then the tiles are walked backward, each
    tile's states recomputed again and the adjoint stepped back through them."""
    pid, b, db, c, offs_d, offs_n, mask_n, mask_dn, dn, A, bias, Dv, B_row, C_row, u_row, dl_row = \
        _step_program(A_ptr, bias_ptr, D_ptr, Bt_ptr, Ct_ptr, u_ptr, dl_ptr, dim, N, n_dblocks, dpg,
                      sr_g, su_b, su_d, sd_b, sd_d, BLOCK_D, BLOCK_N, HAS_BIAS, HAS_D)
    A2 = A * LOG2E
    p = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_PIN:
        p = tl.load(pin_ptr + (b * n_chunks + c) * dim * N + dn, mask=mask_dn, other=0.0)
    o_row = dout_ptr + b * so_b + offs_d * so_d
    out_row = (b * dim + offs_d) * L  # du, ddelta: contiguous (batch, dim, L)
    part = ((db * batch + b) * N + offs_n) * L  # of the (n_dblocks, batch, N, L) dB/dC partials
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
            DL, U = _tile_in(dl_row, u_row, s0 + 4 * j, t_end, offs_d, dim, sd_l, su_l, bias, 4,
                             HAS_BIAS, SOFTPLUS)[2:4]
            h = _steps4(h, A2, DL, DL * U, B_row, C_row, s0 + 4 * j, offs_n, BLOCK_N,
                        BLOCK_D, False)[0]
        tl.debug_barrier()
        for j in range(0, n_tiles):
            jj = n_tiles - 1 - j
            t0 = s0 + 4 * jj
            h = tl.load(scratch + jj * BLOCK_D * N, mask=mask_dn, other=0.0)
            t, mt, DL, U, RAW = _tile_in(dl_row, u_row, t0, t_end, offs_d, dim, sd_l, su_l, bias, 4,
                                         HAS_BIAS, SOFTPLUS)
            DY = _dy(o_row[:, None], t[None, :], so_l, mt)
            d_0, d_1, d_2, d_3 = _cols4(DL, BLOCK_D)
            x_0, x_1, x_2, x_3 = _cols4(DL * U, BLOCK_D)
            y_0, y_1, y_2, y_3 = _cols4(DY, BLOCK_D)
            u_0, u_1, u_2, u_3 = _cols4(U, BLOCK_D)
            # the states before steps 1, 2, 3 (before step 0: h)
            h1, _ = _step(h, A2, d_0, x_0, B_row, C_row, t0, offs_n, BLOCK_N, False)
            h2, _ = _step(h1, A2, d_1, x_1, B_row, C_row, t0 + 1, offs_n, BLOCK_N, False)
            h3, _ = _step(h2, A2, d_2, x_2, B_row, C_row, t0 + 2, offs_n, BLOCK_N, False)
            p, gB3, e3, a3, b3, c3 = _back_step(p, h3, A, A2, d_3, x_3, y_3, u_3, B_row, C_row,
                                                t0 + 3, offs_n, BLOCK_N)
            p, gB2, e2, a2, b2, c2 = _back_step(p, h2, A, A2, d_2, x_2, y_2, u_2, B_row, C_row,
                                                t0 + 2, offs_n, BLOCK_N)
            p, gB1, e1, a1, b1, c1 = _back_step(p, h1, A, A2, d_1, x_1, y_1, u_1, B_row, C_row,
                                                t0 + 1, offs_n, BLOCK_N)
            p, gB0, e0, a0, b0, c0 = _back_step(p, h, A, A2, d_0, x_0, y_0, u_0, B_row, C_row,
                                                t0, offs_n, BLOCK_N)
            dA += a0 + a1 + a2 + a3
            GB = _join4(gB0, gB1, gB2, gB3, BLOCK_D)
            DDL = _join4(e0, e1, e2, e3, BLOCK_D)
            if SOFTPLUS:
                DDL = DDL * tl.sigmoid(RAW)
            DDL = tl.where(mt, DDL, 0.0)
            DU = DY * Dv[:, None] + DL * GB
            tl.store(du_ptr + out_row[:, None] + t[None, :], DU.to(du_ptr.dtype.element_ty),
                     mask=mt)
            tl.store(ddl_ptr + out_row[:, None] + t[None, :], DDL.to(ddl_ptr.dtype.element_ty),
                     mask=mt)
            dDv += tl.sum(DY * U, axis=1)
            dbias += tl.sum(DDL, axis=1)
            tt = t0 + tl.arange(0, 4)
            mtt = mask_n[:, None] & (tt[None, :] < t_end)
            tl.store(dB_ptr + part[:, None] + tt[None, :], _join4(b0, b1, b2, b3, BLOCK_N), mask=mtt)
            tl.store(dC_ptr + part[:, None] + tt[None, :], _join4(c0, c1, c2, c3, BLOCK_N), mask=mtt)
        tl.debug_barrier()  # the next segment overwrites the scratch
    row = b * n_chunks + c  # of the (batch * n_chunks, dim, ...) partials of dA, dD, dbias
    tl.store(dA_ptr + row * dim * N + dn, dA, mask=mask_dn)
    tl.store(dD_ptr + row * dim + offs_d, dDv, mask=offs_d < dim)
    tl.store(dbias_ptr + row * dim + offs_d, dbias, mask=offs_d < dim)
    if WANT_DH0:
        if c == 0:
            tl.store(dh0_ptr + b * dim * N + dn, p, mask=mask_dn)


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


@triton.jit
def _ss_bwd_step_summary_kernel(
        dl_ptr, A_ptr, Ct_ptr, bias_ptr, dout_ptr, sumP_ptr, sumS_ptr,
        dim, L, N, n_dblocks, dpg, chunk_len, n_chunks, sr_g,
        sd_b, sd_d, sd_l, so_b, so_d, so_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, UNROLL: tl.constexpr,
        HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """_ss_bwd_summary_kernel's sums in the step layout, for the step backward: BLOCK_D channels of
    one batch row over one chunk after the first, UNROLL steps per iteration, C_t read as rows of
    the padded copy."""
    # the set-up's u, B and D are unused here: delta, C and A stand in for them
    _, b, _, c, offs_d, offs_n, mask_n, mask_dn, dn, A, bias, _, _, C_row, _, dl_row = \
        _step_program(A_ptr, bias_ptr, A_ptr, Ct_ptr, Ct_ptr, dl_ptr, dl_ptr, dim, N, n_dblocks,
                      dpg, sr_g, sd_b, sd_d, sd_b, sd_d, BLOCK_D, BLOCK_N, HAS_BIAS, False)
    c += 1  # chunk 0's summary is never needed
    A2 = A * LOG2E
    o_row = dout_ptr + b * so_b + offs_d * so_d
    acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    S = tl.zeros([BLOCK_D], dtype=tl.float32)
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    for t0 in range(t_begin, t_end, UNROLL):
        t, mt = _tile_t(t0, t_end, offs_d, dim, UNROLL)
        DL = _delta(dl_row[:, None], t[None, :], sd_l, mt, bias[:, None], HAS_BIAS, SOFTPLUS)[0]
        DY = _dy(o_row[:, None], t[None, :], so_l, mt)
        acc, S = _adjoint_sums(acc, S, A2, DL, DY, C_row, t0, offs_n, BLOCK_N, BLOCK_D, UNROLL)
    base = (b * n_chunks + c) * dim
    tl.store(sumP_ptr + base * N + dn, acc, mask=mask_dn)
    tl.store(sumS_ptr + base + offs_d, S, mask=offs_d < dim)


@triton.jit
def _ss_chunk_carry_kernel(
        A_ptr, init_ptr, sumX_ptr, sumS_ptr, out_ptr, dim, N, n_chunks,
        BLOCK_C: tl.constexpr, BLOCK_N: tl.constexpr, HAS_INIT: tl.constexpr,
        REVERSE: tl.constexpr):
    """Per (batch row, channel), a scan over chunks of x -> exp(A S_j) x + X_j, from the chunks'
    summaries (X_j, S_j) (batch, n_chunks, dim, N) and (batch, n_chunks, dim). Forward: out[j] is
    chunk j's start state (out[0] the initial state; summaries of chunks 0 .. n-2). REVERSE: out[j]
    is the adjoint p arriving at chunk j's last step (out[n-1] = dL/d last state; summaries of
    chunks 1 .. n-1)."""
    pid = tl.program_id(0)
    b = (pid // dim).to(tl.int64)
    d = pid % dim
    offs_c = tl.arange(0, BLOCK_C)
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    if REVERSE:
        valid = (offs_c >= 1) & (offs_c < n_chunks)
        edge = n_chunks - 1  # where the initial value enters
        shift = -1
    else:
        valid = offs_c < n_chunks - 1
        edge = 0
        shift = 1
    m = valid[:, None] & mask_n[None, :]
    cdn = ((b * n_chunks + offs_c[:, None]) * dim + d) * N + offs_n[None, :]
    A2 = tl.load(A_ptr + d * N + offs_n, mask=mask_n, other=0.0) * LOG2E
    S = tl.load(sumS_ptr + (b * n_chunks + offs_c) * dim + d, mask=valid, other=0.0)
    a = tl.exp2(A2[None, :] * S[:, None])
    X = tl.load(sumX_ptr + cdn, mask=m, other=0.0)
    init = tl.zeros([BLOCK_N], dtype=tl.float32)
    if HAS_INIT:
        init = tl.load(init_ptr + (b * dim + d) * N + offs_n, mask=mask_n, other=0.0)
    X = tl.where((offs_c == edge)[:, None], X + a * init[None, :], X)
    _, ends = tl.associative_scan((a, X), axis=0, combine_fn=_first_order, reverse=REVERSE)
    tl.store(out_ptr + cdn + shift * dim * N, ends, mask=m)
    tl.store(out_ptr + ((b * n_chunks + edge) * dim + d) * N + offs_n, init, mask=mask_n)


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


@triton.jit
def _ss_bwd_summary_kernel(
        dl_ptr, A_ptr, C_ptr, bias_ptr, dout_ptr, sumP_ptr, sumS_ptr,
        dim, L, N, dpg, chunk_len, n_chunks,
        sd_b, sd_d, sd_l, sC_b, sC_g, sC_n, sC_l, so_b, so_d, so_l,
        BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Per (batch row, channel, chunk after the first): p at the chunk's first step t0 with nothing
    arriving from after it, sum over t of exp(A (delta_t0 + ... + delta_t)) C_t dy_t (the decays
    never exceed 1, so the product as one exponential is safe), and the chunk's sum of delta."""
    b, d, g, c, offs_n, offs_t, mask_n, A2, bias, dl_row = _summary_program(  # chunk 0: never needed
        A_ptr, bias_ptr, dl_ptr, dim, N, dpg, sd_b, sd_d, 1, BLOCK_N, BLOCK_T, HAS_BIAS)
    o_row = dout_ptr + b * so_b + d * so_d
    C_rows = C_ptr + b * sC_b + g * sC_g + offs_n[:, None] * sC_n
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    acc = tl.zeros([BLOCK_N, BLOCK_T], dtype=tl.float32)
    S = tl.zeros([BLOCK_T], dtype=tl.float32)  # sum of delta before the tile, in every lane
    for t0 in range(t_begin, t_end, BLOCK_T):
        t = t0 + offs_t
        m = t < t_end
        dl, _ = _delta(dl_row, t, sd_l, m, bias, HAS_BIAS, SOFTPLUS)
        dy = _dy(o_row, t, so_l, m)
        Ct = tl.load(C_rows + t[None, :] * sC_l, mask=mask_n[:, None] & m[None, :],
                     other=0.0).to(tl.float32)
        Si = S + tl.cumsum(dl, axis=0)
        acc += tl.exp2(A2 * Si[None, :]) * Ct * dy[None, :]
        S += tl.sum(dl, axis=0)
    base = (b * n_chunks + c) * dim + d
    tl.store(sumP_ptr + base * N + offs_n, tl.sum(acc, axis=1), mask=mask_n)
    tl.store(sumS_ptr + base, tl.max(S, axis=0))


@triton.jit
def _ss_bwd_kernel(
        u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, dout_ptr, dlast_ptr,
        ckpt_ptr, sumP_ptr, sumS_ptr, carry_ptr,
        du_ptr, ddl_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dh0_ptr,
        batch, dim, L, N, n_dblocks, chunk_len, n_chunks, n_ckpt, dpg,
        su_b, su_d, su_l, sd_b, sd_d, sd_l, sB_b, sB_g, sB_n, sB_l, sC_b, sC_g, sC_n, sC_l,
        so_b, so_d, so_l,
        BLOCK_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, STAGES: tl.constexpr,
        HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_DLAST: tl.constexpr, WANT_DH0: tl.constexpr,
        ATOMIC_BC: tl.constexpr):
    """BLOCK_K channels of one batch row over one chunk, tile by tile from the chunk's end. dB and
    dC: one partial per BLOCK_K channels in (n_dblocks, batch, N, L), or with ATOMIC_BC added into
    one zeroed (batch, groups, N, L)."""
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    db = pid % n_dblocks
    c = tl.program_id(1)
    d0 = db * BLOCK_K
    g = d0 // dpg
    offs_n = tl.arange(0, BLOCK_N)
    offs_t = tl.arange(0, BLOCK_T)
    mask_n = offs_n < N
    first = (offs_t == 0)[None, :]
    last_col = (offs_t == BLOCK_T - 1)[None, :]
    row = b * n_chunks + c  # of the (batch * n_chunks, dim, ...) partials of dA, dD, dbias
    carry = carry_ptr + ((b * n_dblocks + db) * n_chunks + c) * BLOCK_K * BLOCK_N + offs_n

    # per channel: the adjoint arriving at the chunk's end from every later chunk; zero the sums
    for k in range(0, BLOCK_K):
        d = d0 + k
        A2v = tl.load(A_ptr + d * N + offs_n, mask=mask_n, other=0.0) * LOG2E
        p = tl.zeros([BLOCK_N], dtype=tl.float32)
        if HAS_DLAST:
            p = tl.load(dlast_ptr + (b * dim + d) * N + offs_n, mask=mask_n, other=0.0)
        for i in range(0, n_chunks - 1 - c):
            base = (b * n_chunks + n_chunks - 1 - i) * dim + d
            Sj = tl.load(sumS_ptr + base)
            p = tl.load(sumP_ptr + base * N + offs_n, mask=mask_n, other=0.0) + tl.exp2(A2v * Sj) * p
        tl.store(carry + k * BLOCK_N, p)
        tl.store(dA_ptr + (row * dim + d) * N + offs_n, tl.zeros([BLOCK_N], dtype=tl.float32),
                 mask=mask_n)
        tl.store(dD_ptr + row * dim + d, 0.0)
        tl.store(dbias_ptr + row * dim + d, 0.0)
    tl.debug_barrier()

    B_rows = B_ptr + b * sB_b + g * sB_g + offs_n[:, None] * sB_n
    C_rows = C_ptr + b * sC_b + g * sC_g + offs_n[:, None] * sC_n
    if ATOMIC_BC:
        part = ((b * (dim // dpg) + g) * N + offs_n[:, None]) * L
    else:
        part = ((db * batch + b) * N + offs_n[:, None]) * L
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    n_tiles = tl.cdiv(t_end - t_begin, BLOCK_T)
    for i in range(0, n_tiles):
        t0 = t_begin + (n_tiles - 1 - i) * BLOCK_T
        t = t0 + offs_t
        m = t < t_end
        mnt = mask_n[:, None] & m[None, :]
        Bt = tl.load(B_rows + t[None, :] * sB_l, mask=mnt, other=0.0).to(tl.float32)
        Ct = tl.load(C_rows + t[None, :] * sC_l, mask=mnt, other=0.0).to(tl.float32)
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
            dl_row = dl_ptr + b * sd_b + d * sd_d
            dl, raw = _delta(dl_row, t, sd_l, m, bias, HAS_BIAS, SOFTPLUS)
            dln, _ = _delta(dl_row, t + 1, sd_l, t + 1 < L, bias, HAS_BIAS, SOFTPLUS)
            u = tl.load(u_ptr + b * su_b + d * su_d + t * su_l, mask=m, other=0.0).to(tl.float32)
            dy = _dy(dout_ptr + b * so_b + d * so_d, t, so_l, m)

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
            tl.store(ddl_ptr + out, ddl.to(ddl_ptr.dtype.element_ty), mask=m)
            dB_acc += gs * (dl * u)[None, :]
            dC_acc += hs * dy[None, :]

            dA_at = dA_ptr + (row * dim + d) * N + offs_n
            tl.store(dA_at, tl.load(dA_at, mask=mask_n, other=0.0)
                     + tl.sum(ga * dl[None, :], axis=1), mask=mask_n)
            tl.store(dD_ptr + row * dim + d, tl.load(dD_ptr + row * dim + d) + tl.sum(dy * u, axis=0))
            tl.store(dbias_ptr + row * dim + d, tl.load(dbias_ptr + row * dim + d)
                     + tl.sum(ddl, axis=0))
            tl.store(carry + k * BLOCK_N, tl.sum(tl.where(first, a * gs, 0.0), axis=1))
        if ATOMIC_BC:
            tl.atomic_add(dB_ptr + part + t[None, :], dB_acc, mask=mnt, sem="relaxed")
            tl.atomic_add(dC_ptr + part + t[None, :], dC_acc, mask=mnt, sem="relaxed")
        else:
            tl.store(dB_ptr + part + t[None, :], dB_acc, mask=mnt)
            tl.store(dC_ptr + part + t[None, :], dC_acc, mask=mnt)
        tl.debug_barrier()  # this tile's carries and sums before the next tile reads them

    if WANT_DH0:
        if c == 0:
            for k in range(0, BLOCK_K):
                tl.store(dh0_ptr + (b * dim + d0 + k) * N + offs_n, tl.load(carry + k * BLOCK_N),
                         mask=mask_n)
