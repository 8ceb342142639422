"""Triton kernels of the chunked selective scan (forward and backward).

Notation: a_t = exp(delta_t A) (dim, N), b_t = delta_t u_t B_t, h_t = a_t h_{t-1} + b_t,
y_t = C_t . h_t + D u_t, out_t = y_t silu(z_t). Every program owns BLOCK_D channels, all N states,
of one batch row and one chunk of L; it walks the chunk in tiles of BLOCK_L and scans each tile with
tl.associative_scan along L, carrying the fp32 state (BLOCK_D, BLOCK_N) between tiles.

Chunks run in parallel. A summary pass gives each chunk's local end state from zero (forward) or its
local adjoint (backward) plus the sum of delta over the chunk, whose product of decays is
exp(A * sum delta); each chunk's program then folds the summaries of the chunks before it (after
it, backward) into its start state, so no pass has to wait on another chunk.
"""

import triton
import triton.language as tl

LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _linear_combine(a1, b1, a2, b2):
    # (a1, b1) then (a2, b2): x -> a2 (a1 x + b1) + b2. Also right for reverse scans, where
    # Triton passes the later segment first.
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _adjoint_combine(f_late, p_late, g_late, f_early, p_early, g_early):
    # Reverse scan for g_t = c_t + a_{t+1} g_{t+1}. A segment [s..e] is (a_s, prod a_{s+1..e},
    # G = c_s + sum_{k>s} prod a_{s+1..k} c_k); Triton hands the later segment first.
    m = p_early * f_late
    return f_early, m * p_late, g_early + m * g_late


@triton.jit
def _softplus(x):
    return tl.where(x > 20.0, x, tl.log(1.0 + tl.exp(tl.minimum(x, 20.0))))


@triton.jit
def _tile_delta(dl_ptr, sd_b, sd_d, sd_l, b, offs_d, offs_t, mask_dt, bias,
                HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """delta after bias and softplus (fp32, zero where masked) and the raw value before softplus."""
    raw = tl.load(dl_ptr + b * sd_b + offs_d[:, None] * sd_d + offs_t[None, :] * sd_l,
                  mask=mask_dt, other=0.0).to(tl.float32)
    if HAS_BIAS:
        raw = raw + bias[:, None]
    dl = raw
    if SOFTPLUS:
        dl = _softplus(raw)
    return tl.where(mask_dt, dl, 0.0), raw


@triton.jit
def _tile_bc(ptr, s_b, s_g, s_n, s_l, b, g, offs_n, offs_t, mask_nt):
    return tl.load(ptr + b * s_b + g * s_g + offs_n[:, None] * s_n + offs_t[None, :] * s_l,
                   mask=mask_nt, other=0.0).to(tl.float32)


@triton.jit
def _last_column(x, BLOCK_L: tl.constexpr):
    cols = tl.arange(0, BLOCK_L)
    return tl.sum(tl.where(cols[None, None, :] == BLOCK_L - 1, x, 0.0), axis=2)


@triton.jit
def _first_column(x, BLOCK_L: tl.constexpr):
    cols = tl.arange(0, BLOCK_L)
    return tl.sum(tl.where(cols[None, None, :] == 0, x, 0.0), axis=2)


@triton.jit
def _tile_states(dl, u, Bt, A2, h, BLOCK_L: tl.constexpr):
    """Decays a, input terms bb and states hs of one tile that starts from state h."""
    cols = tl.arange(0, BLOCK_L)
    a = tl.exp2(dl[:, None, :] * A2[:, :, None])
    bb = (dl * u)[:, None, :] * Bt[None, :, :]
    x = tl.where(cols[None, None, :] == 0, bb + a * h[:, :, None], bb)
    _, hs = tl.associative_scan((a, x), 2, _linear_combine)
    return a, bb, hs


@triton.jit
def _ss_fwd_kernel(
        u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, h0_ptr,
        y_ptr, last_ptr, sumH_ptr, sumS_ptr, ckpt_ptr,
        dim, L, N, n_dblocks, chunk_len, n_chunks, dpg, ckpt_len, n_ckpt,
        su_b, su_d, su_l, sd_b, sd_d, sd_l,
        sB_b, sB_g, sB_n, sB_l, sC_b, sC_g, sC_n, sC_l,
        sz_b, sz_d, sz_l, sy_b, sy_d, sy_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
        SUMMARY: tl.constexpr, HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_H0: tl.constexpr, STORE_LAST: tl.constexpr,
        STORE_CKPT: tl.constexpr):
    pid = tl.program_id(0)
    c = tl.program_id(1)
    b = (pid // n_dblocks).to(tl.int64)
    db = pid % n_dblocks
    offs_d = db * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < dim
    mask_n = offs_n < N
    mask_dn = mask_d[:, None] & mask_n[None, :]
    dn_offs = offs_d[:, None] * N + offs_n[None, :]
    g = (db * BLOCK_D) // dpg
    A2 = tl.load(A_ptr + dn_offs, mask=mask_dn, other=0.0) * LOG2E
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    Dv = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)

    h = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    dsum = tl.zeros([BLOCK_D], dtype=tl.float32)
    if not SUMMARY:
        if HAS_H0:
            h = tl.load(h0_ptr + b * dim * N + dn_offs, mask=mask_dn, other=0.0)
        for cc in range(0, c):  # fold the chunks before this one
            base = (b * n_chunks + cc) * dim
            Hc = tl.load(sumH_ptr + base * N + dn_offs, mask=mask_dn, other=0.0)
            Sc = tl.load(sumS_ptr + base + offs_d, mask=mask_d, other=0.0)
            h = tl.exp2(A2 * Sc[:, None]) * h + Hc

    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    for t0 in range(t_begin, t_end, BLOCK_L):
        if STORE_CKPT:
            if t0 % ckpt_len == 0:
                tl.store(ckpt_ptr + (b * n_ckpt + t0 // ckpt_len) * dim * N + dn_offs, h, mask=mask_dn)
        offs_t = t0 + tl.arange(0, BLOCK_L)
        mask_t = offs_t < t_end
        mask_dt = mask_d[:, None] & mask_t[None, :]
        mask_nt = mask_n[:, None] & mask_t[None, :]
        dl, _ = _tile_delta(dl_ptr, sd_b, sd_d, sd_l, b, offs_d, offs_t, mask_dt, bias,
                            HAS_BIAS, SOFTPLUS)
        u = tl.load(u_ptr + b * su_b + offs_d[:, None] * su_d + offs_t[None, :] * su_l,
                    mask=mask_dt, other=0.0).to(tl.float32)
        Bt = _tile_bc(B_ptr, sB_b, sB_g, sB_n, sB_l, b, g, offs_n, offs_t, mask_nt)
        a, bb, hs = _tile_states(dl, u, Bt, A2, h, BLOCK_L)
        if SUMMARY:
            dsum += tl.sum(dl, axis=1)
        else:
            Ct = _tile_bc(C_ptr, sC_b, sC_g, sC_n, sC_l, b, g, offs_n, offs_t, mask_nt)
            y = tl.sum(hs * Ct[None, :, :], axis=1) + Dv[:, None] * u
            if HAS_Z:
                z = tl.load(z_ptr + b * sz_b + offs_d[:, None] * sz_d + offs_t[None, :] * sz_l,
                            mask=mask_dt, other=0.0).to(tl.float32)
                y = y * z * tl.sigmoid(z)
            tl.store(y_ptr + b * sy_b + offs_d[:, None] * sy_d + offs_t[None, :] * sy_l,
                     y.to(y_ptr.dtype.element_ty), mask=mask_dt)
        h = _last_column(hs, BLOCK_L)

    if SUMMARY:
        base = (b * n_chunks + c) * dim
        tl.store(sumH_ptr + base * N + dn_offs, h, mask=mask_dn)
        tl.store(sumS_ptr + base + offs_d, dsum, mask=mask_d)
    else:
        if STORE_LAST:
            if c == n_chunks - 1:
                tl.store(last_ptr + b * dim * N + dn_offs, h, mask=mask_dn)


@triton.jit
def _tile_dy(dout_ptr, z_ptr, so_b, so_d, so_l, sz_b, sz_d, sz_l, b, offs_d, offs_t, mask_dt,
             HAS_Z: tl.constexpr):
    """Gradient reaching y (before the z gate), and sigmoid(z), z (ones/zeros without z)."""
    dout = tl.load(dout_ptr + b * so_b + offs_d[:, None] * so_d + offs_t[None, :] * so_l,
                   mask=mask_dt, other=0.0).to(tl.float32)
    if HAS_Z:
        z = tl.load(z_ptr + b * sz_b + offs_d[:, None] * sz_d + offs_t[None, :] * sz_l,
                    mask=mask_dt, other=0.0).to(tl.float32)
        sz = tl.sigmoid(z)
        return dout * z * sz, dout, z, sz
    return dout, dout, dout, dout


@triton.jit
def _ss_bwd_summary_kernel(
        dl_ptr, A_ptr, C_ptr, z_ptr, bias_ptr, dout_ptr, sumP_ptr, sumS_ptr,
        dim, L, N, n_dblocks, chunk_len, n_chunks, dpg,
        sd_b, sd_d, sd_l, sC_b, sC_g, sC_n, sC_l, sz_b, sz_d, sz_l, so_b, so_d, so_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
        HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Per chunk: q = a_s g_s at its first step for a zero adjoint after it, and sum of delta."""
    pid = tl.program_id(0)
    c = tl.program_id(1) + 1  # chunk 0's summary is never needed
    b = (pid // n_dblocks).to(tl.int64)
    db = pid % n_dblocks
    offs_d = db * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < dim
    mask_n = offs_n < N
    mask_dn = mask_d[:, None] & mask_n[None, :]
    dn_offs = offs_d[:, None] * N + offs_n[None, :]
    g = (db * BLOCK_D) // dpg
    A2 = tl.load(A_ptr + dn_offs, mask=mask_dn, other=0.0) * LOG2E
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    cols = tl.arange(0, BLOCK_L)
    q = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    dsum = tl.zeros([BLOCK_D], dtype=tl.float32)
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    n_tiles = tl.cdiv(t_end - t_begin, BLOCK_L)
    for i in range(0, n_tiles):
        t0 = t_begin + (n_tiles - 1 - i) * BLOCK_L
        offs_t = t0 + cols
        mask_t = offs_t < t_end
        mask_dt = mask_d[:, None] & mask_t[None, :]
        dl, _ = _tile_delta(dl_ptr, sd_b, sd_d, sd_l, b, offs_d, offs_t, mask_dt, bias,
                            HAS_BIAS, SOFTPLUS)
        dy, _, _, _ = _tile_dy(dout_ptr, z_ptr, so_b, so_d, so_l, sz_b, sz_d, sz_l, b, offs_d,
                               offs_t, mask_dt, HAS_Z)
        Ct = _tile_bc(C_ptr, sC_b, sC_g, sC_n, sC_l, b, g, offs_n, offs_t,
                      mask_n[:, None] & mask_t[None, :])
        a = tl.exp2(dl[:, None, :] * A2[:, :, None])
        beta = a * (Ct[None, :, :] * dy[:, None, :])
        beta = tl.where(cols[None, None, :] == BLOCK_L - 1, beta + a * q[:, :, None], beta)
        _, qs = tl.associative_scan((a, beta), 2, _linear_combine, reverse=True)
        q = _first_column(qs, BLOCK_L)
        dsum += tl.sum(dl, axis=1)
    base = (b * n_chunks + c) * dim
    tl.store(sumP_ptr + base * N + dn_offs, q, mask=mask_dn)
    tl.store(sumS_ptr + base + offs_d, dsum, mask=mask_d)


@triton.jit
def _ss_bwd_kernel(
        u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, dout_ptr, dlast_ptr,
        ckpt_ptr, sumP_ptr, sumS_ptr, scratch_ptr,
        du_ptr, ddl_ptr, dz_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dh0_ptr,
        batch, dim, L, N, n_dblocks, chunk_len, n_chunks, dpg, max_tiles,
        su_b, su_d, su_l, sd_b, sd_d, sd_l,
        sB_b, sB_g, sB_n, sB_l, sC_b, sC_g, sC_n, sC_l,
        sz_b, sz_d, sz_l, so_b, so_d, so_l,
        BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
        HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr,
        SOFTPLUS: tl.constexpr, HAS_DLAST: tl.constexpr, WANT_DH0: tl.constexpr):
    """Per chunk: recompute states from the chunk's checkpoint, walk back with the adjoint."""
    pid = tl.program_id(0)
    c = tl.program_id(1)
    b = (pid // n_dblocks).to(tl.int64)
    db = pid % n_dblocks
    offs_d = db * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < dim
    mask_n = offs_n < N
    mask_dn = mask_d[:, None] & mask_n[None, :]
    dn_offs = offs_d[:, None] * N + offs_n[None, :]
    g = (db * BLOCK_D) // dpg
    A = tl.load(A_ptr + dn_offs, mask=mask_dn, other=0.0)
    A2 = A * LOG2E
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    Dv = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    cols = tl.arange(0, BLOCK_L)

    # adjoint arriving at this chunk's end from every later chunk
    r = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    if HAS_DLAST:
        r = tl.load(dlast_ptr + b * dim * N + dn_offs, mask=mask_dn, other=0.0)
    for i in range(0, n_chunks - 1 - c):
        base = (b * n_chunks + n_chunks - 1 - i) * dim
        Pc = tl.load(sumP_ptr + base * N + dn_offs, mask=mask_dn, other=0.0)
        Sc = tl.load(sumS_ptr + base + offs_d, mask=mask_d, other=0.0)
        r = Pc + tl.exp2(A2 * Sc[:, None]) * r

    # forward sweep: the state at each tile's start goes to this program's scratch
    t_begin = c * chunk_len
    t_end = tl.minimum(t_begin + chunk_len, L)
    n_tiles = tl.cdiv(t_end - t_begin, BLOCK_L)
    scratch = scratch_ptr + ((b * n_dblocks + db) * n_chunks + c) * max_tiles * BLOCK_D * BLOCK_N
    tile_offs = tl.arange(0, BLOCK_D)[:, None] * BLOCK_N + offs_n[None, :]
    h = tl.load(ckpt_ptr + (b * n_chunks + c) * dim * N + dn_offs, mask=mask_dn, other=0.0)
    for k in range(0, n_tiles):
        tl.store(scratch + k * BLOCK_D * BLOCK_N + tile_offs, h)
        offs_t = t_begin + k * BLOCK_L + cols
        mask_t = offs_t < t_end
        mask_dt = mask_d[:, None] & mask_t[None, :]
        dl, _ = _tile_delta(dl_ptr, sd_b, sd_d, sd_l, b, offs_d, offs_t, mask_dt, bias,
                            HAS_BIAS, SOFTPLUS)
        u = tl.load(u_ptr + b * su_b + offs_d[:, None] * su_d + offs_t[None, :] * su_l,
                    mask=mask_dt, other=0.0).to(tl.float32)
        Bt = _tile_bc(B_ptr, sB_b, sB_g, sB_n, sB_l, b, g, offs_n, offs_t,
                      mask_n[:, None] & mask_t[None, :])
        _, _, hs = _tile_states(dl, u, Bt, A2, h, BLOCK_L)
        h = _last_column(hs, BLOCK_L)

    dA_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    dD_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    part = (db * batch + b) * N  # rows of the dB/dC partial buffers (n_dblocks, batch, N, L)
    for i in range(0, n_tiles):
        k = n_tiles - 1 - i
        h = tl.load(scratch + k * BLOCK_D * BLOCK_N + tile_offs)
        offs_t = t_begin + k * BLOCK_L + cols
        mask_t = offs_t < t_end
        mask_dt = mask_d[:, None] & mask_t[None, :]
        mask_nt = mask_n[:, None] & mask_t[None, :]
        dl, raw = _tile_delta(dl_ptr, sd_b, sd_d, sd_l, b, offs_d, offs_t, mask_dt, bias,
                              HAS_BIAS, SOFTPLUS)
        u = tl.load(u_ptr + b * su_b + offs_d[:, None] * su_d + offs_t[None, :] * su_l,
                    mask=mask_dt, other=0.0).to(tl.float32)
        Bt = _tile_bc(B_ptr, sB_b, sB_g, sB_n, sB_l, b, g, offs_n, offs_t, mask_nt)
        Ct = _tile_bc(C_ptr, sC_b, sC_g, sC_n, sC_l, b, g, offs_n, offs_t, mask_nt)
        a, bb, hs = _tile_states(dl, u, Bt, A2, h, BLOCK_L)
        dy, dout, z, sz = _tile_dy(dout_ptr, z_ptr, so_b, so_d, so_l, sz_b, sz_d, sz_l, b,
                                   offs_d, offs_t, mask_dt, HAS_Z)
        if HAS_Z:
            y = tl.sum(hs * Ct[None, :, :], axis=1) + Dv[:, None] * u
            dz = dout * y * sz * (1.0 + z * (1.0 - sz))
            tl.store(dz_ptr + b * dim * L + offs_d[:, None] * L + offs_t[None, :],
                     dz.to(dz_ptr.dtype.element_ty), mask=mask_dt)
        cterm = Ct[None, :, :] * dy[:, None, :]
        cterm = tl.where(cols[None, None, :] == BLOCK_L - 1, cterm + r[:, :, None], cterm)
        _, _, gs = tl.associative_scan((a, tl.full(a.shape, 1.0, tl.float32), cterm), 2,
                                       _adjoint_combine, reverse=True)
        r = _first_column(a * gs, BLOCK_L)
        gB = tl.sum(gs * Bt[None, :, :], axis=1)
        ga = gs * (hs - bb)  # g_t a_t h_{t-1}
        du = dy * Dv[:, None] + dl * gB
        ddl = u * gB + tl.sum(ga * A[:, :, None], axis=1)
        dA_acc += tl.sum(ga * dl[:, None, :], axis=2)
        dD_acc += tl.sum(dy * u, axis=1)
        if SOFTPLUS:
            ddl = ddl * tl.sigmoid(raw)
        ddl = tl.where(mask_dt, ddl, 0.0)
        dbias_acc += tl.sum(ddl, axis=1)
        dt_offs = b * dim * L + offs_d[:, None] * L + offs_t[None, :]
        tl.store(du_ptr + dt_offs, du.to(du_ptr.dtype.element_ty), mask=mask_dt)
        tl.store(ddl_ptr + dt_offs, ddl.to(ddl_ptr.dtype.element_ty), mask=mask_dt)
        dBt = tl.sum(gs * (dl * u)[:, None, :], axis=0)
        dCt = tl.sum(hs * dy[:, None, :], axis=0)
        nt_offs = (part + offs_n[:, None]) * L + offs_t[None, :]
        tl.store(dB_ptr + nt_offs, dBt, mask=mask_nt)
        tl.store(dC_ptr + nt_offs, dCt, mask=mask_nt)

    row = b * n_chunks + c
    tl.store(dA_ptr + row * dim * N + dn_offs, dA_acc, mask=mask_dn)
    tl.store(dD_ptr + row * dim + offs_d, dD_acc, mask=mask_d)
    tl.store(dbias_ptr + row * dim + offs_d, dbias_acc, mask=mask_d)
    if WANT_DH0:
        if c == 0:
            tl.store(dh0_ptr + b * dim * N + dn_offs, r, mask=mask_dn)
