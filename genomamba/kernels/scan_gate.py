"""The selective scan's z gate, out = y silu(z), as its own pass after the step forward when
gradients are wanted (the backward keeps y before the gate; both backwards apply the gate's
gradient as they read dout, ``scan_common._dy_dz``). The PyTorch reference is
``reference.scan_output``."""

import torch
import triton
import triton.language as tl

from .launch import fast_launch


@triton.jit
def _gate_program(ypre_ptr, z_ptr, dim, L,
                  stride_z_batch, stride_z_dim, stride_z_len,
                  stride_y_batch, stride_y_dim, stride_y_len,
                  BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """The gate kernel's program, a (BLOCK_D channels, BLOCK_L steps) tile of one batch row (grid:
    blocks of L, then batch row x channel blocks): the batch row, channel and step offsets, the
    tile's offsets in y before the gate (whose strides the gate's outputs share), its mask, z and y
    before the gate. Tiles, not rows: z and y may run along channels (the model passes them
    channels-last), and each load is coalesced along whichever axis has stride 1."""
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


def _gate_launch(batch, dim, L):
    """Grid and tile of the gate kernel: about 4096 elements per tile, up to 64 channels."""
    block_d = min(64, triton.next_power_of_2(dim))
    block_l = min(triton.next_power_of_2(L), 4096 // block_d)
    grid = (triton.cdiv(L, block_l), batch * triton.cdiv(dim, block_d))
    return grid, dict(BLOCK_D=block_d, BLOCK_L=block_l, num_warps=4)


def gate_forward(ypre, z, y):
    """y = ypre silu(z), elementwise (ypre and y with the same strides)."""
    batch, dim, L = z.shape
    if ypre.stride() != y.stride():
        raise ValueError("the gate's y before and after must share their layout")
    grid, tile = _gate_launch(batch, dim, L)
    _ss_gate_fwd_kernel[grid](ypre, z, y, dim, L, *z.stride(), *y.stride(), **tile)
