"""The residual add and RMSNorm in one pass: Triton kernels (forward and backward), their launcher and
autograd function. The PyTorch reference is ``reference.add_rms_norm_ref``.

Over rows of the last dimension (d): r = h + out (in float32; no add where out is None),
normed = r / sqrt(mean(r^2) + eps) * weight, written in the dtype the next layer reads (bfloat16
under autocast). One kernel reads h and out and writes r and normed, where the separate add, norm and
cast read and write the residual stream several times. The backward takes the gradients of normed
and r and gives the one gradient that h and out share:
dr = g_r + rstd (g w - x (g w . x) / d), x = r rstd; and weight's, the sum over rows of g x.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .launch import cdiv, fast_launch, next_power_of_2

ROWS = 16   # rows per program


@fast_launch
@triton.jit
def _add_norm_fwd_kernel(h_ptr, out_ptr, w_ptr, r_ptr, normed_ptr, rstd_ptr, M, D, eps,
                         HAS_OUT: tl.constexpr, ROWS: tl.constexpr, BLOCK_D: tl.constexpr):
    """ROWS rows of (M, D) contiguous h, out, r and normed."""
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK_D)
    mask = (rows[:, None] < M) & (cols[None, :] < D)
    at = rows[:, None].to(tl.int64) * D + cols[None, :]
    r = tl.load(h_ptr + at, mask=mask, other=0.0).to(tl.float32)
    if HAS_OUT:
        r += tl.load(out_ptr + at, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(r * r, axis=1) / D + eps)
    w = tl.load(w_ptr + cols, mask=cols < D, other=0.0).to(tl.float32)
    tl.store(r_ptr + at, r, mask=mask)
    tl.store(normed_ptr + at, (r * rstd[:, None] * w[None, :]).to(normed_ptr.dtype.element_ty),
             mask=mask)
    tl.store(rstd_ptr + rows, rstd, mask=rows < M)


@fast_launch
@triton.jit
def _add_norm_bwd_kernel(g_ptr, g_r_ptr, r_ptr, rstd_ptr, w_ptr, dr_ptr, dw_part_ptr, M, D,
                         HAS_G_R: tl.constexpr, ROWS: tl.constexpr, BLOCK_D: tl.constexpr):
    """ROWS rows: dr (float32) and this program's row of the (programs, D) partial sums of dweight."""
    pid = tl.program_id(0)
    rows = pid * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK_D)
    mask = (rows[:, None] < M) & (cols[None, :] < D)
    at = rows[:, None].to(tl.int64) * D + cols[None, :]
    rstd = tl.load(rstd_ptr + rows, mask=rows < M, other=0.0)
    x = tl.load(r_ptr + at, mask=mask, other=0.0) * rstd[:, None]
    g = tl.load(g_ptr + at, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=cols < D, other=0.0).to(tl.float32)
    gw = g * w[None, :]
    dr = rstd[:, None] * (gw - x * (tl.sum(gw * x, axis=1) / D)[:, None])
    if HAS_G_R:
        dr += tl.load(g_r_ptr + at, mask=mask, other=0.0).to(tl.float32)
    tl.store(dr_ptr + at, dr, mask=mask)
    tl.store(dw_part_ptr + pid * D + cols, tl.sum(g * x, axis=0), mask=cols < D)


def _launch(M, D):
    return (cdiv(M, ROWS),), dict(ROWS=ROWS, BLOCK_D=next_power_of_2(D),
                                         num_warps=4 if D <= 512 else 8)


class _AddRMSNorm(torch.autograd.Function):

    @staticmethod
    def forward(ctx, h, out, weight, eps, normed_dtype):
        D = h.shape[-1]
        h2 = h.reshape(-1, D).contiguous()
        out2 = out.reshape(-1, D).contiguous() if out is not None else None
        M = h2.shape[0]
        r = torch.empty(M, D, device=h.device, dtype=torch.float32)
        normed = torch.empty(M, D, device=h.device, dtype=normed_dtype)
        rstd = torch.empty(M, device=h.device, dtype=torch.float32)
        grid, tile = _launch(M, D)
        _add_norm_fwd_kernel[grid](h2, out2, weight, r, normed, rstd, M, D, eps,
                                   HAS_OUT=out is not None, **tile)
        ctx.save_for_backward(r, rstd, weight)
        ctx.dtypes = (h.dtype, None if out is None else out.dtype)
        return normed.view(h.shape), r.view(h.shape)

    @staticmethod
    def backward(ctx, g, g_r):
        r, rstd, weight = ctx.saved_tensors
        M, D = r.shape
        shape = g.shape if g is not None else g_r.shape
        g = (g.reshape(M, D).contiguous() if g is not None
             else torch.zeros(M, D, device=r.device, dtype=torch.float32))
        g_r = g_r.reshape(M, D).contiguous() if g_r is not None else None
        dr = torch.empty(M, D, device=r.device, dtype=torch.float32)
        grid, tile = _launch(M, D)
        dw_part = torch.empty(grid[0], D, device=r.device, dtype=torch.float32)
        _add_norm_bwd_kernel[grid](g, g_r, r, rstd, weight, dr, dw_part, M, D,
                                   HAS_G_R=g_r is not None, **tile)
        h_dtype, out_dtype = ctx.dtypes
        dr = dr.view(shape)
        return (dr.to(h_dtype), None if out_dtype is None else dr.to(out_dtype),
                dw_part.sum(0).to(weight.dtype), None, None)


def add_rms_norm_triton(h, out, weight, eps, normed_dtype):
    """(normed, r): r = h + out in float32 (h where out is None), normed its RMSNorm times weight in
    ``normed_dtype``; both (..., d) like h."""
    if h.numel() == 0:
        from .reference import add_rms_norm_ref
        return add_rms_norm_ref(h, out, weight, eps, normed_dtype)
    return _AddRMSNorm.apply(h, out, weight, eps, normed_dtype)
