"""Sweep the Triton forward scan's launch plan (tile steps, warps, pipeline stages) on a CUDA GPU.

    python3 benchmarks/scan_forward_sweep.py   # bf16, batch 1, dim 512, N 16; ms at 2^10, 2^14, 2^20

Prints one row per plan and the plan with the best geometric mean, as a `--configs` entry for
`genomamba bench kernels`.
"""
import itertools
import math
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs  # noqa: E402
from kernels import selective_scan as ss  # noqa: E402

LENGTHS = [2 ** k for k in (10, 14, 20)]


def main():
    gen = torch.Generator(device="cuda").manual_seed(1)
    inputs = {L: _scan_inputs(1, 512, L, 16, torch.bfloat16, False, gen) for L in LENGTHS}

    def forward_ms(L):
        with torch.no_grad():
            return triton.testing.do_bench(
                lambda: ss.selective_scan_triton(**inputs[L], delta_softplus=True),
                warmup=20, rep=80, return_mode="median")

    best = None
    for tile, warps, stages in itertools.product([256, 512, 1024], [2, 4, 8], [1, 2, 3]):
        ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
        ss.set_config(tile_t=tile, tile_warps=warps, tile_stages=stages)
        ms = [forward_ms(L) for L in LENGTHS]
        print(f"tile_t={tile} tile_warps={warps} tile_stages={stages}",
              " ".join(f"{m:.4f}" for m in ms), flush=True)
        score = sum(math.log(m) for m in ms)
        if best is None or score < best[0]:
            best = (score, f"best:tile_t={tile},tile_warps={warps},tile_stages={stages}")
    print("best plan:", best[1])


if __name__ == "__main__":
    main()
