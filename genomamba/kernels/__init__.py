"""GPU kernels for the Mamba hot path (Triton), with PyTorch references for every other device.

``selective_scan_fn`` and ``causal_conv1d_fn`` take mamba_ssm's arguments plus carried state;
``add_rms_norm`` is the residual add and RMSNorm in one pass; ``mixer_core`` the Mamba mixer between
its input and output projections (conv, projections, scan), one autograd node when training on
Triton. On CUDA tensors they run the Triton
kernels, elsewhere PyTorch (the blocked scan for the selective scan, ``reference`` for the others).
``set_backend`` forces one.
"""

from .dispatch import (add_rms_norm, causal_conv1d_fn, get_backend, mixer_core, selective_scan_fn,
                       set_backend)

__all__ = ["selective_scan_fn", "causal_conv1d_fn", "add_rms_norm", "mixer_core", "set_backend",
           "get_backend"]
