"""What the causal conv's two kernel pairs share: the program's channels and the weight taps.

xc = concat(initial_states, x) along L (width - 1 + L columns); out_p = act(bias + sum_m w_m xc_{p+m}).
"""

from __future__ import annotations

import triton
import triton.language as tl

MAX_WIDTH = 4   # both backwards name their carried values: widths 1 to 4, as causal-conv1d's 2-4


@triton.jit
def _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D: tl.constexpr, HAS_BIAS: tl.constexpr):
    """This program's batch row, channels, channel mask and fp32 bias."""
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    offs_d = (pid % n_dblocks) * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < dim
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    return b, offs_d, mask_d, bias


@triton.jit
def _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, m: tl.constexpr, WIDTH: tl.constexpr):
    """Weight m of this program's channels as a (BLOCK_D,) fp32 vector; zero outside [0, WIDTH)."""
    if m >= 0 and m < WIDTH:
        w = tl.load(w_ptr + offs_d * stride_w_dim + m * stride_w_width, mask=mask_d,
                    other=0.0).to(tl.float32)
    else:
        w = tl.zeros(offs_d.shape, tl.float32)
    return w
