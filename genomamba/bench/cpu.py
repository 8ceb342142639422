"""`genomamba bench cpu`: streaming classification speed on the CPU, the fast path (the backbone's CPU
inference on the kernels of ``genomamba.kernels.cpu_inference``, backend "auto") against today's
PyTorch path (the modules on the blocked scan and the reference conv, ``kernels.set_backend('blocked')``),
side by side in one process.

For each model size, a seeded random record streams through the model in ``--chunk``-base chunks (the
classifier's CPU chunk) with the conv and SSM states carried, then the head's softmax, as
``NeuralClassifier.score`` does for one strand. The paths alternate, ``--repeats`` times each: the
fast path with float32 matrix products, again with bfloat16 ones with ``--precision bfloat16``, and
today's path. The table gives medians of wall-clock and of process CPU time (all threads), bases
per second on both, and the largest differences of the class probabilities and of the pooled
summary from today's path. Other jobs on the machine slow the wall clock, so the load average is
printed beside it. The old path is slow, so it streams ``--old-length`` bases (the rate does not
depend on the length: the state is constant).

Models: the default (d_model 32, 2 layers, d_state 8; config/config.yaml) and the shipped bacteria
model's size (d_model 128, 4 layers, d_state 16), with seeded random weights (the speed does not
depend on them; tests/test_cpu_scan.py compares the paths on the trained model).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time

import numpy as np
import torch

from genomamba import kernels
from genomamba.kernels import cpu_inference
from genomamba.models import ModelConfig, build_model

LENGTHS = {"default": (1 << 19, 1 << 15), "d128x4": (1 << 15, 1 << 12)}   # (fast, today's path)
SIZES = {"default": ModelConfig(n_classes=6), "d128x4": ModelConfig(n_classes=6, d_model=128, n_layers=4, d_state=16)}
COLUMNS = ("model", "path", "products", "torch_threads", "kernel_threads", "bases", "wall_s", "cpu_s",
           "kbp_per_s_wall", "kbp_per_s_cpu", "speedup_wall", "max_prob_diff", "max_summary_diff", "load_1min")


def parse(argv):
    p = argparse.ArgumentParser(prog="genomamba bench cpu", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--length", type=int, nargs="+",
                   help="bases streamed by the fast path, per model in --models' order (one value: for "
                        "all; default 2^19 for the default model, 2^15 for d128x4)")
    p.add_argument("--old-length", type=int, nargs="+",
                   help="bases streamed by today's path, likewise (default 2^15 and 2^12)")
    p.add_argument("--chunk", type=int, default=8192, help="bases per chunk (the classifier's CPU default)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch intra-op threads (default 1, the classifier's; 0: all cores); the fast "
                        "kernels use all cores")
    p.add_argument("--precision", choices=cpu_inference.PRECISIONS, default="float32",
                   help="bfloat16: also time the fast path with bfloat16 matrix products")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tsv", help="also write the table here")
    return p.parse_args(argv)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def stream(model, tokens: np.ndarray, chunk: int):
    """(class probabilities, pooled summary) of one record streamed in chunks (as the classifier)."""
    with torch.inference_mode():
        state = model.new_state(1)
        for start in range(0, len(tokens), chunk):
            model.feed(torch.as_tensor(tokens[None, start:start + chunk], dtype=torch.long), state)
        model.finish(state)
        pooled = model.pooled(state)
        return torch.softmax(model.head(pooled), -1)[0].numpy(), pooled[0].numpy()


def measure(model, tokens, chunk, backend, precision="float32"):
    kernels.set_backend(backend)
    previous = cpu_inference.get_precision()
    cpu_inference.set_precision(precision)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        probs = stream(model, tokens, chunk)
        return time.perf_counter() - wall, time.process_time() - cpu, probs
    finally:
        kernels.set_backend("auto")
        cpu_inference.set_precision(previous)


def run_model(name, length, old_length, args):
    """Rows of the table for one model: the fast path with float32 matrix products, with bfloat16 ones
    if --precision asks, and today's path (float32)."""
    model = build_model(SIZES[name], seed=args.seed).eval()
    tokens = np.random.default_rng(args.seed).integers(0, 4, length).astype(np.uint8)
    paths = {"fast": ("auto", tokens, "float32")}
    if args.precision == "bfloat16":
        paths["fast, bfloat16"] = ("auto", tokens, "bfloat16")
    paths["today"] = ("blocked", tokens[:old_length], "float32")
    for backend, seq, precision in paths.values():   # warm-up: compilation, allocator
        measure(model, seq[:min(len(seq), 4 * args.chunk)], args.chunk, backend, precision)
    times = {path: [] for path in paths}
    for _ in range(args.repeats):
        for path, (backend, seq, precision) in paths.items():
            wall, cpu, _ = measure(model, seq, args.chunk, backend, precision)
            times[path].append((wall, cpu))
    today = measure(model, tokens[:old_length], args.chunk, "blocked")[2]
    rows = []
    for path, (backend, seq, precision) in paths.items():
        # differences from today's path, on today's (shorter) sequence
        probs = measure(model, tokens[:old_length], args.chunk, backend, precision)[2]
        diff = [float(np.abs(probs[i] - today[i]).max()) for i in (0, 1)]
        wall, cpu = (float(np.median([t[i] for t in times[path]])) for i in (0, 1))
        rows.append({"model": name, "path": path, "products": precision,
                     "torch_threads": torch.get_num_threads(),
                     "kernel_threads": cpu_inference.get_threads() if backend == "auto" else "-",
                     "bases": len(seq), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                     "kbp_per_s_wall": round(len(seq) / wall / 1e3, 1),
                     "kbp_per_s_cpu": round(len(seq) / cpu / 1e3, 1), "max_prob_diff": f"{diff[0]:.1e}",
                     "max_summary_diff": f"{diff[1]:.1e}",
                     "load_1min": round(os.getloadavg()[0], 2)})
    for row in rows:
        row["speedup_wall"] = round(row["kbp_per_s_wall"] / rows[-1]["kbp_per_s_wall"], 1)
    return rows


def main(argv=None) -> int:
    args = parse(argv if argv is not None else sys.argv[1:])
    if not cpu_inference.available():
        print("genomamba bench cpu: numba is not installed, so there is no fast CPU path", file=sys.stderr)
        return 1
    cores = cpu_inference.available_cores()
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads or cores)
    print(f"# {cpu_name()}, {cores} cores, "
          f"torch {torch.__version__}, {time.strftime('%Y-%m-%d')}; genomamba bench cpu {' '.join(argv or [])}")
    rows = []
    try:
        for i, name in enumerate(args.models):
            length = args.length[min(i, len(args.length) - 1)] if args.length else LENGTHS[name][0]
            old = args.old_length[min(i, len(args.old_length) - 1)] if args.old_length else LENGTHS[name][1]
            rows += run_model(name, length, min(old, length), args)
    finally:
        torch.set_num_threads(previous)
    print("\t".join(COLUMNS))
    for row in rows:
        print("\t".join(str(row.get(c, "")) for c in COLUMNS))
    if args.tsv:
        with open(args.tsv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS, delimiter="\t", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return 0
