"""Sweep the Triton backward scan's launch plan on a CUDA GPU: tile steps, warps, channels per
program, then pipelining depth and programs per multiprocessor for the best of those.

    python3 benchmarks/scan_backward_sweep.py   # bf16, batch 1, dim 512, N 16; ms at 2^10, 2^14, 2^20

Prints one row per plan and the best plan (geometric mean), as a `--configs` entry for
`genomamba bench kernels`.
"""
import itertools
import math
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs, grad_leaves  # noqa: E402
from genomamba.kernels import selective_scan as ss  # noqa: E402

LENGTHS = [2 ** k for k in (10, 14, 20)]


def backward_ms(inputs):
    leaves, wrt = grad_leaves(inputs)
    y = ss.selective_scan_triton(**leaves, delta_softplus=True)  # the plan's checkpoints
    dy = torch.randn_like(y)
    return triton.testing.do_bench(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True),
                                   warmup=20, rep=60, return_mode="median")


def sweep(plans, inputs):
    best = None
    for plan in plans:
        ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
        ss.set_config(**plan)
        try:
            ms = [backward_ms(inputs[L]) for L in LENGTHS]
        except Exception as exc:  # e.g. out of registers or shared memory: skip the plan
            print(plan, "failed:", type(exc).__name__, str(exc)[:100], flush=True)
            continue
        print(" ".join(f"{k}={v}" for k, v in plan.items()), " ".join(f"{m:.4f}" for m in ms),
              flush=True)
        score = sum(math.log(m) for m in ms)
        if best is None or score < best[0]:
            best = (score, plan)
    return best[1]


def main():
    gen = torch.Generator(device="cuda").manual_seed(1)
    inputs = {L: _scan_inputs(1, 512, L, 16, torch.bfloat16, False, gen) for L in LENGTHS}
    first = [dict(bwd_tile_t=t, bwd_warps=w, bwd_block_k=k)
             for t, w, k in itertools.product([128, 256], [2, 4], [8, 16, 32])]
    best = sweep(first, inputs)
    best = sweep([dict(best, bwd_stages=s, programs_per_sm=p)
                  for s, p in itertools.product([1, 2], [4, 8, 16])], inputs)
    print("best plan: best:" + ",".join(f"{k}={v}" for k, v in best.items()))


if __name__ == "__main__":
    main()
