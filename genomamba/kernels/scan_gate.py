"""The selective scan's z gate, out = y silu(z), as its own pass: forward after the step forward
when gradients are wanted (the backward keeps y before the gate), and backward before the step
backward, which then takes no z (the tiled backward applies the gate's gradient as it reads dout,
``scan_bwd_tiled._dy_dz``). The PyTorch reference is ``reference.scan_output``."""

import torch
import triton
import triton.language as tl

from .launch import cdiv, fast_launch, next_power_of_2


@triton.jit
def _gate_program(ypre_ptr, z_ptr, dim, L,
                  stride_z_batch, stride_z_dim, stride_z_len,
                  stride_y_batch, stride_y_dim, stride_y_len,
                  BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """A gate kernel's program, a (BLOCK_D channels, BLOCK_L steps) tile of one batch row (grid:
    blocks of L, then batch row x channel blocks): the batch row, channel and step offsets, the
    tile's offsets in y before the gate (whose strides the gate's outputs share), its mask, z and y
    before the gate. Tiles, not rows: z, y and the incoming gradient may run along channels (the
    model passes them channels-last), and each load is coalesced along whichever axis has stride 1."""
    n_dblocks = tl.cdiv(dim, BLOCK_D)
    b = (tl.program_id(1) // n_dblocks).to(tl.int64)
    d = (tl.program_id(1) % n_dblocks) * BLOCK_D + tl.arange(0, BLOCK_D)[:, None]
    t = tl.program_id(0).to(tl.int64) * BLOCK_L + tl.arange(0, BLOCK_L)[None, :]
    m = (d < dim) & (t < L)
    z = tl.load(z_ptr + b * stride_z_batch + d * stride_z_dim + t * stride_z_len,
                mask=m, other=0.0).to(tl.float32)
    at = b * stride_y_batch + d * stride_y_dim + t * stride_y_len
    y = tl.load(ypre_ptr + at, mask=m, other=0.0).to(tl.float32)
    return b, d, t, at, m, z, y


@fast_launch
@triton.jit
def _ss_gate_fwd_kernel(
        # inputs, output
        ypre_ptr, z_ptr, y_ptr,
        # sizes
        dim, L,
        # strides
        stride_z_batch, stride_z_dim, stride_z_len,
        stride_y_batch, stride_y_dim, stride_y_len,
        # tile
        BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """out = y silu(z) per tile of _gate_program; y and out share their strides."""
    _, _, _, at, m, z, y = _gate_program(ypre_ptr, z_ptr, dim, L,
                                         stride_z_batch, stride_z_dim, stride_z_len,
                                         stride_y_batch, stride_y_dim, stride_y_len,
                                         BLOCK_D, BLOCK_L)
    tl.store(y_ptr + at, (y * z * tl.sigmoid(z)).to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def _gate_grads(dout, z, y):
    """Through out = y silu(z) (fp32): the gradient reaching y, dout silu(z), and z's,
    dout y sigmoid(z) (1 + z (1 - sigmoid(z)))."""
    sz = tl.sigmoid(z)
    return dout * z * sz, dout * y * sz * (1.0 + z * (1.0 - sz))


@fast_launch
@triton.jit
def _ss_gate_bwd_kernel(
        # inputs
        dout_ptr, z_ptr, ypre_ptr,
        # outputs
        dy_ptr, dz_ptr,
        # sizes
        dim, L,
        # strides
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_z_batch, stride_z_dim, stride_z_len,
        stride_y_batch, stride_y_dim, stride_y_len,
        stride_dz_batch, stride_dz_dim, stride_dz_len,
        # tile
        BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """Per tile of _gate_program: dy (fp32, with y's strides) and dz (_gate_grads), from the y
    before the gate that the forward stored."""
    b, d, t, at, m, z, y = _gate_program(ypre_ptr, z_ptr, dim, L,
                                         stride_z_batch, stride_z_dim, stride_z_len,
                                         stride_y_batch, stride_y_dim, stride_y_len,
                                         BLOCK_D, BLOCK_L)
    dout = tl.load(dout_ptr + b * stride_dout_batch + d * stride_dout_dim + t * stride_dout_len,
                   mask=m, other=0.0).to(tl.float32)
    dy, dz = _gate_grads(dout, z, y)
    tl.store(dy_ptr + at, dy, mask=m)
    tl.store(dz_ptr + b * stride_dz_batch + d * stride_dz_dim + t * stride_dz_len,
             dz.to(dz_ptr.dtype.element_ty), mask=m)


def _gate_launch(batch, dim, L):
    """Grid and tile of the gate kernels: about 4096 elements per tile, up to 64 channels."""
    block_d = min(64, next_power_of_2(dim))
    block_l = min(next_power_of_2(L), 4096 // block_d)
    grid = (cdiv(L, block_l), batch * cdiv(dim, block_d))
    return grid, dict(BLOCK_D=block_d, BLOCK_L=block_l, num_warps=4)


def gate_forward(ypre, z, y):
    """y = ypre silu(z), elementwise (ypre and y with the same strides)."""
    batch, dim, L = z.shape
    if ypre.stride() != y.stride():
        raise ValueError("the gate's y before and after must share their layout")
    grid, tile = _gate_launch(batch, dim, L)
    _ss_gate_fwd_kernel[grid](ypre, z, y, dim, L, *z.stride(), *y.stride(), **tile)


def gate_backward(dout, z, ypre, dz=None):
    """Through out = y silu(z): the gradient reaching y (fp32, in the layout of ``ypre``, which the
    forward allocated dense) and dz (z's dtype), elementwise; dz is written into ``dz`` where given
    (z's shape), else into a new tensor in ypre's layout."""
    batch, dim, L = z.shape
    dy = torch.empty_like(ypre, dtype=torch.float32)
    dz = torch.empty_like(ypre, dtype=z.dtype) if dz is None else dz
    grid, tile = _gate_launch(batch, dim, L)
    _ss_gate_bwd_kernel[grid](dout, z, ypre, dy, dz, dim, L, *dout.stride(), *z.stride(),
                              *ypre.stride(), *dz.stride(), **tile)
    return dy, dz
