"""The Mamba mixer's path from in_proj's output xz to what out_proj reads:

    x, z = the halves of xz;  x = silu(conv(x));  dt, B, C = x_proj(x);  delta = dt_proj(dt)
    y = selective_scan(x, delta, A = -exp(A_log), B, C, D, z, delta_bias, softplus)

``mixer_core_composed`` runs the steps one by one through the dispatched kernels, autograd through
each. ``MixerCore`` (training on the Triton kernels) is the same as one autograd node whose backward
does what autograd through the steps cannot: it writes xz's gradient in place, z's half from the
scan's gate backward and x's half from the conv's backward kernel, where autograd assembles it from
the two with a copy, and it adds x_proj's input gradient into the scan's du inside the matrix
product (addmm) instead of as a separate sum. The tensors are (batch, channels, L) views of
(batch, L, channels) ones throughout (``layout``), as the projections read and write them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .causal_conv1d import _ForBackward as _ConvSaved
from .causal_conv1d import check_arguments, conv_backward, conv_forward
from .dispatch import causal_conv1d_fn, selective_scan_fn
from .selective_scan import scan_backward, scan_forward


def _halves(xz):
    """x and z, each a (batch, channels, L) view of one half of the (batch, L, 2 channels) xz."""
    return (half.transpose(1, 2) for half in xz.chunk(2, dim=-1))


def _projections(x, x_proj_weight, dt_proj_weight):
    """From the conv's output x (batch, channels, L): x_proj's output (batch, L, rank + 2N), delta
    = dt_proj(its first rank columns) as (batch, channels, L), and B and C as (batch, N, L) views
    of x_proj's output (the scan takes any strides; its step kernels copy them into rows of one
    step, and its backward reads them where x_proj's output is kept anyway)."""
    rank = dt_proj_weight.shape[1]
    n = (x_proj_weight.shape[0] - rank) // 2
    xdbl = F.linear(x.transpose(1, 2), x_proj_weight)
    dt, B, C = xdbl.split([rank, n, n], -1)
    delta = F.linear(dt, dt_proj_weight).transpose(1, 2)
    return xdbl, delta, B.transpose(1, 2), C.transpose(1, 2)


def _add_product(du, a, b):
    """du + a @ b for a (batch, channels, L) du and (batch L, channels) rows a @ b: in place where
    du is channels-last (its rows contiguous), else into a new tensor."""
    rows = du.transpose(1, 2)
    if rows.is_contiguous():
        rows.view(-1, rows.shape[-1]).addmm_(a, b)
        return du
    return torch.addmm(rows.reshape(-1, rows.shape[-1]), a, b).view(rows.shape).transpose(1, 2)


def mixer_core_composed(xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, A_log, D,
                        dt_bias, conv_state=None, ssm_state=None):
    """(y as (batch, L, channels), the conv's final state, the scan's last state)."""
    x, z = _halves(xz)
    x, conv_state = causal_conv1d_fn(x, conv_weight, conv_bias, initial_states=conv_state,
                                     return_final_states=True, activation="silu")
    _, delta, B, C = _projections(x, x_proj_weight, dt_proj_weight)
    y, ssm_state = selective_scan_fn(
        x, delta, -torch.exp(A_log.float()), B, C, D.float(), z, delta_bias=dt_bias.float(),
        delta_softplus=True, initial_state=ssm_state, return_last_state=True)
    return y.transpose(1, 2), conv_state, ssm_state


class MixerCore(torch.autograd.Function):
    """``mixer_core_composed`` on the Triton kernels as one autograd node (arguments and results
    alike; conv widths up to ``causal_conv1d.MAX_WIDTH``, as ``dispatch.mixer_core`` routes them).
    Under autocast the backward's matrix products run in the forward's dtype."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, A_log, D, dt_bias,
                conv_state, ssm_state):
        ctx.set_materialize_grads(False)
        x, z = _halves(xz)
        check_arguments(x, conv_weight, conv_state)   # the scan checks its own
        xc, conv_final, conv = conv_forward(x, conv_weight, conv_bias, conv_state, silu=True)
        xdbl, delta, B, C = _projections(xc, x_proj_weight, dt_proj_weight)
        A = -torch.exp(A_log.float())
        y, last, (scan, ctx.scan_meta) = scan_forward(
            xc, delta, A, B, C, D.float(), z, dt_bias.float(), ssm_state, True)
        ctx.conv_options = (conv.silu, conv.has_init)
        ctx.dtypes = (D.dtype, dt_bias.dtype)
        ctx.save_for_backward(conv.x, conv.w, conv.bias, conv.init, xdbl, x_proj_weight,
                              dt_proj_weight, A, *scan)
        return y.transpose(1, 2), conv_final, last

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, dy, dconv_final, dlast):
        x, w, conv_bias, init, xdbl, x_proj_weight, dt_proj_weight, A, *scan = ctx.saved_tensors
        xc = scan[0]   # the scan's u: the conv's output
        rank = dt_proj_weight.shape[1]
        batch, channels, L = x.shape
        dxz = torch.empty(batch, L, 2 * channels, device=x.device, dtype=x.dtype)
        dx, dz = _halves(dxz)
        du, ddelta, dA, dB, dC, dD, _, dbias, dssm_state = scan_backward(
            scan, ctx.scan_meta, dy.transpose(1, 2) if dy is not None else None, dlast, dz=dz)
        # dt_proj and x_proj backward, on (batch L, channels) rows
        ddelta = ddelta.transpose(1, 2).reshape(-1, channels)
        dxdbl = torch.cat([ddelta @ dt_proj_weight, dB.transpose(1, 2).reshape(-1, dB.shape[1]),
                           dC.transpose(1, 2).reshape(-1, dC.shape[1])], dim=-1)
        d_dt_proj = ddelta.t() @ xdbl[..., :rank].reshape(-1, rank)
        d_x_proj = dxdbl.t() @ xc.transpose(1, 2).reshape(-1, channels)
        # the conv output's two gradients, from the scan and through x_proj, in one product
        dxc = _add_product(du, dxdbl.to(du.dtype), x_proj_weight.to(du.dtype))
        _, dconv_weight, dconv_bias, dconv_state = conv_backward(
            _ConvSaved(x, w, conv_bias, init, *ctx.conv_options), dxc, dconv_final, dx=dx)
        D_dtype, bias_dtype = ctx.dtypes
        return (dxz, dconv_weight, dconv_bias, d_x_proj.to(x_proj_weight.dtype),
                d_dt_proj.to(dt_proj_weight.dtype), dA * A, dD.to(D_dtype),
                dbias.to(bias_dtype), dconv_state, dssm_state)
