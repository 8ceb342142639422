"""Fast CPU kernels for inference (numba): the selective scan and the causal conv, one compiled pass each.

``selective_scan_fn`` and ``causal_conv1d_fn`` use them on CPU where no gradient is wanted (streaming
classification, evaluation); training and float64 inputs keep the blocked scan of ``blocked_scan`` and
the conv of ``reference``, and ``reference`` stays the ground truth. Arguments and results are those of
the dispatch functions, with B and C of shape (batch, N, L). The Mamba layer's CPU inference
(``genomamba.models.mamba``) calls the kernels on its own buffers instead (``rms_norm``, ``conv_into``,
``scan_into``), with B, C and dt_proj's low-rank inputs read in place from x_proj's output and
delta = dt_proj(those inputs) formed inside the scan.

Layout. The model's u, delta and z are channels-last in memory ((batch, L, dim) seen as (batch, dim, L);
z and the conv's input are halves of in_proj's output, rows with a gap), so here time is the outer loop
and channels the inner, contiguous one; the kernels read such tensors in place as rows of a flat array
(``_rows``). A tile of 32 to 128 channels walks through time with its (N, tile) state in the L1 cache;
per step each loop over the tile's channels is one vectorised pass (16 float32 lanes with AVX-512):
delta's bias and softplus with y_t = D u_t, then per state

    h[k, c] = 2^(delta_t[c] A[c, k] log2 e) h[k, c] + delta_t[c] u_t[c] B_t[k]
    y_t[c] += C_t[k] h[k, c]

then the silu(z) gate. A tile reads only its channels' part of each step's rows of u, z and y, rows
hundreds of bytes to kilobytes apart, which the processor's own prefetchers (they stop at 4 KB pages)
mostly miss; so each step asks the caches for the lines of the step ``_AHEAD`` steps on
(``_prefetch``), and finds its own rows there. Tiles are independent, so threads share them
(``set_threads``; default every core): the calling thread and a pool of workers kept between calls,
which wait without spinning (OpenMP's spin, and would take the cores from PyTorch's work in
between); the kernels release the GIL. Results do not depend on the threads: each channel's
arithmetic is the same in any tile. The conv has no recurrence, so threads share blocks of time
steps instead.

The decay uses its own exp2 instead of the C library's, which is one element at a time and would cost
ten times the rest of the step. x <= 0 is clamped at -126 (2^-126: no state survives that in one
step), rounded to an integer i with the 1.5 * 2^23 trick (its low bits are i), and 2^(x - i), x - i in
[-1/2, 1/2], is a degree-5 polynomial fitted for least maximum relative error (below 2e-7, about
float32 rounding; exactly 1 at x - i = 0, so that slow decays, over thousands of steps, gather no
bias); 2^i goes straight into the float's exponent bits. The softplus
and silu use the same exp2 and, for log(1 + e^-|x|), a short atanh series. Arithmetic is float32,
like the reference's in float32; against the float64 reference the outputs agree to float32 rounding
(tests/test_cpu_scan.py).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

try:
    import numba
    from llvmlite import ir
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - numba is a dependency; without it the blocked scan runs
    numba = None

# Channels per tile of the scan: wide tiles spend less of each step on loop set-up (per channel, each
# loop's entry costs about as much as its vector work when a tile is 32 wide), narrow ones give every
# thread a tile. Two threads on 32-wide tiles take a quarter more CPU time than one on a 64-wide
# tile, and less wall time (1.1x on an Intel Xeon, level on an AMD EPYC: docs/benchmarks.md), so a
# 64-channel model given two cores uses both. A (16, 128) state is 8 KiB of L1.
_TILE_MIN, _TILE_MAX = 32, 128
_CONV_STEPS = 512   # steps per block of the conv, which threads share
_AHEAD = 8          # steps ahead whose rows the scan asks the caches for (see the docstring)
_threads = 0        # 0: every core this process may use
_launch = threading.Lock()   # one thread compiles a kernel or makes the pool at a time
# fastmath without reassociation: the exp2's rounding trick, (x + 1.5 * 2^23) - 1.5 * 2^23, must stay
_FAST = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}
# The matrix products around the kernels (PyTorch's, called by genomamba.models.mamba): float32, or
# bfloat16 factors and products (float32 sums), which processors with bfloat16 dot products (x86's
# AVX512_BF16, AMX) multiply at two to three times the float32 rate; the rounding moves a model's
# probabilities by up to a few 1e-4, so it is chosen, never the default.
PRECISIONS = ("float32", "bfloat16")
_precision = "float32"


def set_precision(precision: str) -> None:
    """The dtype of the matrix products' factors: one of ``PRECISIONS``."""
    global _precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    _precision = precision


def get_precision() -> str:
    return _precision


def product_dtype() -> torch.dtype:
    """The matrix products' factors' dtype, as ``set_precision`` chose."""
    return torch.bfloat16 if _precision == "bfloat16" else torch.float32


def available() -> bool:
    """Whether the fast kernels can run here (numba imports)."""
    return numba is not None


def set_threads(n: int) -> None:
    """Threads for the fast kernels' tiles; 0 = every core this process may use."""
    global _threads
    if n < 0:
        raise ValueError(f"threads must be 0 (all cores) or more, not {n}")
    _threads = n


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a cluster job's allocation)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def get_threads() -> int:
    return max(1, _threads or available_cores())


def _fast_inputs(*tensors) -> bool:
    """numba present, CPU, no float64 (it keeps float64 arithmetic elsewhere), no gradient wanted."""
    tensors = [t for t in tensors if t is not None]
    if numba is None or any(t.device.type != "cpu" or t.dtype == torch.float64 for t in tensors):
        return False
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))


def scan_applies(u, delta, A, B, C, D=None, z=None, delta_bias=None, initial_state=None) -> bool:
    """Where ``cpu_selective_scan`` gives ``selective_scan_fn``'s result: see ``_fast_inputs``, and B
    and C shared by all channels, (batch, N, L)."""
    return B.dim() == 3 and C.dim() == 3 and _fast_inputs(u, delta, A, B, C, D, z, delta_bias, initial_state)


def conv_applies(x, weight, bias=None, initial_states=None, activation=None) -> bool:
    """Where ``cpu_causal_conv1d`` gives ``causal_conv1d_fn``'s result: see ``_fast_inputs``."""
    return activation in (None, "silu", "swish") and _fast_inputs(x, weight, bias, initial_states)


def _compiled(kernel):
    """The kernel compiled once, for its signature in ``_SIGNATURES`` (any strides), so that every call
    runs the same machine code: numba would otherwise compile another version for arrays that happen
    to be contiguous (a chunk of one base), whose float rounding may differ in the last bit."""
    if not kernel.signatures:
        kernel.compile(_SIGNATURES[kernel])
        kernel.disable_compile()
    return kernel


def _run(kernel, jobs: int, *args) -> None:
    """``kernel(*args, first, last)`` over its ``jobs``, split into contiguous ranges among
    ``get_threads()`` threads: this one and workers of a pool kept between calls (the kernels release
    the GIL). A hand-off to a waiting worker costs tens of microseconds, where numba's parallel launch
    cost hundreds; each job runs the same code on any thread, so the results are the same."""
    threads = min(get_threads(), jobs)
    with _launch:
        kernel = _compiled(kernel)
    if threads == 1:
        kernel(*args, 0, jobs)
        return
    bounds = [jobs * i // threads for i in range(threads + 1)]
    pending = [_workers(threads - 1).submit(kernel, *args, bounds[i], bounds[i + 1])
               for i in range(1, threads)]
    kernel(*args, bounds[0], bounds[1])
    for job in pending:
        job.result()


_pool, _pool_size, _pool_pid = None, 0, 0


def _workers(n: int) -> ThreadPoolExecutor:
    """A pool of at least ``n`` threads, made once, again to grow (the smaller one's threads end
    once idle), and again in a forked child (which inherits the pool but none of its threads)."""
    global _pool, _pool_size, _pool_pid
    with _launch:
        if _pool_size < n or _pool_pid != os.getpid():
            if _pool is not None and _pool_pid == os.getpid():
                _pool.shutdown(wait=False)
            _pool, _pool_size, _pool_pid = ThreadPoolExecutor(n, "genomamba-cpu"), n, os.getpid()
        return _pool


if numba is not None:
    @intrinsic
    def _float_bits(typingctx, x):
        """The int32 whose bits are those of float32 x."""
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(32))
        return types.int32(types.float32), codegen

    @intrinsic
    def _bits_float(typingctx, i):
        """The float32 whose bits are those of int32 i."""
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.FloatType())
        return types.float32(types.int32), codegen

    @intrinsic
    def _prefetch(typingctx, array, index):
        """Asks the caches for the line holding array[index] (1-d array) ahead of its use: a hint
        (LLVM's llvm.prefetch), which neither faults nor changes a result."""
        if not (isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            address = builder.gep(data, [args[1]])
            i32 = ir.IntType(32)
            hint = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32]), "llvm.prefetch.p0")
            builder.call(hint, [address, i32(0), i32(3), i32(1)])   # read, keep in every level, data
            return context.get_dummy_value()
        return types.void(array, index), codegen

    _ROUND = np.float32(12582912.0)      # 1.5 * 2^23: x + it has round(x) in its low mantissa bits
    _ROUND_BITS = np.int32(0x4B400000)   # the bits of _ROUND
    # 2^f on [-1/2, 1/2] as 1 + f (P1 + f (P2 + ... + f P5)): the degree-5 polynomial of least
    # maximum relative error (a Lawson-weighted least-squares fit on Chebyshev points), 1.9e-7 at
    # most in float32 arithmetic, below the degree-6 Taylor series' 2.3e-7 for one multiply-add less
    _P1, _P2, _P3, _P4, _P5 = (np.float32(0.6931470632553101), np.float32(0.24022242426872253),
                               np.float32(0.05550582334399223), np.float32(0.009671516716480255),
                               np.float32(0.0013308824272826314))

    @njit(fastmath=_FAST, error_model="numpy", inline="always", cache=True)
    def _exp2_nonpositive(x):
        """2^x for float32 x <= 0 (x below -126 gives 2^-126)."""
        x = x if x > np.float32(-126.0) else np.float32(-126.0)   # a select (max() would branch)
        r = x + _ROUND                                       # round(x) = i in the low bits of r
        f = x - (r - _ROUND)                                 # x - i, in [-1/2, 1/2]
        p = np.float32(1.0) + f * (_P1 + f * (_P2 + f * (_P3 + f * (_P4 + f * _P5))))
        # r's bits shifted into the exponent's place are i there (_ROUND's own bits leave the word), and
        # adding them to p's exponent multiplies p, in [2^-1/2, 2^1/2], by 2^i exactly (i >= -126)
        return _bits_float(_float_bits(p) + (_float_bits(r) << np.int32(23)))

    _LOG2E = np.float32(1.4426950408889634)

    @njit(fastmath=_FAST, error_model="numpy", inline="always", cache=True)
    def _log1p_unit(e):
        """log(1 + e) for e in [0, 1]: 2 atanh(s), s = e / (2 + e) <= 1/3, to s^13 (error below 1e-8)."""
        s = e / (np.float32(2.0) + e)
        s2 = s * s
        return np.float32(2.0) * s * (np.float32(1.0) + s2 * (np.float32(1 / 3) + s2 * (np.float32(1 / 5) + s2 * (
            np.float32(1 / 7) + s2 * (np.float32(1 / 9) + s2 * (np.float32(1 / 11) + s2 * np.float32(1 / 13)))))))

    @njit(fastmath=_FAST, error_model="numpy", inline="always", cache=True)
    def _softplus(x):
        """log(1 + e^x) = max(x, 0) + log(1 + e^-|x|)."""
        return (x if x > 0 else np.float32(0.0)) + _log1p_unit(_exp2_nonpositive(-abs(x) * _LOG2E))

    @njit(fastmath=_FAST, error_model="numpy", inline="always", cache=True)
    def _silu(x):
        """x sigmoid(x), with e^-|x| so that nothing overflows."""
        e = _exp2_nonpositive(-abs(x) * _LOG2E)
        r = np.float32(1.0) / (np.float32(1.0) + e)
        return x * (r if x >= 0 else e * r)

    @njit(fastmath=_FAST, error_model="numpy", inline="always", cache=True)
    def _update_states(state, decay_rate, dt, dtu, Bt, Ct, acc):
        """One step of a tile's states, (N, width), and acc += C_t h (the update in the module's
        docstring): decay_rate = A log2 e, (N, width); dt = delta_t, dtu = delta_t u_t, (width,)."""
        for k in range(state.shape[0]):
            bk, ck = Bt[k], Ct[k]
            sk, rk = state[k], decay_rate[k]
            for j in range(sk.shape[0]):
                x = _exp2_nonpositive(dt[j] * rk[j]) * sk[j] + dtu[j] * bk
                sk[j] = x
                acc[j] += x * ck

    @njit(fastmath=_FAST, error_model="numpy", cache=True)
    def _scan_tile(u, delta, z, B, C, rows, b, W, bias, A2, D, h, y, c0, c1, softplus, gate):
        """Channels [c0, c1) of sequence b through all L steps (layouts: see _scan)."""
        L, n, width, rank = y.shape[0], A2.shape[0], c1 - c0, W.shape[0]
        # Every loop over channels runs over contiguous slices from index 0 (u[start:stop][j], not
        # u[start + j]): numba then knows that no index is negative, and LLVM vectorises the loop with
        # plain vector loads instead of gathers.
        state = np.empty((n, width), np.float32)
        decay_rate = np.empty((n, width), np.float32)
        for k in range(n):
            state[k] = h[k, c0:c1]
            decay_rate[k] = A2[k, c0:c1]
        low_rank = np.empty((rank, width), np.float32)
        for q in range(rank):
            low_rank[q] = W[q, c0:c1]
        bias, D = bias[c0:c1], D[c0:c1]
        raw = np.empty(width, np.float32)
        dt = np.empty(width, np.float32)
        dtu = np.empty(width, np.float32)
        acc = np.empty(width, np.float32)
        iu, iz = b * rows[0, 0] + c0, b * rows[2, 0] + c0
        idelta = b * rows[1, 0] + (0 if rank else c0)
        iB, iC = b * rows[3, 0], b * rows[4, 0]
        for t in range(L):
            if t + _AHEAD < L:   # the rows of step t + _AHEAD (see _AHEAD)
                s = t + _AHEAD
                for j in range(0, width, 16):
                    _prefetch(u, iu + s * rows[0, 1] + j)
                    _prefetch(z, iz + s * rows[2, 1] + j)
                    _prefetch(y[s], c0 + j)
                for j in range(0, rank if rank else width, 16):
                    _prefetch(delta, idelta + s * rows[1, 1] + j)
                _prefetch(B, iB + s * rows[3, 1])
                _prefetch(C, iC + s * rows[4, 1])
            ut = u[iu + t * rows[0, 1]:][:width]
            zt = z[iz + t * rows[2, 1]:][:width]
            yt = y[t, c0:c1]
            # branches outside the loops over channels, so that each loop is one vectorised pass
            if rank:      # delta = dt_proj's product of its rank inputs, here rather than a matrix product
                low = delta[idelta + t * rows[1, 1]:][:rank]
                for j in range(width):
                    raw[j] = low[0] * low_rank[0, j]
                for q in range(1, rank):
                    lq, wq = low[q], low_rank[q]
                    for j in range(width):
                        raw[j] += lq * wq[j]
            else:
                deltat = delta[idelta + t * rows[1, 1]:][:width]
                for j in range(width):
                    raw[j] = deltat[j]
            if softplus:
                for j in range(width):
                    dt[j] = _softplus(raw[j] + bias[j])
                    dtu[j] = dt[j] * ut[j]
                    acc[j] = D[j] * ut[j]
            else:
                for j in range(width):
                    dt[j] = raw[j] + bias[j]
                    dtu[j] = dt[j] * ut[j]
                    acc[j] = D[j] * ut[j]
            _update_states(state, decay_rate, dt, dtu, B[iB + t * rows[3, 1]:][:n], C[iC + t * rows[4, 1]:][:n],
                           acc)
            if gate:
                for j in range(width):
                    yt[j] = acc[j] * _silu(zt[j])
            else:
                for j in range(width):
                    yt[j] = acc[j]
        for k in range(n):
            h[k, c0:c1] = state[k]

    @njit(fastmath=_FAST, error_model="numpy", nogil=True, cache=True)
    def _scan(u, delta, z, B, C, rows, W, bias, A2, D, h, y, width, softplus, gate, first, last):
        """Jobs [first, last) of the scan, one job per sequence and tile of ``width`` channels (jobs
        of one call run on several threads: the GIL is released). u, delta, z, B, C: rows (see
        ``_rows``) of (batch, L, dim) (B, C: (batch, L, N)), their (batch, time) strides in rows[0]
        to rows[4]; y: (batch, L, dim); bias, D: (dim,); A2 = A log2 e: (N, dim); h: (batch, N, dim),
        the state entering, updated in place to the state leaving. W: (rank, dim); with rank 0,
        delta's rows are delta (dim wide), else they are dt_proj's inputs (rank wide) and delta =
        their product with W. y = (C h + D u) * silu(z) if gate, delta = softplus(delta + bias) if
        softplus."""
        dim = y.shape[2]
        tiles = -(-dim // width)
        for job in range(first, last):
            b, c0 = job // tiles, (job % tiles) * width
            _scan_tile(u, delta, z, B, C, rows, b, W, bias, A2, D, h[b], y[b], c0, min(c0 + width, dim),
                       softplus, gate)

    @njit(fastmath=_FAST, error_model="numpy", cache=True)
    def _conv_steps(x, rows, b, state, weight, bias, out, t0, t1, silu):
        """Steps [t0, t1) of sequence b, every channel (layouts: see _conv; row slices: see _scan_tile)."""
        K, dim = weight.shape[0], out.shape[1]
        start, step = b * rows[0], rows[1]
        # the usual width, 4, from the fourth step on (all taps inside x): one pass per step, the same
        # sums in the same order as the general loop below
        t4 = max(t0, 3) if K == 4 else t1
        if t4 < t1:
            w0, w1, w2, w3 = weight[0], weight[1], weight[2], weight[3]
            for t in range(t4, t1):
                x0 = x[start + (t - 3) * step:][:dim]
                x1 = x[start + (t - 2) * step:][:dim]
                x2 = x[start + (t - 1) * step:][:dim]
                x3 = x[start + t * step:][:dim]
                ot = out[t]
                if silu:
                    for c in range(dim):
                        ot[c] = _silu(bias[c] + w0[c] * x0[c] + w1[c] * x1[c] + w2[c] * x2[c] + w3[c] * x3[c])
                else:
                    for c in range(dim):
                        ot[c] = bias[c] + w0[c] * x0[c] + w1[c] * x1[c] + w2[c] * x2[c] + w3[c] * x3[c]
        acc = np.empty(dim, np.float32)
        for t in range(t0, min(t1, t4)):
            for c in range(dim):
                acc[c] = bias[c]
            for w in range(K):
                s = t + w - (K - 1)                          # the input this tap reads
                if s >= 0:
                    xs = x[start + s * step:][:dim]
                else:
                    xs = state[K - 1 + s]
                ws = weight[w]
                for c in range(dim):
                    acc[c] += ws[c] * xs[c]
            ot = out[t]
            if silu:
                for c in range(dim):
                    ot[c] = _silu(acc[c])
            else:
                for c in range(dim):
                    ot[c] = acc[c]

    @njit(fastmath=_FAST, error_model="numpy", nogil=True, cache=True)
    def _conv(x, rows, state, weight, bias, out, steps, silu, first, last):
        """Jobs [first, last) of the depthwise causal conv, one job per sequence and block of
        ``steps`` steps, each over all channels (long contiguous loops; no recurrence, so threads
        share the blocks). x: rows (see ``_rows``) of (batch, L, dim), (batch, time) strides
        ``rows``; out: (batch, L, dim); state: (batch, K - 1, dim), the inputs before x; weight:
        (K, dim); bias: (dim,). out = silu(conv) if silu."""
        L = out.shape[1]
        blocks = -(-L // steps)
        for job in range(first, last):
            b, t0 = job // blocks, (job % blocks) * steps
            _conv_steps(x, rows, b, state[b], weight, bias, out[b], t0, min(t0 + steps, L), silu)

    @njit(fastmath=True, error_model="numpy", cache=True)
    def _rms_norm(x, weight, eps, out):
        """out = x / sqrt(mean(x^2) + eps) * weight, row by row: x, out: (rows, d); weight: (d,)."""
        d = x.shape[1]
        for i in range(x.shape[0]):
            xi, oi = x[i], out[i]
            total = np.float32(0.0)
            for j in range(d):
                total += xi[j] * xi[j]
            r = np.float32(1.0) / np.sqrt(total / np.float32(d) + eps)
            for j in range(d):
                oi[j] = xi[j] * r * weight[j]

    @njit(error_model="numpy", cache=True)
    def _time_sums(x, out):
        """out[b] += the sum over time of x[b], in float64: x: (batch, L, d); out: (batch, d)."""
        for b in range(x.shape[0]):
            total = out[b]
            for t in range(x.shape[1]):
                xt = x[b, t]
                for j in range(x.shape[2]):
                    total[j] += xt[j]

    def _array(ndim, dtype=types.float32):
        return types.Array(dtype, ndim, "C")

    _SCAN = (_array(1), _array(1), _array(1), _array(1), _array(1), _array(2, types.int64), _array(2), _array(1),
             _array(2), _array(1), _array(3), _array(3), types.int64, types.boolean, types.boolean,
             types.int64, types.int64)
    _CONV = (_array(1), _array(1, types.int64), _array(3), _array(2), _array(1), _array(3), types.int64, types.boolean,
             types.int64, types.int64)
    _SIGNATURES = {_scan: _SCAN, _conv: _CONV}


def _run_scan(*args) -> None:
    """``_scan(*args)``: one job per sequence and tile of ``width`` channels."""
    y, width = args[11], args[12]
    _run(_scan, y.shape[0] * -(-y.shape[2] // width), *args)


def _run_conv(*args) -> None:
    """``_conv(*args)``: one job per sequence and block of ``steps`` steps."""
    out, steps = args[5], args[6]
    _run(_conv, out.shape[0] * -(-out.shape[1] // steps), *args)


def _tile_width(dim: int, batch: int, threads: int) -> int:
    """A multiple of 16 (float32 lanes of AVX-512) from _TILE_MIN to _TILE_MAX, one tile per thread
    where the channels allow. The width changes no result: each channel's arithmetic is the same."""
    per_thread = -(-dim * batch // threads)
    width = min(_TILE_MAX, max(_TILE_MIN, -(-per_thread // 16) * 16))
    return min(width, -(-dim // 16) * 16)


def _rows(x):
    """(batch, dim, L) tensor -> (flat float32 array, (batch stride, time stride)): element (b, c, t)
    at flat[b * batch_stride + t * time_stride + c]. A view where the channels are contiguous in memory
    (the model's channels-last tensors, halves of in_proj's output included), else one of a copy."""
    x = x.detach().float()
    if x.stride(1) != 1 and x.shape[1] > 1:
        x = x.transpose(1, 2).contiguous().transpose(1, 2)
    batch, dim, L = x.shape
    span = max(0, (batch - 1) * x.stride(0) + (L - 1) * x.stride(2) + dim)
    return torch.as_strided(x, (span,), (1,), x.storage_offset()).numpy(), (x.stride(0), x.stride(2))


def _time_major(x) -> np.ndarray:
    """(batch, dim, L) tensor -> C-contiguous float32 (batch, L, dim) array (a copy unless the tensor
    is channels-last)."""
    return np.ascontiguousarray(x.detach().float().transpose(1, 2).numpy())


def cpu_selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       initial_state=None, return_last_state=False):
    """``selective_scan_fn`` on CPU without gradients (see ``scan_applies``)."""
    batch, dim, L = u.shape
    n = A.shape[1]
    with torch.no_grad():
        h = (initial_state.detach().float().transpose(1, 2).contiguous() if initial_state is not None
             else torch.zeros(batch, n, dim, dtype=torch.float32))
        y = torch.empty(batch, L, dim, dtype=torch.float32)
        if L:
            zero = torch.zeros(dim, dtype=torch.float32)
            bias = (delta_bias.detach().float() if delta_bias is not None else zero).contiguous()
            skip = (D.detach().float() if D is not None else zero).contiguous()
            A2 = (A.detach().float() * float(np.log2(np.e))).t().contiguous()
            (ur, su), (dr, sd), (zr, sz) = (_rows(x) for x in (u, delta, z if z is not None else u))
            B, C = _time_major(B), _time_major(C)
            sbc = (L * n, n)
            _run_scan(ur, dr, zr, B.ravel(), C.ravel(), np.array([su, sd, sz, sbc, sbc], np.int64),
                      np.empty((0, dim), np.float32), bias.numpy(), A2.numpy(), skip.numpy(), h.numpy(), y.numpy(),
                      _tile_width(dim, batch, get_threads()), bool(delta_softplus), z is not None)
    y = y.transpose(1, 2).to(u.dtype)
    last = h.transpose(1, 2)
    return (y, last) if return_last_state else y


def cpu_causal_conv1d(x, weight, bias=None, initial_states=None, return_final_states=False, activation=None):
    """``causal_conv1d_fn`` on CPU without gradients (see ``conv_applies``)."""
    batch, dim, L = x.shape
    K = weight.shape[-1]
    with torch.no_grad():
        state = (initial_states.detach().float().transpose(1, 2) if initial_states is not None
                 else torch.zeros(batch, K - 1, dim, dtype=torch.float32))
        out = torch.empty(batch, L, dim, dtype=torch.float32)
        if L:
            w = weight.detach().float().reshape(dim, K).t().contiguous()
            b = (bias.detach().float() if bias is not None else torch.zeros(dim)).contiguous()
            xr, rows = _rows(x)
            _run_conv(xr, np.array(rows, np.int64), state.contiguous().numpy(), w.numpy(), b.numpy(), out.numpy(),
                      _CONV_STEPS, activation is not None)
        out = out.transpose(1, 2).to(x.dtype)
        if not return_final_states:
            return out
        # the last K - 1 inputs
        xt = x.detach().float().transpose(1, 2)                                 # (batch, L, dim)
        final = xt[:, L - (K - 1):] if L >= K - 1 else torch.cat([state, xt], dim=1)[:, L:]
        return out, final.transpose(1, 2).to(x.dtype)


# The Mamba layer's CPU inference (``genomamba.models.mamba``) calls these on its own buffers: float32
# tensors, no gradient, (batch, L, channels) with the channels contiguous; results go to ``out``/``y``.

def rms_norm(x, weight, eps: float, out) -> None:
    """RMSNorm of (rows, d) x into out (both contiguous)."""
    _rms_norm(x.numpy(), weight.detach().numpy(), np.float32(eps), out.numpy())


def time_sums(x):
    """``x.sum(1, dtype=torch.float64)`` of (batch, L, d) x: one numba pass where the fast kernels
    apply (float32, contiguous, see ``_fast_inputs``; up to float64 rounding), where torch's sum with a
    float64 result over the middle dimension takes ten times as long; on CUDA, float32 x as
    ``blocked_time_sums``; torch's sum elsewhere."""
    if x.is_cuda and x.dtype == torch.float32 and x.dim() == 3:
        return blocked_time_sums(x)
    if not (x.dtype == torch.float32 and x.dim() == 3 and x.is_contiguous() and _fast_inputs(x)):
        return x.sum(1, dtype=torch.float64)
    out = torch.zeros(x.shape[0], x.shape[2], dtype=torch.float64)
    _time_sums(x.detach().numpy(), out.numpy())
    return out


SUM_BLOCK = 64   # steps summed in float32 by blocked_time_sums before the float64 sum


def blocked_time_sums(x):
    """``x.sum(1, dtype=torch.float64)`` of float32 (batch, L, d) x from float32 sums of blocks of
    SUM_BLOCK steps, added in float64: one float32 pass over x, where torch's float64 sum first
    converts x (a copy of twice its size) and reduces the copy. Each block's float32 sum adds
    rounding errors of at most SUM_BLOCK float32 roundings of its partial sums (below 1e-5 of the
    block's absolute sum; far less in practice), which the float64 total keeps from growing with L."""
    batch, L, d = x.shape
    full = L // SUM_BLOCK * SUM_BLOCK
    out = x[:, :full].reshape(batch, full // SUM_BLOCK, SUM_BLOCK, d).sum(2).sum(1, dtype=torch.float64)
    return out + x[:, full:].sum(1, dtype=torch.float64) if full < L else out


def conv_into(x, weight, bias, state, out) -> None:
    """silu(causal depthwise conv) of x (batch, L, dim) into out (batch, L, dim, contiguous): weight
    (K, dim) and state (batch, K - 1, dim, the inputs before x) contiguous, bias (dim,)."""
    xr, rows = _rows(x.transpose(1, 2))
    _run_conv(xr, np.array(rows, np.int64), state.numpy(), weight.numpy(), bias.detach().numpy(), out.numpy(),
              _CONV_STEPS, True)


def scan_into(u, low, W, z, B, C, A2, D, bias, h, y) -> None:
    """The gated selective scan with softplus(delta + bias), delta = low W (low: (batch, L, rank),
    W: (rank, dim)), into y (batch, L, dim, contiguous); u, z: (batch, L, dim); B, C: (batch, L, N);
    A2 = A log2 e: (N, dim) and h: (batch, N, dim), the state, updated in place (both contiguous)."""
    batch, dim = y.shape[0], y.shape[2]
    flat = [_rows(x.transpose(1, 2)) for x in (u, low, z, B, C)]
    _run_scan(*(f for f, _ in flat), np.array([rows for _, rows in flat], np.int64), W.numpy(),
              bias.detach().numpy(), A2.numpy(), D.detach().numpy(), h.numpy(), y.numpy(),
              _tile_width(dim, batch, get_threads()), True, True)
