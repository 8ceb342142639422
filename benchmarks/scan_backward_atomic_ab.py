"""The backward's dB/dC as partial sums (default) against atomics into one buffer, side by side (CUDA).

    python3 benchmarks/scan_backward_atomic_ab.py

Per shape (bf16, N 16, D, delta_bias, softplus, no z): backward ms (medians of CUDA-event timings of
`torch.autograd.grad`), the backward's peak memory above what was allocated before it, and the
relative difference of dB and dC between the two; then `check_scan` against float64 with atomics on.
"""
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs, grad_leaves, check_scan  # noqa: E402
from genomamba.kernels import selective_scan as ss  # noqa: E402

SHAPES = [(1, 512, 2 ** 12), (1, 512, 2 ** 14), (1, 512, 2 ** 16), (1, 512, 2 ** 18),
          (1, 512, 2 ** 20), (8, 256, 16384), (8, 256, 4096)]


def _backward(inputs, dy):
    """ms, peak bytes and (dB, dC) of one backward with the plan in force."""
    leaves, wrt = grad_leaves(inputs)
    y = ss.selective_scan_triton(**leaves, delta_softplus=True)
    ms = triton.testing.do_bench(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True),
                                 warmup=5, rep=40, return_mode="median")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    grads = torch.autograd.grad(y, wrt, dy)
    torch.cuda.synchronize()
    return ms, torch.cuda.max_memory_allocated() - base, [g.float() for g in grads[3:5]]


def main():
    gen = torch.Generator(device="cuda").manual_seed(5)
    print("batch x dim x L | partials ms | atomic ms | partials / atomic | peak MB partials | "
          "atomic | rel. diff dB, dC")
    for shape in SHAPES:
        inputs = _scan_inputs(*shape, 16, torch.bfloat16, False, gen)
        dy = torch.randn(shape, device="cuda", generator=gen).to(torch.bfloat16)
        runs = []
        for atomic in (False, True):
            ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
            ss.set_config(bwd_atomic_bc=atomic)
            runs.append(_backward(inputs, dy))
        (t0, m0, g0), (t1, m1, g1) = runs
        diff = max(((a - b).norm() / b.norm()).item() for a, b in zip(g1, g0))
        print(f"{'x'.join(map(str, shape))} | {t0:.4f} | {t1:.4f} | {t0 / t1:.2f} | "
              f"{m0 / 2**20:.0f} | {m1 / 2**20:.0f} | {diff:.1e}", flush=True)
        del inputs, runs
        torch.cuda.empty_cache()
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
    ss.set_config(bwd_atomic_bc=True)
    for forward in ("step", "tiled"):
        for dtype, errs in check_scan(forward=forward).items():
            print(f"check with atomics, {forward} forward, {dtype}: worst rel err "
                  f"{max(errs.values()):.2e}", " ".join(f"{k}={v:.1e}" for k, v in errs.items()))
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__)


if __name__ == "__main__":
    main()
