"""Sweep the Triton forward scans' launch plans on a CUDA GPU (bf16, N 16, no gradients).

    python3 benchmarks/scan_forward_sweep.py

Times the tiled forward with its default plan and the step forward over steps per tile, channels per
program and programs per SM, at batch 1 x dim 512 (L = 2^16, 2^18, 2^20) and the model's training
shape (8 x 256 x 16384); prints one row per plan (ms, medians of CUDA-event timings) and the step plan
with the best geometric mean.
"""
import itertools
import math
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs  # noqa: E402
from genomamba.kernels import selective_scan as ss  # noqa: E402

SHAPES = [(1, 512, 2 ** 16), (1, 512, 2 ** 18), (1, 512, 2 ** 20), (8, 256, 16384)]


def main():
    gen = torch.Generator(device="cuda").manual_seed(1)
    inputs = [_scan_inputs(*shape, 16, torch.bfloat16, False, gen) for shape in SHAPES]

    def forward_ms(x):
        with torch.no_grad():
            return triton.testing.do_bench(
                lambda: ss.selective_scan_triton(**x, delta_softplus=True),
                warmup=10, rep=40, return_mode="median")

    print("plan |", " | ".join("x".join(map(str, s)) for s in SHAPES))
    plans = [dict(fwd_kernel="tiled")] + [
        dict(fwd_kernel="step", step_unroll=unroll, step_block_d=block_d, step_programs_per_sm=pps)
        for unroll, block_d, pps in itertools.product([4, 8], [16, 32, 64], [32, 64])]
    best = None
    for plan in plans:
        ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
        ss.set_config(**plan)
        ms = [forward_ms(x) for x in inputs]
        name = ",".join(f"{k}={v}" for k, v in plan.items())
        print(name, "|", " | ".join(f"{m:.4f}" for m in ms), flush=True)
        score = sum(math.log(m) for m in ms)
        if plan["fwd_kernel"] == "step" and (best is None or score < best[0]):
            best = (score, name)
    print("best step plan:", best[1])


if __name__ == "__main__":
    main()
