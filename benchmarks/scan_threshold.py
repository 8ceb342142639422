"""Tiled against step kernels around the "auto" thresholds, side by side in one process (CUDA).

    python3 benchmarks/scan_threshold.py

Per shape (bf16, N 16, D, delta_bias, softplus; without and with z), each plan forced for both
directions: the forward without gradients, the forward with gradients and the backward alone
(`torch.autograd.grad`), ms, medians of CUDA-event timings, and in brackets the summed GPU time of
the launched kernels (torch.profiler): where the two differ, host time decides.
"""
import sys
from pathlib import Path

import torch
import triton
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs, grad_leaves  # noqa: E402
from genomamba.kernels import selective_scan as ss  # noqa: E402

SHAPES = [(1, 512, 2 ** 13), (1, 512, 2 ** 14), (1, 512, 2 ** 15), (16, 256, 2048),
          (8, 256, 4096), (8, 256, 8192), (2, 1024, 4096)]


def _ms(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=60, return_mode="median")


def _gpu_ms(fn, n=5):
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages()
               if e.device_type == DeviceType.CUDA) / n / 1e3


def main():
    gen = torch.Generator(device="cuda").manual_seed(2)
    print("batch x dim x L, z | plan | fwd ms (gpu) | fwd with grad ms (gpu) | bwd ms (gpu)")
    for shape in SHAPES:
        for with_z in (False, True):
            inputs = _scan_inputs(*shape, 16, torch.bfloat16, with_z, gen)
            for plan in ("tiled", "step"):
                ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
                ss.set_config(fwd_kernel=plan, bwd_kernel=plan)

                def forward():
                    with torch.no_grad():
                        return ss.selective_scan_triton(**inputs, delta_softplus=True)
                leaves, wrt = grad_leaves(inputs)

                def forward_grad():
                    return ss.selective_scan_triton(**leaves, delta_softplus=True)
                y = forward_grad()
                dy = torch.randn_like(y)

                def backward():
                    return torch.autograd.grad(y, wrt, dy, retain_graph=True)
                cells = " | ".join(f"{_ms(fn):.3f} ({_gpu_ms(fn):.3f})"
                                   for fn in (forward, forward_grad, backward))
                print(f"{'x'.join(map(str, shape))}, {'z' if with_z else '-'} | {plan} | {cells}",
                      flush=True)
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__)


if __name__ == "__main__":
    main()
