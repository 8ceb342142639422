"""The Triton selective scan, composed from its stages: the autograd function and its entry point.

Where each stage lives (each file: its Triton kernels and their launcher):

  scan_plan.py         the launch plan (ScanConfig, set_config): which forward and backward run
  scan_fwd_tiled.py    tiled forward (small inputs)       scan_fwd_step.py   step forward (large)
  scan_bwd_tiled.py    tiled backward (small inputs)      scan_bwd_step.py   step backward (large)
  scan_gate.py         the z gate, y silu(z), as its own pass: after the step forward and before
                       the step backward (the tiled backward applies it as it reads dout)
  scan_chunk_carry.py  the scan over chunks of L that lets chunks run side by side
  scan_common.py       notation, shared Triton helpers, the step kernels' B/C rows
  reference.py         the PyTorch ground truth of the whole scan (float64 in the tests)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .launch import cdiv, next_power_of_2
from .layout import empty_like_layout
from .scan_bwd_step import bwd_step
from .scan_bwd_tiled import bwd_tiled
from .scan_common import rows_of_n
from .scan_fwd_step import fwd_step
from .scan_fwd_tiled import fwd_tiled
from .scan_gate import gate_backward, gate_forward
from .scan_plan import DEFAULT_CONFIG, ScanConfig, get_config, set_config, takes_step

__all__ = ["selective_scan_triton", "scan_backward", "scan_forward", "ScanConfig", "DEFAULT_CONFIG",
           "get_config", "set_config"]


def _bc4(X):
    """(batch, N, L) -> (batch, 1, N, L) view; 4-d stays."""
    return X.unsqueeze(1) if X.dim() == 3 else X


def _check(u, delta, A, B, C, z, initial_state):
    """The shapes, or a ValueError; returns (batch, dim, L, N) and B, C as 4-d views."""
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


@dataclass(frozen=True)
class _ForBackward:
    """What the backward needs besides the saved tensors."""
    cfg: ScanConfig          # the plan the forward ran under (its checkpoint interval)
    step_back: bool          # the backward takes the step kernel (on the forward's B and C rows)
    block_n: int             # N rounded up to a power of two
    softplus: bool
    b_ndim: int              # 3: B and C (batch, N, L); 4: (batch, groups, N, L)
    A_dtype: torch.dtype
    B_dtype: torch.dtype
    C_dtype: torch.dtype
    h0_dtype: torch.dtype | None  # None: no initial state


def _forward(u, delta, A, B, C, D, z, delta_bias, initial_state, softplus, want_grad):
    """y, the last state and, with want_grad, what the backward needs: A in fp32, B and C as the
    backward reads them (4-d, or the step kernels' rows where the backward takes the step kernel),
    the checkpoints, y before the z gate (None without z) and whether the backward takes the step
    kernel."""
    batch, dim, L, N, B4, C4 = _check(u, delta, A, B, C, z, initial_state)
    cfg = get_config()
    block_n = next_power_of_2(N)
    A32 = A.detach().float().contiguous()
    h0 = None if initial_state is None else initial_state.detach().float().contiguous()
    f32 = dict(device=u.device, dtype=torch.float32)
    elements = batch * dim * L
    step = takes_step(cfg.fwd_kernel, elements, cfg.fwd_step_min_elements)
    step_back = want_grad and takes_step(cfg.bwd_kernel, elements, cfg.bwd_step_min_elements)
    # the step kernels read B and C as rows of one step: copied once, for both directions
    bc_rows = (rows_of_n(B4, block_n), rows_of_n(C4, block_n)) if step or step_back else None
    # the step forward writes y in u's layout (a channels-last u gives a channels-last y, which the
    # model's out_proj reads without a copy); the tiled forward, one channel per program, along L
    y = (empty_like_layout(u) if step
         else torch.empty(batch, dim, L, device=u.device, dtype=u.dtype))
    last = torch.empty(batch, dim, N, **f32)
    ckpt = torch.empty(batch, cdiv(L, cfg.bwd_tile_t), dim, N, **f32) if want_grad else None
    ypre = torch.empty_like(y) if want_grad and z is not None else None
    inputs = dict(D=D, delta_bias=delta_bias, h0=h0, last=last, ckpt=ckpt, block_n=block_n,
                  softplus=softplus)
    if step:
        # with gradients, y before the gate is kept: the step forward writes it, then the gate
        fwd_step(cfg, u, delta, A32, bc_rows, z=None if want_grad else z,
                 y=ypre if ypre is not None else y, **inputs)
        if ypre is not None:
            gate_forward(ypre, z, y)
    else:
        fwd_tiled(cfg, u, delta, A32, B4, C4, z=z, y=y, ypre=ypre, **inputs)
    B_saved, C_saved = bc_rows if step_back else (B4, C4)
    return y, last, (A32, B_saved, C_saved, ckpt, ypre, cfg, block_n, step_back)


def scan_forward(u, delta, A, B, C, D, z, delta_bias, initial_state, softplus):
    """y, the last state and what ``scan_backward`` needs: (the tensors to save, the rest)."""
    y, last, (A32, B_saved, C_saved, ckpt, ypre, cfg, block_n, step_back) = _forward(
        u, delta, A, B, C, D, z, delta_bias, initial_state, softplus, want_grad=True)
    meta = _ForBackward(
        cfg=cfg, step_back=step_back, block_n=block_n, softplus=softplus, b_ndim=B.dim(),
        A_dtype=A.dtype, B_dtype=B.dtype, C_dtype=C.dtype,
        h0_dtype=None if initial_state is None else initial_state.dtype)
    return y, last, ((u, delta, A32, B_saved, C_saved, D, z, delta_bias, ckpt, ypre), meta)


def scan_backward(saved, meta, dout, dlast, dz=None):
    """The gradients of (u, delta, A, B, C, D, z, delta_bias, initial_state) from those of y and of
    the last state (either may be None); z's is written into ``dz`` where given (z's shape)."""
    u, delta, A32, B_saved, C_saved, D, z, delta_bias, ckpt, ypre = saved
    gate = None
    if dout is None:  # only the last state's gradient: y's is zero
        dout = torch.zeros_like(u)
        if z is not None:
            dz = torch.zeros_like(z) if dz is None else dz.zero_()
    elif z is not None and meta.step_back:  # the gate's backward first: the step kernel takes no z
        dout, dz = gate_backward(dout, z, ypre, dz)
    elif z is not None:  # the tiled kernels take dout through the gate and write dz
        dz = torch.empty_like(ypre, dtype=z.dtype) if dz is None else dz
        gate = (z, ypre, dz)
    dlast = None if dlast is None else dlast.float().contiguous()
    options = dict(D=D, delta_bias=delta_bias, ckpt=ckpt, dlast=dlast,
                   want_dh0=meta.h0_dtype is not None, block_n=meta.block_n,
                   softplus=meta.softplus, b_ndim=meta.b_ndim,
                   bc_dtypes=(meta.B_dtype, meta.C_dtype))
    if meta.step_back:
        grads = bwd_step(meta.cfg, u, delta, A32, (B_saved, C_saved), dy=dout, **options)
    else:
        grads = bwd_tiled(meta.cfg, u, delta, A32, B_saved, C_saved, dout=dout, gate=gate,
                          **options)
    du, ddelta, dB, dC, dA, dD, dbias, dh0 = grads
    dD = dD.to(D.dtype) if D is not None else None
    dbias = dbias.to(delta_bias.dtype) if delta_bias is not None else None
    return (du, ddelta, dA.to(meta.A_dtype), dB, dC, dD, dz,
            dbias, dh0.to(meta.h0_dtype) if dh0 is not None else None)


class _SelectiveScan(torch.autograd.Function):

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, softplus):
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not zeros
        y, last, (tensors, ctx.for_backward) = scan_forward(u, delta, A, B, C, D, z, delta_bias,
                                                            initial_state, softplus)
        ctx.save_for_backward(*tensors)
        return y, last

    @staticmethod
    def backward(ctx, dout, dlast):
        return (*scan_backward(ctx.saved_tensors, ctx.for_backward, dout, dlast), None)


def selective_scan_triton(u, delta, A, B, C, D=None, z=None, *, delta_bias=None,
                          delta_softplus=False, initial_state=None, return_last_state=False):
    """Triton selective scan with mamba_ssm's arguments plus a carried, differentiable state."""
    if u.shape[-1] == 0:
        from .reference import selective_scan_ref
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias=delta_bias,
                                  delta_softplus=delta_softplus, initial_state=initial_state,
                                  return_last_state=return_last_state)
    args = (u, delta, A, B, C, D, z, delta_bias, initial_state, bool(delta_softplus))
    if torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad
                                       for a in args):
        y, last = _SelectiveScan.apply(*args)
    else:  # inference: no autograd node, no checkpoints
        y, last, _ = _forward(*args, want_grad=False)
    return (y, last) if return_last_state else y
