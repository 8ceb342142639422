"""A blocked selective scan, the CPU path of ``selective_scan_fn`` where a gradient is wanted (and for
float64): the same recurrence as ``kernels.reference`` with far fewer Python steps, so that training
on CPU is practical. Inference on CPU takes the compiled scan of ``cpu_inference`` instead.

The reference loops over every position; its backward pass is very slow on CPU (each step's
``select`` allocates a full-size gradient). Here the sequence is cut into blocks of ``T`` positions:

1. a scan inside every block at once, starting from zero (``T`` vectorised steps over all blocks);
2. the cumulative decay inside each block, exp(A * cumsum(delta)) (values in (0, 1], stable);
3. a short sequential pass over the ``L/T`` block boundaries to carry the state in;
4. state_t = local_t + decay_t * carry_in(block).

Steps use ``unbind`` (one gradient op for all of them) instead of indexing, on a time-major
layout so that each step reads contiguous memory. Arguments and layouts
are those of ``kernels.selective_scan_fn``; results match the reference to float32 rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .reference import scan_inputs, scan_output, selective_scan_ref


def _block_size(L: int) -> int:
    """About sqrt(L), so both loops are short."""
    return max(8, min(256, 1 << max(0, math.ceil(math.log2(max(L, 1)) / 2))))


def _blocks_bc(BC: torch.Tensor, dim: int, K: int, T: int) -> torch.Tensor:
    """B or C, (b, N, L) or (b, groups, N, L) with L = K*T, -> (T, b, 1 or dim, K, N)."""
    if BC.dim() == 3:
        b, n, _ = BC.shape
        return BC.view(b, n, K, T).permute(3, 0, 2, 1).unsqueeze(2)
    BC = BC.repeat_interleave(dim // BC.shape[1], dim=1)
    b, d, n, _ = BC.shape
    return BC.view(b, d, n, K, T).permute(4, 0, 1, 3, 2)


def blocked_selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                           initial_state=None, return_last_state=False, block=None):
    if u.shape[-1] == 0:   # no steps: the reference's empty y, the state passed through
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias=delta_bias,
                                  delta_softplus=delta_softplus, initial_state=initial_state,
                                  return_last_state=return_last_state)
    dtype_in, work, u, delta, A = scan_inputs(u, delta, A, delta_bias, delta_softplus)
    batch, dim, L = u.shape
    n = A.shape[1]
    T = block or _block_size(L)
    K = -(-L // T)
    pad = K * T - L
    if pad:  # delta = 0 in the padding: decay 1, no input, so the state passes through unchanged
        delta_p, u_p = F.pad(delta, (0, pad)), F.pad(u, (0, pad))
        B, C = F.pad(B, (0, pad)), F.pad(C, (0, pad))
    else:
        delta_p, u_p = delta, u
    Bt, Ct = _blocks_bc(B.to(work), dim, K, T), _blocks_bc(C.to(work), dim, K, T)

    # Time-major inside blocks, (T, b, d, K, n): every step of the loop reads contiguous memory.
    def blocks(x):  # (b, c, K*T) -> (T, b, c, K)
        return x.view(x.shape[0], x.shape[1], K, T).permute(3, 0, 1, 2).contiguous()
    delta_t = blocks(delta_p)                                                # (T, b, d, K)
    dA = torch.exp(delta_t.unsqueeze(-1) * A[:, None, :])                    # (T, b, d, K, n)
    dBu = blocks(delta_p * u_p).unsqueeze(-1) * Bt
    h = u.new_zeros(batch, dim, K, n)
    local = []
    for a_t, b_t in zip(dA.unbind(0), dBu.unbind(0)):
        h = a_t * h + b_t
        local.append(h)
    local = torch.stack(local)                              # zero start in every block
    # product of the decays since the block start: exp(A * cumulative delta), in (0, 1]
    decay = torch.exp(torch.cumsum(delta_t, dim=0).unsqueeze(-1) * A[:, None, :])

    carry = (initial_state.to(work) if initial_state is not None
             else u.new_zeros(batch, dim, n))
    carries = []
    for d_k, l_k in zip(decay[-1].unbind(2), local[-1].unbind(2)):
        carries.append(carry)
        carry = d_k * carry + l_k
    carries = torch.stack(carries, dim=2)                   # state entering each block
    y = ((local + decay * carries) * Ct).sum(-1)            # (T, b, d, K)
    y = y.permute(1, 2, 3, 0).reshape(batch, dim, K * T)[:, :, :L]
    y = scan_output(y, u, D, z, dtype_in)
    return (y, carry) if return_last_state else y
