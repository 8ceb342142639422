"""The scan over chunks of L that lets the step kernels run chunks side by side: from each chunk's
summary (what it adds from a zero start, and its sum of delta, its decay being exp(A sum)), the
state entering each chunk (forward) or the adjoint arriving at each chunk's end (backward)."""

import triton
import triton.language as tl

from .launch import fast_launch, next_power_of_2
from .scan_common import LOG2E, _first_order


@fast_launch
@triton.jit
def _ss_chunk_carry_kernel(
        # inputs
        A_ptr, init_ptr, sumX_ptr, sumS_ptr,
        # output
        out_ptr,
        # sizes
        dim, N, n_chunks,
        # tile and options
        BLOCK_C: tl.constexpr, BLOCK_N: tl.constexpr,
        HAS_INIT: tl.constexpr, REVERSE: tl.constexpr):
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


def chunk_carry(A32, init, sumX, sumS, out, *, reverse):
    """Fill out (batch, n_chunks, dim, N) from the summaries sumX (batch, n_chunks, dim, N) and
    sumS (batch, n_chunks, dim); init (batch, dim, N) or None: the initial state (forward) or the
    gradient of the last state (reverse)."""
    batch, n_chunks, dim, N = out.shape
    _ss_chunk_carry_kernel[(batch * dim,)](
        A32, init, sumX, sumS, out, dim, N, n_chunks,
        BLOCK_C=next_power_of_2(n_chunks), BLOCK_N=next_power_of_2(N),
        HAS_INIT=init is not None, REVERSE=reverse, num_warps=4)
