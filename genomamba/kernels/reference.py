"""PyTorch reference implementations of the kernels: the CPU path and the ground truth for tests.

Layouts follow mamba_ssm: u, delta, z are (batch, dim, L); A is (dim, N); B and C are (batch, N, L)
or (batch, groups, N, L); states are (batch, dim, N) for the scan and (batch, dim, width-1) for the conv.
Computation runs in float32 (or float64 when the inputs are float64); outputs take the input dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _expand_groups(BC: torch.Tensor, dim: int) -> torch.Tensor:
    """(batch, N, L) or (batch, groups, N, L) -> (batch, dim, N, L) view."""
    if BC.dim() == 3:
        return BC.unsqueeze(1).expand(-1, dim, -1, -1)
    groups = BC.shape[1]
    return BC.repeat_interleave(dim // groups, dim=1)


def scan_inputs(u, delta, A, delta_bias, delta_softplus):
    """Working precision (float32, or float64 for float64 inputs) and delta after bias and softplus."""
    dtype_in = u.dtype
    work = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A = u.to(work), delta.to(work), A.to(work)
    if delta_bias is not None:
        delta = delta + delta_bias.to(work)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    return dtype_in, work, u, delta, A


def scan_output(y, u, D, z, dtype_in):
    """y + D u, gated by silu(z), in the input dtype."""
    if D is not None:
        y = y + u * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y.to(dtype_in)


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       initial_state=None, return_last_state=False):
    """Sequential selective scan: x_t = exp(delta_t A) x_{t-1} + delta_t B_t u_t, y_t = C_t x_t + D u_t."""
    dtype_in, work, u, delta, A = scan_inputs(u, delta, A, delta_bias, delta_softplus)
    batch, dim, L = u.shape
    Bx = _expand_groups(B.to(work), dim)
    Cx = _expand_groups(C.to(work), dim)
    x = (initial_state.to(work) if initial_state is not None
         else u.new_zeros(batch, dim, A.shape[1]))
    dA = torch.exp(delta.unsqueeze(-1) * A[:, None, :])           # (b, d, L, n)
    dBu = (delta * u).unsqueeze(-1) * Bx.transpose(2, 3)          # (b, d, L, n)
    ys = []
    for t in range(L):
        x = dA[:, :, t] * x + dBu[:, :, t]
        ys.append((x * Cx[:, :, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1) if ys else u.new_zeros(batch, dim, 0)
    y = scan_output(y, u, D, z, dtype_in)
    return (y, x) if return_last_state else y


def causal_conv1d_ref(x, weight, bias=None, initial_states=None, return_final_states=False,
                      activation=None):
    """Depthwise causal conv over (batch, dim, L); the last width-1 inputs are the carried state."""
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"activation must be None, 'silu' or 'swish', not {activation!r}")
    dtype_in = x.dtype
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    batch, dim, L = x.shape
    width = weight.shape[-1]
    if initial_states is None:
        initial_states = x.new_zeros(batch, dim, width - 1)
    xc = torch.cat([initial_states.to(work), x.to(work)], dim=-1)
    if L == 0:   # nothing to convolve (conv1d refuses an input shorter than its kernel)
        out = xc[..., :0]
    else:
        out = F.conv1d(xc, weight.to(work).unsqueeze(1), None if bias is None else bias.to(work),
                       groups=dim)
    if activation is not None:
        out = F.silu(out)
    out = out.to(dtype_in)
    if return_final_states:
        return out, xc[..., xc.shape[-1] - (width - 1):].to(dtype_in)
    return out


def add_rms_norm_ref(h, out, weight, eps, normed_dtype):
    """(normed, r): r = h + out (h where out is None), normed = RMSNorm(r) * weight in normed_dtype;
    r in float32 (float64 for float64 h)."""
    work = torch.float64 if h.dtype == torch.float64 else torch.float32
    r = h.to(work) if out is None else h.to(work) + out.to(work)
    return F.rms_norm(r, (r.shape[-1],), weight.to(work), eps).to(normed_dtype), r
