"""Chooses the Triton kernels on CUDA and PyTorch elsewhere (or as forced).

On CPU (backend "auto") the kernels are the fast inference kernels of ``cpu_inference`` where no
gradient is wanted, else the blocked scan of ``blocked_scan`` and the conv of ``reference``; backend
"blocked" forces those two on CPU, "reference" the sequential ground truth of ``reference`` everywhere."""

from __future__ import annotations

import torch

from . import cpu_inference, reference
from .blocked_scan import blocked_selective_scan

_BACKEND = "auto"  # "auto" | "triton" | "reference" | "blocked"


def set_backend(name: str) -> None:
    """Force 'triton', 'reference' or 'blocked' (on CPU the blocked scan and the reference conv), or
    'auto' (Triton on CUDA tensors; on CPU the fast kernels without gradients, else as 'blocked')."""
    global _BACKEND
    if name not in ("auto", "triton", "reference", "blocked"):
        raise ValueError(f"kernel backend must be auto, triton, reference or blocked, not {name!r}")
    _BACKEND = name


def get_backend() -> str:
    return _BACKEND


def _use_triton(x) -> bool:
    if _BACKEND == "reference":
        return False
    if _BACKEND == "triton":
        return True
    return x.is_cuda


def selective_scan_fn(u, delta, A, B, C, D=None, z=None, *, delta_bias=None, delta_softplus=False,
                      initial_state=None, return_last_state=False):
    if _use_triton(u):
        from .selective_scan import selective_scan_triton
        return selective_scan_triton(u, delta, A, B, C, D, z, delta_bias=delta_bias,
                                     delta_softplus=delta_softplus, initial_state=initial_state,
                                     return_last_state=return_last_state)
    if _BACKEND == "reference":
        scan = reference.selective_scan_ref
    elif _BACKEND == "auto" and cpu_inference.scan_applies(u, delta, A, B, C, D, z, delta_bias, initial_state):
        scan = cpu_inference.cpu_selective_scan
    else:
        scan = blocked_selective_scan
    return scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, return_last_state)


def causal_conv1d_fn(x, weight, bias=None, *, initial_states=None, return_final_states=False,
                     activation=None):
    """On CUDA the Triton conv for widths up to ``causal_conv1d.MAX_WIDTH`` (wider: the reference)."""
    if _use_triton(x):
        from .causal_conv1d import MAX_WIDTH, causal_conv1d_triton
        if weight.shape[-1] <= MAX_WIDTH:
            return causal_conv1d_triton(x, weight, bias, initial_states=initial_states,
                                        return_final_states=return_final_states, activation=activation)
    conv = (cpu_inference.cpu_causal_conv1d
            if _BACKEND == "auto" and cpu_inference.conv_applies(x, weight, bias, initial_states, activation)
            else reference.causal_conv1d_ref)
    return conv(x, weight, bias, initial_states, return_final_states, activation)


def add_rms_norm(h, out, weight, eps, normed_dtype):
    """(normed, r): the residual stream r = h + out in float32 (h where out is None) and its RMSNorm
    times weight in ``normed_dtype``, in one Triton pass on CUDA (``add_norm``)."""
    if _use_triton(h):
        from .add_norm import add_rms_norm_triton
        return add_rms_norm_triton(h, out, weight, eps, normed_dtype)
    return reference.add_rms_norm_ref(h, out, weight, eps, normed_dtype)


def mixer_core(xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, A_log, D, dt_bias,
               conv_state=None, ssm_state=None):
    """The Mamba mixer from in_proj's output xz (batch, L, 2 channels) to out_proj's input (batch,
    L, channels), with the conv's and the scan's states: (y, conv state, scan state). Training on
    the Triton kernels takes ``mixer.MixerCore`` (one autograd node, fewer passes), everything else
    the steps one by one (``mixer.mixer_core_composed``)."""
    args = (xz, conv_weight, conv_bias, x_proj_weight, dt_proj_weight, A_log, D, dt_bias,
            conv_state, ssm_state)
    if _use_triton(xz) and torch.is_grad_enabled() and any(
            isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        from .causal_conv1d import MAX_WIDTH
        from .mixer import MixerCore
        if conv_weight.shape[-1] <= MAX_WIDTH:
            return MixerCore.apply(*args)
    from .mixer import mixer_core_composed
    return mixer_core_composed(*args)
