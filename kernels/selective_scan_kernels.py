"""Triton kernels of the selective scan (forward and backward).

Notation: a_t = exp(delta_t A) (dim, N), b_t = delta_t u_t B_t, h_t = a_t h_{t-1} + b_t,
y_t = C_t . h_t + D u_t, out_t = y_t silu(z_t).

Forward: one program per (batch row, channel) walks L in tiles of BLOCK_T steps; each tile's
recurrence is a parallel scan along time (``tl.associative_scan`` of the affine maps h -> a h + b)
over (BLOCK_N, BLOCK_T) in registers, started from the state the previous tile left. Loads and stores
are contiguous runs along L; B and C are read in place. It stores the state at every backward chunk
start.

Backward: each program owns BLOCK_D channels (one per thread) of one batch row and one chunk of L,
and walks the chunk step by step with its fp32 state (BLOCK_N, BLOCK_D) in registers, every thread
holding all N states of its channel. B and C come transposed to (batch, groups, L, N) so each step
reads one contiguous row of N. Chunks run in parallel: a summary pass gives each chunk's local
adjoint from zero plus the sum of delta over the chunk, whose product of decays is
exp(A * sum delta); each chunk's program folds the summaries of the chunks after it into its end
adjoint. States are recomputed from the forward's chunk-start states: the backward sweeps its chunk
keeping the state at every SEG-th step, then walks the segments in reverse, recomputing each
segment's SEG states into a small scratch that stays in cache.
"""

import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _live(mask, offs, t, lo, hi):
    """mask where lo <= t < hi (built as a block: the interpreter needs it so)."""
    tt = tl.zeros_like(offs) + t
    return mask & (tt >= lo) & (tt < hi)


@triton.jit
def _softplus(x):
    return tl.where(x > 20.0, x, tl.log(1.0 + tl.exp(tl.minimum(x, 20.0))))


@triton.jit
def _step_delta(dl_row, t, sd_l, m, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """delta_t after bias and softplus (zero where masked) and its value before softplus."""
    raw = tl.load(dl_row + t * sd_l, mask=m, other=0.0).to(tl.float32)
    if HAS_BIAS:
        raw = raw + bias
    dl = raw
    if SOFTPLUS:
        dl = _softplus(raw)
    return tl.where(m, dl, 0.0), raw


@triton.jit
def _state_step(h, t, t_begin, t_end, dl_row, u_row, B_row, sd_l, su_l, N, A2, bias,
                offs_d, mask_d, offs_n, mask_n, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """The state after step t (unchanged outside [t_begin, t_end)): h a_t + B_t delta_t u_t."""
    m = _live(mask_d, offs_d, t, t_begin, t_end)
    mn = _live(mask_n, offs_n, t, t_begin, t_end)
    dl, _ = _step_delta(dl_row, t, sd_l, m, bias, HAS_BIAS, SOFTPLUS)
    u = tl.load(u_row + t * su_l, mask=m, other=0.0).to(tl.float32)
    Bv = tl.load(B_row + t * N, mask=mn, other=0.0).to(tl.float32)
    return tl.exp2(A2 * dl[None, :]) * h + Bv[:, None] * (dl * u)[None, :]


@triton.jit
def _step_dy(o_row, z_row, t, so_l, sz_l, m, HAS_Z: tl.constexpr):
    """Gradient reaching y before the z gate, the incoming gradient, z and sigmoid(z)."""
    dout = tl.load(o_row + t * so_l, mask=m, other=0.0).to(tl.float32)
    if HAS_Z:
        z = tl.load(z_row + t * sz_l, mask=m, other=0.0).to(tl.float32)
        sz = tl.sigmoid(z)
        return dout * z * sz, dout, z, sz
    return dout, dout, dout, dout


@triton.jit
def _program_setup(A_ptr, bias_ptr, D_ptr, dim, N, n_dblocks, dpg,
                   BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
                   HAS_BIAS: tl.constexpr, HAS_D: tl.constexpr):
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    db = pid % n_dblocks
    offs_d = db * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < dim
    mask_n = offs_n < N
    mask_nd = mask_n[:, None] & mask_d[None, :]
    nd_offs = offs_n[:, None] + offs_d[None, :] * N  # element (n, d) of a (dim, N) array
    A = tl.load(A_ptr + nd_offs, mask=mask_nd, other=0.0)
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    Dv = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    g = (db * BLOCK_D) // dpg
    return b, db, offs_d, offs_n, mask_d, mask_n, mask_nd, nd_offs, A, bias, Dv, g


@triton.jit
def _ss_bwd_summary_kernel(
        dl_ptr, A_ptr, C_ptr, z_ptr, bias_ptr, dout_ptr, sumP_ptr, sumS_ptr,
        dim, L, N, n_dblocks, chunk_len, n_chunks, dpg,
        sd_b, sd_d, sd_l, sC_b, sC_g, sz_b, sz_d, sz_l, so_b, so_d, so_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, UNROLL: tl.constexpr,
        HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Per chunk: q = a_s g_s at its first step for a zero adjoint after it, and sum of delta."""
    b, db, offs_d, offs_n, mask_d, mask_n, mask_nd, nd_offs, A, bias, Dv, g = _program_setup(
        A_ptr, bias_ptr, A_ptr, dim, N, n_dblocks, dpg, BLOCK_D, BLOCK_N, HAS_BIAS, False)
    c = tl.program_id(1) + 1  # chunk 0's summary is never needed
    A2 = A * LOG2E
    dl_row = dl_ptr + b * sd_b + offs_d * sd_d
    z_row = z_ptr + b * sz_b + offs_d * sz_d
    o_row = dout_ptr + b * so_b + offs_d * so_d
    C_row = C_ptr + b * sC_b + g * sC_g + offs_n
    q = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dsum = tl.zeros([BLOCK_D], dtype=tl.float32)
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    for i in range(0, t_end - t_begin, UNROLL):
        for k in tl.static_range(UNROLL):
            t = t_end - 1 - i - k
            m = _live(mask_d, offs_d, t, t_begin, t_end)
            mn = _live(mask_n, offs_n, t, t_begin, t_end)
            dl, _ = _step_delta(dl_row, t, sd_l, m, bias, HAS_BIAS, SOFTPLUS)
            dy, _, _, _ = _step_dy(o_row, z_row, t, so_l, sz_l, m, HAS_Z)
            Cv = tl.load(C_row + t * N, mask=mn, other=0.0).to(tl.float32)
            q = tl.exp2(A2 * dl[None, :]) * (Cv[:, None] * dy[None, :] + q)
            dsum += dl
    base = (b * n_chunks + c) * dim
    tl.store(sumP_ptr + base * N + nd_offs, q, mask=mask_nd)
    tl.store(sumS_ptr + base + offs_d, dsum, mask=mask_d)


@triton.jit
def _ss_bwd_kernel(
        u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, dout_ptr, dlast_ptr,
        ckpt_ptr, sumP_ptr, sumS_ptr, seg_ptr, step_ptr,
        du_ptr, ddl_ptr, dz_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dh0_ptr,
        batch, dim, L, N, n_dblocks, chunk_len, n_chunks, dpg, max_segs,
        su_b, su_d, su_l, sd_b, sd_d, sd_l, sB_b, sB_g, sC_b, sC_g,
        sz_b, sz_d, sz_l, so_b, so_d, so_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, SEG: tl.constexpr,
        HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_DLAST: tl.constexpr, WANT_DH0: tl.constexpr):
    """Per chunk: recompute states from the chunk's checkpoint, walk back with the adjoint."""
    b, db, offs_d, offs_n, mask_d, mask_n, mask_nd, nd_offs, A, bias, Dv, g = _program_setup(
        A_ptr, bias_ptr, D_ptr, dim, N, n_dblocks, dpg, BLOCK_D, BLOCK_N, HAS_BIAS, HAS_D)
    c = tl.program_id(1)
    A2 = A * LOG2E

    # adjoint arriving at this chunk's end from every later chunk
    r = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    if HAS_DLAST:
        r = tl.load(dlast_ptr + b * dim * N + nd_offs, mask=mask_nd, other=0.0)
    for i in range(0, n_chunks - 1 - c):
        base = (b * n_chunks + n_chunks - 1 - i) * dim
        Pc = tl.load(sumP_ptr + base * N + nd_offs, mask=mask_nd, other=0.0)
        Sc = tl.load(sumS_ptr + base + offs_d, mask=mask_d, other=0.0)
        r = Pc + tl.exp2(A2 * Sc[None, :]) * r

    u_row = u_ptr + b * su_b + offs_d * su_d
    dl_row = dl_ptr + b * sd_b + offs_d * sd_d
    z_row = z_ptr + b * sz_b + offs_d * sz_d
    o_row = dout_ptr + b * so_b + offs_d * so_d
    B_row = B_ptr + b * sB_b + g * sB_g + offs_n
    C_row = C_ptr + b * sC_b + g * sC_g + offs_n
    out_row = b * dim * L + offs_d * L  # du, ddelta, dz are contiguous (batch, dim, L)
    part_row = dB_ptr + (db * batch + b) * L * N + offs_n  # partials (n_dblocks, batch, L, N)
    partC_row = dC_ptr + (db * batch + b) * L * N + offs_n
    prog = (b * n_dblocks + db) * n_chunks + c
    tile = offs_n[:, None] * BLOCK_D + tl.arange(0, BLOCK_D)[None, :]
    segs = seg_ptr + prog * max_segs * BLOCK_N * BLOCK_D + tile
    steps = step_ptr + prog * SEG * BLOCK_N * BLOCK_D + tile

    # sweep 1: the state at every segment start
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    h = tl.load(ckpt_ptr + (b * n_chunks + c) * dim * N + nd_offs, mask=mask_nd, other=0.0)
    n_segs = tl.cdiv(t_end - t_begin, SEG)
    for s in range(0, n_segs):
        tl.store(segs + s * BLOCK_N * BLOCK_D, h)
        for k in tl.static_range(SEG):
            h = _state_step(h, t_begin + s * SEG + k, t_begin, t_end, dl_row, u_row, B_row, sd_l,
                            su_l, N, A2, bias, offs_d, mask_d, offs_n, mask_n, HAS_BIAS, SOFTPLUS)
    tl.debug_barrier()

    dA_acc = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dD_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    for i in range(0, n_segs):
        s = n_segs - 1 - i
        t_seg = t_begin + s * SEG
        h = tl.load(segs + s * BLOCK_N * BLOCK_D)
        for k in tl.static_range(SEG):  # the segment's states before each step
            tl.store(steps + k * BLOCK_N * BLOCK_D, h)
            h = _state_step(h, t_seg + k, t_begin, t_end, dl_row, u_row, B_row, sd_l, su_l, N, A2,
                            bias, offs_d, mask_d, offs_n, mask_n, HAS_BIAS, SOFTPLUS)
        tl.debug_barrier()
        for k in tl.static_range(SEG):  # walk back through the segment
            t = t_seg + SEG - 1 - k
            m = _live(mask_d, offs_d, t, t_begin, t_end)
            mn = _live(mask_n, offs_n, t, t_begin, t_end)
            hp = tl.load(steps + (SEG - 1 - k) * BLOCK_N * BLOCK_D)
            dl, raw = _step_delta(dl_row, t, sd_l, m, bias, HAS_BIAS, SOFTPLUS)
            u = tl.load(u_row + t * su_l, mask=m, other=0.0).to(tl.float32)
            Bv = tl.load(B_row + t * N, mask=mn, other=0.0).to(tl.float32)
            Cv = tl.load(C_row + t * N, mask=mn, other=0.0).to(tl.float32)
            dy, dout, z, sz = _step_dy(o_row, z_row, t, so_l, sz_l, m, HAS_Z)
            a = tl.exp2(A2 * dl[None, :])
            ah = a * hp
            du_dl = dl * u
            ht = ah + Bv[:, None] * du_dl[None, :]
            if HAS_Z:
                y = tl.sum(ht * Cv[:, None], axis=0) + Dv * u
                dz = dout * y * sz * (1.0 + z * (1.0 - sz))
                tl.store(dz_ptr + out_row + t, dz.to(dz_ptr.dtype.element_ty), mask=m)
            gt = Cv[:, None] * dy[None, :] + r
            gB = tl.sum(gt * Bv[:, None], axis=0)
            ga = gt * ah
            du = dy * Dv + dl * gB
            ddl = u * gB + tl.sum(ga * A, axis=0)
            dA_acc += ga * dl[None, :]
            dD_acc += dy * u
            if SOFTPLUS:
                ddl = ddl * tl.sigmoid(raw)
            ddl = tl.where(m, ddl, 0.0)
            dbias_acc += ddl
            tl.store(du_ptr + out_row + t, du.to(du_ptr.dtype.element_ty), mask=m)
            tl.store(ddl_ptr + out_row + t, ddl.to(ddl_ptr.dtype.element_ty), mask=m)
            tl.store(part_row + t * N, tl.sum(gt * du_dl[None, :], axis=1), mask=mn)
            tl.store(partC_row + t * N, tl.sum(ht * dy[None, :], axis=1), mask=mn)
            r = a * gt
        tl.debug_barrier()

    row = b * n_chunks + c
    tl.store(dA_ptr + row * dim * N + nd_offs, dA_acc, mask=mask_nd)
    tl.store(dD_ptr + row * dim + offs_d, dD_acc, mask=mask_d)
    tl.store(dbias_ptr + row * dim + offs_d, dbias_acc, mask=mask_d)
    if WANT_DH0:
        if c == 0:
            tl.store(dh0_ptr + b * dim * N + nd_offs, r, mask=mask_nd)


@triton.jit
def _first_order(a1, b1, a2, b2):
    """Compose h -> a1 h + b1 then h -> a2 h + b2: the scan's combine."""
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _ss_fwd_tiled_kernel(
        u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, h0_ptr,
        y_ptr, last_ptr, ckpt_ptr,
        dim, L, N, dpg, ckpt_len, n_ckpt,
        su_b, su_d, su_l, sd_b, sd_d, sd_l, sB_b, sB_g, sB_n, sB_l, sC_b, sC_g, sC_n, sC_l,
        sz_b, sz_d, sz_l, sy_b, sy_d, sy_l,
        BLOCK_N: tl.constexpr, BLOCK_T: tl.constexpr, STAGES: tl.constexpr,
        HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_H0: tl.constexpr, STORE_CKPT: tl.constexpr):
    """One channel per program, one pass over L in tiles of BLOCK_T steps: each tile's recurrence
    is a parallel scan along time over (BLOCK_N, BLOCK_T) in registers, started from the state the
    previous tile left; every load and store is a contiguous run along L."""
    pid = tl.program_id(0)
    b = (pid // dim).to(tl.int64)
    d = pid % dim
    g = d // dpg
    offs_n = tl.arange(0, BLOCK_N)
    offs_t = tl.arange(0, BLOCK_T)
    mask_n = offs_n < N
    A2 = tl.load(A_ptr + d * N + offs_n, mask=mask_n, other=0.0)[:, None] * LOG2E
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

    u_row = u_ptr + b * su_b + d * su_d
    dl_row = dl_ptr + b * sd_b + d * sd_d
    z_row = z_ptr + b * sz_b + d * sz_d
    y_row = y_ptr + b * sy_b + d * sy_d
    B_rows = B_ptr + b * sB_b + g * sB_g + offs_n[:, None] * sB_n
    C_rows = C_ptr + b * sC_b + g * sC_g + offs_n[:, None] * sC_n
    first = (offs_t == 0)[None, :]
    last_col = (offs_t == BLOCK_T - 1)[None, :]
    for t0 in tl.range(0, L, BLOCK_T, num_stages=STAGES):
        if STORE_CKPT:
            if t0 % ckpt_len == 0:
                tl.store(ckpt_ptr + (b * n_ckpt + t0 // ckpt_len) * dim * N + d * N + offs_n, h,
                         mask=mask_n)
        t = t0 + offs_t
        m = t < L
        mnt = mask_n[:, None] & m[None, :]
        dl = tl.load(dl_row + t * sd_l, mask=m, other=0.0).to(tl.float32)
        if HAS_BIAS:
            dl = dl + bias
        if SOFTPLUS:
            dl = _softplus(dl)
        dl = tl.where(m, dl, 0.0)  # past the end: a = 1, b = 0, the state passes unchanged
        u = tl.load(u_row + t * su_l, mask=m, other=0.0).to(tl.float32)
        Bt = tl.load(B_rows + t[None, :] * sB_l, mask=mnt, other=0.0).to(tl.float32)
        Ct = tl.load(C_rows + t[None, :] * sC_l, mask=mnt, other=0.0).to(tl.float32)
        a = tl.exp2(A2 * dl[None, :])
        x = Bt * (dl * u)[None, :]
        x = tl.where(first, x + a * h[:, None], x)  # fold the carried state into step 0
        _, hs = tl.associative_scan((a, x), axis=1, combine_fn=_first_order)
        y = tl.sum(hs * Ct, axis=0) + Dv * u
        if HAS_Z:
            z = tl.load(z_row + t * sz_l, mask=m, other=0.0).to(tl.float32)
            y = y * z * tl.sigmoid(z)
        tl.store(y_row + t * sy_l, y.to(y_ptr.dtype.element_ty), mask=m)
        h = tl.sum(tl.where(last_col, hs, 0.0), axis=1)
    tl.store(last_ptr + state, h, mask=mask_n)
