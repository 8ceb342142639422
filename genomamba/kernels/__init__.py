"""GPU kernels for the Mamba hot path (Triton), with PyTorch references for every other device.

``selective_scan_fn`` and ``causal_conv1d_fn`` take mamba_ssm's arguments plus carried state;
on CUDA tensors they run the Triton kernels, elsewhere PyTorch (the blocked scan for the
selective scan, ``reference`` for the conv). ``set_backend`` forces one.
"""

from .dispatch import causal_conv1d_fn, get_backend, selective_scan_fn, set_backend

__all__ = ["selective_scan_fn", "causal_conv1d_fn", "set_backend", "get_backend"]
