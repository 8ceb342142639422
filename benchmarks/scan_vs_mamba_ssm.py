"""The selective scan as users call it, ours against the Mamba authors', both through autograd (GPU).

    python benchmarks/scan_vs_mamba_ssm.py --peer PEER [--prebuilt DIR] [--lengths 10 12 14 16]
        [--shapes 1x512,8x256] [--training-shape] [--rep 100] [--out FILE.json]

``../shared/device/peers/side_by_side.py`` times the authors' CUDA extension called directly
(``selective_scan_cuda.fwd`` / ``.bwd``) against our ``selective_scan_fn`` with its autograd node; this
script times what a model calls on both sides: ``genomamba.kernels.selective_scan_fn`` against
``mamba_ssm.ops.selective_scan_interface.selective_scan_fn`` (their autograd function over the same
extension, built from PEER as ``model_vs_mamba_ssm.py`` builds it; PEER's layout is in that script's
docstring). Same seeded inputs (bf16 u, delta, B, C, z; fp32 A, D, delta_bias; N 16; softplus),
with and without z, per BATCHxDIM shape and L = 2^lengths: the forward without gradients, and the
backward as ``torch.autograd.grad`` of every input on a kept graph, each the median of
``triton.testing.do_bench`` (event time: below 2^14 mostly host time) and each side's kernels' summed
GPU time (torch.profiler). Ours is timed before and after theirs and the better kept. Ratio = theirs
/ ours (> 1: ours is faster).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import triton

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from genomamba.bench.kernels import gpu_ms, scan_calls, scan_inputs  # noqa: E402
from genomamba.kernels import selective_scan_fn as ours  # noqa: E402
from model_vs_mamba_ssm import EXTENSIONS, build_extension  # noqa: E402


def row(theirs, batch, dim, L, with_z, rep) -> dict:
    """One shape's timings and differences, ours against ``theirs`` on the same seeded inputs."""
    def bench(fn):
        return triton.testing.do_bench(fn, warmup=15, rep=rep, return_mode="median")
    x = scan_inputs(batch, dim, L, 16, torch.bfloat16, with_z,
                    torch.Generator(device="cuda").manual_seed(0), device="cuda")
    out = {"batch": batch, "dim": dim, "L": L, "z": with_z}
    torch.manual_seed(1)   # each side's y gradient from the same seed: the same values
    ours_fwd, ours_bwd = scan_calls(ours, x)
    torch.manual_seed(1)
    their_fwd, their_bwd = scan_calls(theirs, x)
    y_ours, y_theirs = ours_fwd().float(), their_fwd().float()
    out["fwd_max_rel_diff"] = ((y_ours - y_theirs).abs().max() / y_theirs.abs().max()).item()
    du_ours, du_theirs = ours_bwd()[0].float(), their_bwd()[0].float()
    out["du_max_rel_diff"] = ((du_ours - du_theirs).abs().max() / du_theirs.abs().max()).item()
    for name, fn_ours, fn_theirs in (("fwd", ours_fwd, their_fwd), ("bwd", ours_bwd, their_bwd)):
        first = bench(fn_ours)
        out[f"{name}_theirs_ms"] = bench(fn_theirs)
        out[f"{name}_ours_ms"] = min(first, bench(fn_ours))
        out[f"{name}_ratio"] = out[f"{name}_theirs_ms"] / out[f"{name}_ours_ms"]
        out[f"{name}_ours_gpu_ms"], out[f"{name}_theirs_gpu_ms"] = gpu_ms(fn_ours), gpu_ms(fn_theirs)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", type=Path, required=True)
    p.add_argument("--prebuilt", type=Path, default=None)
    p.add_argument("--shapes", default="1x512", help="BATCHxDIM, comma separated")
    p.add_argument("--lengths", type=int, nargs="+", default=[10, 12, 14, 16], metavar="LOG2_L")
    p.add_argument("--training-shape", action="store_true", help="also 8 x 256 x 16,384 with z")
    p.add_argument("--rep", type=int, default=100, help="milliseconds of repeats per timing")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("scan_vs_mamba_ssm: needs a CUDA GPU")
        return 1
    sys.path.insert(0, str(args.peer.resolve()))
    build_extension("selective_scan_cuda", args.peer / EXTENSIONS["selective_scan_cuda"], args.prebuilt)
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as theirs

    cases = [(int(b), int(d), 1 << n, z) for b, d in (s.split("x") for s in args.shapes.split(","))
             for n in args.lengths for z in (False, True)]
    if args.training_shape:
        cases.append((8, 256, 16384, True))
    print(f"{torch.cuda.get_device_name()}; ms, event time [GPU time]; ratio = theirs / ours")
    rows = []
    for batch, dim, L, with_z in cases:
        r = row(theirs, batch, dim, L, with_z, args.rep)
        rows.append(r)
        print(f"{batch} x {dim} x {L}{' z' if with_z else ''} | "
              + " | ".join(f"{d} ours {r[f'{d}_ours_ms']:.4f} [{r[f'{d}_ours_gpu_ms']:.4f}] theirs "
                           f"{r[f'{d}_theirs_ms']:.4f} [{r[f'{d}_theirs_gpu_ms']:.4f}] x {r[f'{d}_ratio']:.2f}"
                           for d in ("fwd", "bwd"))
              + f" | diff y {r['fwd_max_rel_diff']:.1e} du {r['du_max_rel_diff']:.1e}", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
