"""Host time of the Triton scan with ``fast_launch`` off and on, alternating in one process (CUDA).

    python3 benchmarks/launch_host_time.py [--shapes 1x512x1024,1x512x4096] [--calls 200]
        [--rounds 2] [--profile] [--json FILE]

Per shape (bf16, N 16, D, delta_bias, softplus; without and with z): the forward without gradients
and the backward (``torch.autograd.grad`` of all inputs on a kept graph), each as the wall time of
``--calls`` calls without waiting for the GPU (the host's time per call) and then with the wait (the
whole), in ms. "off" sends every kernel through Triton's own launch (``FastLaunch.__getitem__``
patched to the JIT function's), "on" is the package as it is; the two alternate ``--rounds`` times.
``--profile`` adds a cProfile of the first shape's backward with z, largest own time first.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genomamba.bench.kernels import scan_calls, scan_inputs  # noqa: E402
from genomamba.kernels import selective_scan_fn  # noqa: E402
from genomamba.kernels.launch import FastLaunch  # noqa: E402

FAST_GETITEM = FastLaunch.__getitem__


def fast_launch_on(on: bool) -> None:
    FastLaunch.__getitem__ = FAST_GETITEM if on else (lambda self, grid: self.jit[grid])


def per_call_ms(fn, calls):
    """(host ms, whole ms) per call."""
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    host = time.perf_counter() - start
    torch.cuda.synchronize()
    whole = time.perf_counter() - start
    return round(host / calls * 1e3, 4), round(whole / calls * 1e3, 4)


def calls_of(batch, dim, L, with_z):
    """The forward without gradients and the backward on a kept graph, as functions (seeded bf16
    inputs, N 16)."""
    x = scan_inputs(batch, dim, L, 16, torch.bfloat16, with_z,
                    torch.Generator(device="cuda").manual_seed(0), device="cuda")
    return scan_calls(selective_scan_fn, x)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default="1x512x1024,1x512x4096", help="BATCHxDIMxL, comma separated")
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    print(torch.cuda.get_device_name(), "| ms per call: host (whole); off = Triton's launch")
    rows = []
    for batch, dim, L in shapes:
        for with_z in (False, True):
            forward, backward = calls_of(batch, dim, L, with_z)
            row = {"shape": [batch, dim, L], "z": with_z}
            for _ in range(args.rounds):
                for on in (False, True):
                    fast_launch_on(on)
                    name = "on" if on else "off"
                    row.setdefault(f"forward_{name}", []).append(per_call_ms(forward, args.calls))
                    row.setdefault(f"backward_{name}", []).append(per_call_ms(backward, args.calls))
            fast_launch_on(True)
            rows.append(row)
            cells = " | ".join(f"{k} " + ", ".join(f"{h} ({w})" for h, w in v)
                               for k, v in row.items() if k not in ("shape", "z"))
            print(f"{batch}x{dim}x{L}{' z' if with_z else ''} | {cells}", flush=True)
    if args.profile:
        batch, dim, L = shapes[0]
        backward = calls_of(batch, dim, L, True)[1]
        for _ in range(20):
            backward()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.calls):
            backward()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
