"""The tiled backward against the step backward, side by side in one process (CUDA).

    python3 benchmarks/scan_backward_ab.py

First checks both backwards (with each forward) against float64; then per shape (bf16, N 16, D,
delta_bias, softplus, no z) times the backward alone (`torch.autograd.grad`) and forward +
backward, tiled then step (ms, medians of CUDA-event timings), with tiled / step.
"""
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs, grad_leaves, check_scan  # noqa: E402
from genomamba.kernels import selective_scan as ss  # noqa: E402

SHAPES = [(1, 512, 2 ** 14), (1, 512, 2 ** 16), (1, 512, 2 ** 18), (1, 512, 2 ** 20),
          (1, 256, 2 ** 20), (8, 256, 16384), (8, 256, 4096)]


def _times(inputs, dy):
    leaves, wrt = grad_leaves(inputs)
    y = ss.selective_scan_triton(**leaves, delta_softplus=True)
    bwd = triton.testing.do_bench(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True),
                                  warmup=5, rep=30, return_mode="median")

    def step():
        torch.autograd.grad(ss.selective_scan_triton(**leaves, delta_softplus=True), wrt, dy)
    return bwd, triton.testing.do_bench(step, warmup=5, rep=30, return_mode="median")


def main():
    for backward in ("step", "tiled"):
        ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
        ss.set_config(bwd_kernel=backward)
        for forward in ("step", "tiled"):
            for dtype, errs in check_scan(forward=forward).items():
                print(f"check {backward} backward, {forward} forward, {dtype}: worst rel err "
                      f"{max(errs.values()):.2e}", " ".join(f"{k}={v:.1e}" for k, v in errs.items()),
                      flush=True)
    gen = torch.Generator(device="cuda").manual_seed(6)
    print("batch x dim x L | bwd tiled | bwd step | x | fwd+bwd tiled | step | x")
    for shape in SHAPES:
        inputs = _scan_inputs(*shape, 16, torch.bfloat16, False, gen)
        dy = torch.randn(shape, device="cuda", generator=gen).to(torch.bfloat16)
        runs = []
        for backward in ("tiled", "step"):
            ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
            ss.set_config(bwd_kernel=backward)
            runs.append(_times(inputs, dy))
        (b0, s0), (b1, s1) = runs
        print(f"{'x'.join(map(str, shape))} | {b0:.4f} | {b1:.4f} | {b0 / b1:.2f} | {s0:.4f} | "
              f"{s1:.4f} | {s0 / s1:.2f}", flush=True)
        del inputs
        torch.cuda.empty_cache()
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__)


if __name__ == "__main__":
    main()
