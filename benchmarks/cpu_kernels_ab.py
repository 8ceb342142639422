"""Time two revisions of the CPU fast path's kernels side by side in one process, in the model.

    python3 benchmarks/cpu_kernels_ab.py --old FILE [--models default d128x4] [--threads 2] [--rounds 8]
        [--length BASES]

FILE is another revision's ``cpu_inference.py`` (e.g. ``git show REV:genomamba/kernels/cpu_inference.py
> OLD.py``). It is loaded under another name beside the working tree's, and the backbone's CPU
inference (``genomamba.models.mamba``) calls one module's kernels or the other's, alternating round by
round on the same model and record, streamed as `genomamba bench cpu` streams it. Rounds alternate
so that the machine's other work (on a shared guest it moves the wall clock by a fifth) falls on both;
the table gives medians of wall time, of process CPU time, and of the time spent in each module's
scan (``scan_into``, its wait for the worker threads included), the ratios old / new, and the largest
difference of the class probabilities between the two. Run it with OMP_WAIT_POLICY=PASSIVE (the
``genomamba`` command's setting).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.cpu import LENGTHS, SIZES, cpu_name, stream  # noqa: E402
from genomamba.kernels import cpu_inference  # noqa: E402
from genomamba.models import build_model  # noqa: E402
from genomamba.models import mamba  # noqa: E402


def load_module(path):
    """``path`` (a cpu_inference.py) imported as ``cpu_inference_old``."""
    path = Path(path).resolve()
    if not path.is_file():
        sys.exit(f"cpu_kernels_ab: {path} is not a file")
    spec = importlib.util.spec_from_file_location("cpu_inference_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["cpu_inference_old"] = module
    spec.loader.exec_module(module)
    return module


class ScanTimer:
    """The module's ``scan_into``, timed: ``seconds`` sums its calls."""

    def __init__(self, module):
        self.scan_into, self.seconds = module.scan_into, 0.0

    def __call__(self, *args):
        start = time.perf_counter()
        self.scan_into(*args)
        self.seconds += time.perf_counter() - start


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, help="another revision's cpu_inference.py")
    p.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--threads", type=int, default=2, help="PyTorch and kernel threads")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--length", type=int, help="bases streamed (default: as genomamba bench cpu, 2^19 for "
                                               "the default model, 2^15 for d128x4)")
    p.add_argument("--chunk", type=int, default=8192)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv if argv is not None else sys.argv[1:])
    if not cpu_inference.available():
        print("cpu_kernels_ab: numba is not installed, so there is no fast CPU path", file=sys.stderr)
        return 1
    modules = {"old": load_module(args.old), "new": cpu_inference}
    torch.set_num_threads(args.threads)
    for module in modules.values():
        module.set_threads(args.threads)
    print(f"# {cpu_name()}, {cpu_inference.available_cores()} cores, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}; "
          f"cpu_kernels_ab.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print("model\tbases\told_wall_s\tnew_wall_s\twall_old/new\told_cpu_s\tnew_cpu_s\tcpu_old/new\t"
          "old_scan_s\tnew_scan_s\tscan_old/new\tnew_kbp_per_s\tmax_prob_diff\tload_1min")
    try:
        for name in args.models:
            model = build_model(SIZES[name], seed=args.seed).eval()
            length = args.length or LENGTHS[name][0]
            tokens = np.random.default_rng(args.seed).integers(0, 4, length).astype(np.uint8)
            timers = {label: ScanTimer(module) for label, module in modules.items()}
            runs = {label: [] for label in modules}
            probs = {}
            for round_ in range(args.rounds + 1):   # round 0: compilation, buffers
                for label, module in modules.items():
                    mamba.cpu_inference = module
                    module.scan_into, timers[label].seconds = timers[label], 0.0
                    wall, cpu = time.perf_counter(), time.process_time()
                    probs[label] = stream(model, tokens, args.chunk)[0]
                    if round_:
                        runs[label].append((time.perf_counter() - wall, time.process_time() - cpu,
                                            timers[label].seconds))
            old, new = (np.median(np.array(runs[label]), 0) for label in ("old", "new"))
            diff = float(np.abs(probs["old"] - probs["new"]).max())
            print(f"{name}\t{len(tokens)}\t{old[0]:.3f}\t{new[0]:.3f}\t{old[0] / new[0]:.2f}\t{old[1]:.3f}\t"
                  f"{new[1]:.3f}\t{old[1] / new[1]:.2f}\t{old[2]:.3f}\t{new[2]:.3f}\t{old[2] / new[2]:.2f}\t"
                  f"{len(tokens) / new[0] / 1e3:.1f}\t{diff:.1e}\t{os.getloadavg()[0]:.2f}")
    finally:
        mamba.cpu_inference = cpu_inference
        for module in modules.values():
            if isinstance(module.scan_into, ScanTimer):
                module.scan_into = module.scan_into.scan_into
    return 0


if __name__ == "__main__":
    sys.exit(main())
