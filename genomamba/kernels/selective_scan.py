"""Autograd wrapper of the Triton selective scan: launch plans, buffers and the reductions."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import torch
import triton

from .selective_scan_kernels import (_ss_bwd_kernel, _ss_bwd_step_kernel,
                                     _ss_bwd_step_summary_kernel, _ss_bwd_summary_kernel,
                                     _ss_chunk_carry_kernel, _ss_fwd_step_kernel,
                                     _ss_fwd_summary_kernel, _ss_fwd_tiled_kernel,
                                     _ss_gate_bwd_kernel, _ss_gate_fwd_kernel)


@dataclass(frozen=True)
class ScanConfig:
    """Launch plan. Two forwards: "step" (each thread steps its channels' states through time, L cut
    into chunks that run side by side after a summary pass; faster on large inputs) and "tiled" (one
    channel per program, tiles of tile_t steps scanned in parallel; fewer launches, faster on small
    inputs); "auto" picks step from fwd_step_min_elements = batch x dim x L on. Two backwards:
    "step" (the step forward's layout, stepping back through 4-step tiles whose states it recomputes
    from the checkpoints) and "tiled" (bwd_block_k channels per program, tiles of bwd_tile_t steps);
    "auto" picks step from bwd_step_min_elements on. The thresholds are where the step kernels'
    extra launches and copies stop costing more host time than they save on the H100
    (docs/benchmarks.md). Either backward runs chunks of L side by side; the forward checkpoints the
    state every bwd_tile_t steps for it."""
    fwd_kernel: str = "auto"   # "auto", "step" or "tiled"
    bwd_kernel: str = "auto"   # "auto", "step" or "tiled"
    fwd_step_min_elements: int = 1 << 24
    bwd_step_min_elements: int = 1 << 23
    step_block_d: int = 32     # step forward: channels per program (one warp: 4 per thread)
    step_warps: int = 1
    step_unroll: int = 8       # step forward: steps per tile (4, 8 or 16)
    step_programs_per_sm: int = 64
    step_max_chunks: int = 512
    tile_t: int = 256          # tiled forward: steps per tile
    tile_warps: int = 2
    tile_stages: int = 2       # software-pipelining depth of the tiled forward's loop
    fwd_chunk_below: int = 3   # the tiled forward cuts L into chunks only below this many rows per SM
    fwd_programs_per_sm: int = 16  # and then aims for this many programs per multiprocessor
    fwd_chunks: int | None = None  # force the forward's chunk count (tests, tuning)
    bwd_tile_t: int = 128      # backward steps per tile; the forward checkpoints every bwd_tile_t
    bwd_warps: int = 2
    bwd_stages: int = 1        # software-pipelining depth of the backward's channel loop
    bwd_block_k: int = 16      # channels per backward program (their dB, dC summed in registers)
    programs_per_sm: int = 16  # aim for this many backward programs per multiprocessor
    # tiled backward: add dB, dC into one buffer with atomics: a third of its memory, 1-2% slower,
    # and not bit-reproducible (the order of the additions varies); off, partial sums in fixed order
    bwd_atomic_bc: bool = False
    max_chunks: int = 256      # a bound on chunks of L (the tiled forward folds its predecessors')
    bwd_chunks: int | None = None  # force a chunk count (tests, tuning)

    def __post_init__(self):
        for name in ("fwd_kernel", "bwd_kernel"):
            if getattr(self, name) not in ("auto", "step", "tiled"):
                raise ValueError(f"{name} must be auto, step or tiled, not {getattr(self, name)!r}")
        if self.step_unroll not in (4, 8, 16) or self.bwd_tile_t % 4:
            raise ValueError("step_unroll must be 4, 8 or 16 and bwd_tile_t a multiple of 4")


DEFAULT_CONFIG = ScanConfig()
_config = DEFAULT_CONFIG


def get_config() -> ScanConfig:
    """The launch plan in force."""
    return _config


def set_config(**changes) -> ScanConfig:
    """Change the launch plan (benchmarks and tests); returns the previous one."""
    global _config
    previous, _config = _config, replace(_config, **changes)
    return previous


def _largest_pow2_dividing(n: int, cap: int) -> int:
    block = 1
    while block * 2 <= cap and n % (block * 2) == 0:
        block *= 2
    return block


@functools.cache
def _sm_count(device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 2


@dataclass(frozen=True)
class _Split:
    block_k: int
    n_dblocks: int
    chunk_len: int
    n_chunks: int


def _chunks(L, rows, per_sm, sms, align, cfg, forced) -> tuple[int, int]:
    """(chunk length, chunk count): chunks of L, multiples of align, to give rows x chunks programs
    about per_sm per multiprocessor."""
    n_chunks = forced or triton.cdiv(per_sm * sms, rows)
    n_chunks = max(1, min(n_chunks, cfg.max_chunks, triton.cdiv(L, align)))
    chunk_len = triton.cdiv(triton.cdiv(L, n_chunks), align) * align
    return chunk_len, triton.cdiv(L, chunk_len)


def _step_chunks(L, rows, unit, forced, cfg, device) -> tuple[int, int]:
    """(chunk length, chunk count) for the step kernels: about step_programs_per_sm programs per
    multiprocessor over rows channel blocks, chunks a power of two times unit long (unit: the
    forward's steps per iteration or the backward's checkpoint interval). Chunk lengths that are not
    powers of two ran up to 2.5x slower on the H100 (7944 or 3976 steps against 4096 or 8192;
    docs/benchmarks.md)."""
    n_chunks = forced or triton.cdiv(cfg.step_programs_per_sm * _sm_count(device), rows)
    n_chunks = min(n_chunks, cfg.step_max_chunks)
    chunk_len = unit * triton.next_power_of_2(triton.cdiv(L, n_chunks * unit))
    return chunk_len, triton.cdiv(L, chunk_len)


def _split(batch, dim, L, dpg, sms, cfg) -> _Split:
    """The backward's channel blocks (inside one group of B and C) and chunks of L."""
    block_k = _largest_pow2_dividing(dpg, cfg.bwd_block_k)
    n_dblocks = dim // block_k
    chunk_len, n_chunks = _chunks(L, batch * n_dblocks, cfg.programs_per_sm, sms, cfg.bwd_tile_t,
                                  cfg, cfg.bwd_chunks)
    return _Split(block_k, n_dblocks, chunk_len, n_chunks)


def _bc4(X):
    """(batch, N, L) -> (batch, 1, N, L) view; 4-d stays."""
    return X.unsqueeze(1) if X.dim() == 3 else X


def _check(u, delta, A, B, C, D, z, delta_bias, initial_state):
    batch, dim, L = u.shape
    if delta.shape != u.shape or (z is not None and z.shape != u.shape):
        raise ValueError("u, delta and z must share the shape (batch, dim, L)")
    if A.dim() != 2 or A.shape[0] != dim:
        raise ValueError(f"A must be (dim, N) = ({dim}, N), got {tuple(A.shape)}")
    N = A.shape[1]
    B4, C4 = _bc4(B), _bc4(C)
    for name, X in (("B", B4), ("C", C4)):
        if X.shape[0] != batch or X.shape[2] != N or X.shape[3] != L or dim % X.shape[1]:
            raise ValueError(f"{name} must be (batch, N, L) or (batch, groups, N, L) with groups "
                             f"dividing dim, got {tuple(X.shape)}")
    if B4.shape[1] != C4.shape[1]:
        raise ValueError("B and C must have the same number of groups")
    if dim * L >= 2 ** 31 or batch * N * L >= 2 ** 31:
        raise ValueError("the Triton scan indexes one batch row with 32 bits: dim * L must be "
                         "below 2^31")
    if initial_state is not None and initial_state.shape != (batch, dim, N):
        raise ValueError(f"initial_state must be (batch, dim, N), got {tuple(initial_state.shape)}")
    return batch, dim, L, N, B4, C4


def _strides(X):
    return tuple(X.stride())


def _takes_step(choice: str, elements: int, min_elements: int) -> bool:
    """Whether a direction runs its step kernel: forced, or "auto" from min_elements on."""
    return choice == "step" or (choice == "auto" and elements >= min_elements)


def _forward(u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, want_grad):
    """y, the last state and, with want_grad, what the backward needs: (A in fp32, B and C 4-d,
    the checkpoints, y before the z gate (None without z), the plan, BLOCK_N)."""
    batch, dim, L, N, B4, C4 = _check(u, delta, A, B, C, D, z, delta_bias, initial_state)
    cfg = _config
    block_n = triton.next_power_of_2(N)
    A32 = A.detach().float().contiguous()
    h0 = None if initial_state is None else initial_state.detach().float().contiguous()
    f32 = dict(device=u.device, dtype=torch.float32)
    y = torch.empty(batch, dim, L, device=u.device, dtype=u.dtype)
    last = torch.empty(batch, dim, N, **f32)
    ckpt = torch.empty(batch, triton.cdiv(L, cfg.bwd_tile_t), dim, N, **f32) if want_grad else last
    ypre = torch.empty_like(y) if want_grad and z is not None else None
    y_before_gate = ypre if ypre is not None else y  # where the scan writes before any gate
    softplus = bool(delta_softplus)
    if _takes_step(cfg.fwd_kernel, batch * dim * L, cfg.fwd_step_min_elements):
        # y before the gate for the backward: stored beside y, it made the step forward spill
        # (0.71-0.76x); gated after it, the forward is as fast as fused (docs/benchmarks.md)
        _fwd_step(cfg, u, delta, A32, B4, C4, D, None if want_grad else z, delta_bias, h0,
                  y_before_gate, last, ckpt, want_grad, block_n, softplus)
        if ypre is not None:
            _gate_forward(ypre, z, y)
    else:
        _fwd_tiled(cfg, u, delta, A32, B4, C4, D, z, delta_bias, h0, y, y_before_gate, last, ckpt,
                   want_grad, block_n, softplus)
    return y, last, (A32, B4, C4, ckpt, ypre, cfg, block_n)


class _SelectiveScan(torch.autograd.Function):

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus):
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not zeros
        y, last, (A32, B4, C4, ckpt, ypre, cfg, block_n) = _forward(
            u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, True)
        ctx.save_for_backward(u, delta, A32, B4, C4, D, z, delta_bias, ckpt, ypre)
        ctx.meta = (cfg, block_n, bool(delta_softplus), B.dim(), A.dtype,
                    initial_state is not None,
                    None if initial_state is None else initial_state.dtype, B.dtype, C.dtype)
        return y, last

    @staticmethod
    def backward(ctx, dy, dlast):
        u, delta, A32, B4, C4, D, z, delta_bias, ckpt, ypre = ctx.saved_tensors
        cfg, block_n, softplus, b_ndim, A_dtype, has_h0, h0_dtype, B_dtype, C_dtype = ctx.meta
        batch, dim, L = u.shape
        dz = None
        if dy is None:
            dy = torch.zeros_like(u)
            dz = torch.zeros_like(z) if z is not None else None
        elif z is not None:  # the gate's backward first: the scan's then takes no z
            dy, dz = _gate_backward(dy, z, ypre)
        dlast = None if dlast is None else dlast.float().contiguous()
        du = torch.empty(batch, dim, L, device=u.device, dtype=u.dtype)
        ddelta = torch.empty(batch, dim, L, device=u.device, dtype=delta.dtype)
        step = _takes_step(cfg.bwd_kernel, batch * dim * L, cfg.bwd_step_min_elements)
        launch = _bwd_step if step else _bwd_tiled
        dB, dC, dA_part, dD_part, dbias_part, dh0 = launch(
            cfg, u, delta, A32, B4, C4, D, delta_bias, ckpt, dy, dlast, du, ddelta,
            has_h0, block_n, softplus, b_ndim)
        dA = dA_part.sum(0).to(A_dtype)
        dD = dD_part.sum(0).to(D.dtype) if D is not None else None
        dbias = dbias_part.sum(0).to(delta_bias.dtype) if delta_bias is not None else None
        return (du, ddelta, dA, dB.to(B_dtype), dC.to(C_dtype), dD, dz, dbias,
                dh0.to(h0_dtype) if has_h0 else None, None)


def _gate_launch(batch, dim, L):
    """Grid and tile of the gate kernels: about 4096 elements per tile, up to 64 channels."""
    block_d = min(64, triton.next_power_of_2(dim))
    block_l = min(triton.next_power_of_2(L), 4096 // block_d)
    grid = (triton.cdiv(L, block_l), batch * triton.cdiv(dim, block_d))
    return grid, dict(BLOCK_D=block_d, BLOCK_L=block_l, num_warps=4)


def _gate_forward(ypre, z, y):
    """y = ypre silu(z), elementwise (ypre and y contiguous)."""
    batch, dim, L = z.shape
    grid, meta = _gate_launch(batch, dim, L)
    _ss_gate_fwd_kernel[grid](ypre, z, y, dim, L, *_strides(z), **meta)


def _gate_backward(dout, z, ypre):
    """Through out = y silu(z): the gradient reaching y (fp32) and dz (z's dtype), elementwise."""
    batch, dim, L = z.shape
    dy = torch.empty(batch, dim, L, device=z.device, dtype=torch.float32)
    dz = torch.empty(batch, dim, L, device=z.device, dtype=z.dtype)
    grid, meta = _gate_launch(batch, dim, L)
    _ss_gate_bwd_kernel[grid](dout, z, ypre, dy, dz, dim, L, *_strides(dout), *_strides(z), **meta)
    return dy, dz


def _rows_of_n(X4, row_len):
    """(batch, groups, N, L) -> a (batch, groups, L', row_len) copy in X4's dtype, zero-padded to
    row_len >= N and to L' = L rounded up to 16 steps: the step kernels read one row per step,
    unmasked (a padded step's zeros leave h and the sums as they are; its outputs are masked)."""
    batch, groups, N, L = X4.shape
    out = torch.empty(batch, groups, triton.cdiv(L, 16) * 16, row_len, device=X4.device,
                      dtype=X4.dtype)
    out[:, :, L:].zero_()
    if row_len > N:
        out[..., N:].zero_()
    out[:, :, :L, :N].copy_(X4.transpose(-1, -2))
    return out


def _bwd_summaries(cfg, delta, A32, C4, delta_bias, dy, chunk_len, n_chunks, block_n, softplus):
    """Per (batch row, chunk after the first, channel): the adjoint p the chunk's own outputs send
    out of its first step, and the chunk's sum of delta."""
    batch, dim, L = delta.shape
    N = A32.shape[1]
    f32 = dict(device=delta.device, dtype=torch.float32)
    sumP = torch.empty(batch, n_chunks, dim, N, **f32)
    sumS = torch.empty(batch, n_chunks, dim, **f32)
    if n_chunks > 1:
        _ss_bwd_summary_kernel[(batch * dim, n_chunks - 1)](
            delta, A32, C4, delta_bias if delta_bias is not None else dy, dy, sumP, sumS,
            dim, L, N, dim // C4.shape[1], chunk_len, n_chunks, *_strides(delta), *C4.stride(),
            *_strides(dy), BLOCK_N=block_n, BLOCK_T=cfg.bwd_tile_t,
            HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus, num_warps=cfg.bwd_warps)
    return sumP, sumS


def _bwd_step_summaries(cfg, delta, A32, Ct, delta_bias, dy, block_d, chunk_len, n_chunks,
                        block_n, softplus):
    """_bwd_summaries in the step layout (block_d channels per program, C as _rows_of_n rows)."""
    batch, dim, L = delta.shape
    N = A32.shape[1]
    f32 = dict(device=delta.device, dtype=torch.float32)
    sumP = torch.empty(batch, n_chunks, dim, N, **f32)
    sumS = torch.empty(batch, n_chunks, dim, **f32)
    n_dblocks = dim // block_d
    _ss_bwd_step_summary_kernel[(batch * n_dblocks, n_chunks - 1)](
        delta, A32, Ct, delta_bias if delta_bias is not None else dy, dy, sumP, sumS,
        dim, L, N, n_dblocks, dim // Ct.shape[1], chunk_len, n_chunks, Ct.stride(1),
        *_strides(delta), *_strides(dy), BLOCK_D=block_d, BLOCK_N=block_n,
        UNROLL=math.gcd(cfg.step_unroll, cfg.bwd_tile_t), HAS_BIAS=delta_bias is not None,
        SOFTPLUS=softplus, num_warps=cfg.step_warps)
    return sumP, sumS


def _bwd_step(cfg, u, delta, A32, B4, C4, D, delta_bias, ckpt, dy, dlast, du, ddelta, has_h0,
              block_n, softplus, b_ndim):
    """Backward with _ss_bwd_step_kernel: chunks of L (power-of-two multiples of the checkpoint
    interval) side by side, their incoming adjoints from a reversed scan over chunk summaries."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    groups = B4.shape[1]
    dpg = dim // groups
    ckpt_len = cfg.bwd_tile_t
    block_d = _largest_pow2_dividing(dpg, cfg.step_block_d)
    n_dblocks = dim // block_d
    chunk_len, n_chunks = _step_chunks(L, batch * n_dblocks, ckpt_len, cfg.bwd_chunks, cfg,
                                       u.device)
    f32 = dict(device=u.device, dtype=torch.float32)
    Bt, Ct = _rows_of_n(B4, block_n), _rows_of_n(C4, block_n)
    pin = dlast
    if n_chunks > 1:
        sumP, sumS = _bwd_step_summaries(cfg, delta, A32, Ct, delta_bias, dy, block_d,
                                         chunk_len, n_chunks, block_n, softplus)
        pin = torch.empty(batch, n_chunks, dim, N, **f32)
        _ss_chunk_carry_kernel[(batch * dim,)](
            A32, dlast if dlast is not None else sumP, sumP, sumS, pin, dim, N, n_chunks,
            BLOCK_C=triton.next_power_of_2(n_chunks), BLOCK_N=block_n,
            HAS_INIT=dlast is not None, REVERSE=True, num_warps=4)
    rows = batch * n_chunks
    dB_part = torch.empty(n_dblocks, batch, N, L, **f32)
    dC_part = torch.empty(n_dblocks, batch, N, L, **f32)
    dA_part = torch.empty(rows, dim, N, **f32)
    dD_part = torch.empty(rows, dim, **f32)
    dbias_part = torch.empty(rows, dim, **f32)
    dh0 = torch.empty(batch, dim, N, **f32)
    scratch = torch.empty(batch * n_dblocks * n_chunks * (ckpt_len // 4) * block_d * N, **f32)
    dummy = du
    _ss_bwd_step_kernel[(batch * n_dblocks, n_chunks)](
        u, delta, A32, Bt, Ct, D if D is not None else dummy,
        delta_bias if delta_bias is not None else dummy, dy, pin if pin is not None else dummy,
        ckpt, scratch, du, ddelta, dB_part, dC_part, dA_part, dD_part, dbias_part, dh0,
        batch, dim, L, N, n_dblocks, dpg, chunk_len, n_chunks, ckpt_len, ckpt.shape[1], Bt.stride(1),
        *_strides(u), *_strides(delta), *_strides(dy), BLOCK_D=block_d, BLOCK_N=block_n,
        HAS_D=D is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus, HAS_PIN=pin is not None,
        WANT_DH0=has_h0, num_warps=cfg.step_warps)
    return (_reduce_groups(dB_part, groups, b_ndim), _reduce_groups(dC_part, groups, b_ndim),
            dA_part, dD_part, dbias_part, dh0)


def _bwd_tiled(cfg, u, delta, A32, B4, C4, D, delta_bias, ckpt, dy, dlast, du, ddelta, has_h0,
               block_n, softplus, b_ndim):
    """Backward with _ss_bwd_kernel (bwd_block_k channels per program, tiles of bwd_tile_t steps)."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    groups = B4.shape[1]
    dpg = dim // groups
    plan = _split(batch, dim, L, dpg, _sm_count(u.device), cfg)
    f32 = dict(device=u.device, dtype=torch.float32)
    if cfg.bwd_atomic_bc:
        dB_part = torch.zeros(batch, groups, N, L, **f32)
        dC_part = torch.zeros(batch, groups, N, L, **f32)
    else:
        dB_part = torch.empty(plan.n_dblocks, batch, N, L, **f32)
        dC_part = torch.empty(plan.n_dblocks, batch, N, L, **f32)
    rows = batch * plan.n_chunks
    dA_part = torch.empty(rows, dim, N, **f32)
    dD_part = torch.empty(rows, dim, **f32)
    dbias_part = torch.empty(rows, dim, **f32)
    dh0 = torch.empty(batch, dim, N, **f32)
    sumP, sumS = _bwd_summaries(cfg, delta, A32, C4, delta_bias, dy, plan.chunk_len,
                                plan.n_chunks, block_n, softplus)
    carry = torch.empty(batch * plan.n_dblocks * plan.n_chunks * plan.block_k * block_n, **f32)
    dummy = du
    _ss_bwd_kernel[(batch * plan.n_dblocks, plan.n_chunks)](
        u, delta, A32, B4, C4, D if D is not None else dummy,
        delta_bias if delta_bias is not None else dummy, dy,
        dlast if dlast is not None else dummy, ckpt, sumP, sumS, carry,
        du, ddelta, dB_part, dC_part, dA_part, dD_part, dbias_part, dh0,
        batch, dim, L, N, plan.n_dblocks, plan.chunk_len, plan.n_chunks, ckpt.shape[1], dpg,
        *_strides(u), *_strides(delta), *B4.stride(), *C4.stride(), *_strides(dy),
        BLOCK_K=plan.block_k, STAGES=cfg.bwd_stages, HAS_D=D is not None,
        HAS_DLAST=dlast is not None, WANT_DH0=has_h0, ATOMIC_BC=cfg.bwd_atomic_bc,
        BLOCK_N=block_n, BLOCK_T=cfg.bwd_tile_t, HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus,
        num_warps=cfg.bwd_warps)
    if cfg.bwd_atomic_bc:
        dB, dC = (X.squeeze(1) if b_ndim == 3 else X for X in (dB_part, dC_part))
    else:
        dB = _reduce_groups(dB_part, groups, b_ndim)
        dC = _reduce_groups(dC_part, groups, b_ndim)
    return dB, dC, dA_part, dD_part, dbias_part, dh0


def _fwd_step(cfg, u, delta, A32, B4, C4, D, z, delta_bias, h0, y, last, ckpt, want_grad, block_n,
              softplus):
    """Forward with _ss_fwd_step_kernel: B and C as padded rows; with chunks of L, a summary
    pass over the chunks but the last, a scan over chunks for their start states, then the output
    pass."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    dpg = dim // B4.shape[1]
    block_d = _largest_pow2_dividing(dpg, cfg.step_block_d)
    n_dblocks = dim // block_d
    # checkpoints land on iteration starts: the unroll divides the backward's tile
    unroll = math.gcd(cfg.step_unroll, cfg.bwd_tile_t) if want_grad else cfg.step_unroll
    chunk_len, n_chunks = _step_chunks(L, batch * n_dblocks, unroll, cfg.fwd_chunks, cfg, u.device)
    f32 = dict(device=u.device, dtype=torch.float32)
    Bt, Ct = _rows_of_n(B4, block_n), _rows_of_n(C4, block_n)
    start = h0
    sumH = sumS = last  # placeholders, unread with one chunk
    if n_chunks > 1:
        sumH = torch.empty(batch, n_chunks, dim, N, **f32)
        sumS = torch.empty(batch, n_chunks, dim, **f32)
        start = torch.empty(batch, n_chunks, dim, N, **f32)
    dummy = y
    args = [u, delta, A32, Bt, Ct, D if D is not None else dummy, z if z is not None else dummy,
            delta_bias if delta_bias is not None else dummy,
            start if start is not None else dummy, y, last, ckpt, sumH, sumS,
            dim, L, N, n_dblocks, dpg, chunk_len, n_chunks, cfg.bwd_tile_t,
            ckpt.shape[1] if want_grad else 1, Bt.stride(1), *_strides(u), *_strides(delta),
            *(_strides(z) if z is not None else (0, 0, 0)), *_strides(y)]
    flags = dict(BLOCK_D=block_d, BLOCK_N=block_n, UNROLL=unroll, HAS_D=D is not None,
                 HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus,
                 num_warps=cfg.step_warps)
    if n_chunks > 1:
        _ss_fwd_step_kernel[(batch * n_dblocks, n_chunks - 1)](
            *args, SUMMARY=True, HAS_START=False, STORE_CKPT=False, **flags)
        _ss_chunk_carry_kernel[(batch * dim,)](
            A32, h0 if h0 is not None else dummy, sumH, sumS, start, dim, N, n_chunks,
            BLOCK_C=triton.next_power_of_2(n_chunks), BLOCK_N=block_n, HAS_INIT=h0 is not None,
            REVERSE=False, num_warps=4)
    _ss_fwd_step_kernel[(batch * n_dblocks, n_chunks)](
        *args, SUMMARY=False, HAS_START=start is not None, STORE_CKPT=want_grad, **flags)


def _fwd_tiled(cfg, u, delta, A32, B4, C4, D, z, delta_bias, h0, y, ypre, last, ckpt, want_grad,
               block_n, softplus):
    """Forward with _ss_fwd_tiled_kernel (one channel per program, tiles of tile_t steps)."""
    batch, dim, L = u.shape
    N = A32.shape[1]
    dpg = dim // B4.shape[1]
    f32 = dict(device=u.device, dtype=torch.float32)
    n_ckpt = ckpt.shape[1] if want_grad else 1
    # with gradients: the state at every backward tile start, forward tiles dividing those
    tile = min(cfg.tile_t, cfg.bwd_tile_t) if want_grad else cfg.tile_t
    # chunks cost a summary pass (a third of the forward): only where rows leave SMs idle
    sms = _sm_count(u.device)
    forced = cfg.fwd_chunks or (1 if batch * dim >= cfg.fwd_chunk_below * sms else None)
    chunk_len, n_chunks = _chunks(L, batch * dim, cfg.fwd_programs_per_sm, sms,
                                  max(tile, cfg.bwd_tile_t), cfg, forced)
    sumH = torch.empty(batch, n_chunks, dim, N, **f32) if n_chunks > 1 else last  # unread at 1
    sumS = torch.empty(batch, n_chunks, dim, **f32) if n_chunks > 1 else last
    dummy = y
    opt = [D if D is not None else dummy, z if z is not None else dummy,
           delta_bias if delta_bias is not None else dummy, h0 if h0 is not None else dummy]
    flags = dict(BLOCK_N=block_n, BLOCK_T=tile, HAS_BIAS=delta_bias is not None,
                 SOFTPLUS=softplus, num_warps=cfg.tile_warps)
    if n_chunks > 1:
        _ss_fwd_summary_kernel[(batch * dim, n_chunks - 1)](
            u, delta, A32, B4, opt[2], sumH, sumS, dim, L, N, dpg, chunk_len, n_chunks,
            *_strides(u), *_strides(delta), *B4.stride(), **flags)
    z_strides = _strides(z) if z is not None else (0, 0, 0)
    _ss_fwd_tiled_kernel[(batch * dim, n_chunks)](
        u, delta, A32, B4, C4, *opt, y, ypre, last, ckpt, sumH, sumS,
        dim, L, N, dpg, chunk_len, n_chunks, cfg.bwd_tile_t, n_ckpt,
        *_strides(u), *_strides(delta), *B4.stride(), *C4.stride(), *z_strides, *_strides(y),
        STAGES=cfg.tile_stages, HAS_D=D is not None, HAS_Z=z is not None,
        HAS_H0=h0 is not None, STORE_CKPT=want_grad, **flags)


def _reduce_groups(part, groups, b_ndim):
    """(n_dblocks, batch, N, L) partial sums -> (batch, N, L) or (batch, groups, N, L)."""
    n_dblocks, batch, N, L = part.shape
    if b_ndim == 3:
        return part.sum(0)
    return part.view(groups, n_dblocks // groups, batch, N, L).sum(1).transpose(0, 1)


def selective_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          initial_state=None, return_last_state=False):
    """Triton selective scan with mamba_ssm's arguments plus a carried, differentiable state."""
    if u.shape[-1] == 0:
        from .reference import selective_scan_ref
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                  initial_state, return_last_state)
    args = (u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus)
    if torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad
                                       for a in args):
        y, last = _SelectiveScan.apply(*args)
    else:  # inference: no autograd node, no checkpoints
        y, last, _ = _forward(*args, want_grad=False)
    return (y, last) if return_last_state else y
