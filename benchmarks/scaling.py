"""Data-parallel scaling of training: tokens/s and step time on 1, 2, 4, 8 GPUs of one node.

The model is the 4-layer, d_model 128 Mamba; each shape keeps the batch per GPU fixed (weak scaling,
as a user adding GPUs would), so N GPUs train N x B windows per step. Shapes:

  16k    16 kb windows, 8 per GPU, one chunk (the training shape)
  1m     2^20-base windows, 1 per GPU, fed in 2^16-base chunks with the state carried between them
         and backpropagated chunk by chunk (tbptt_chunks 1)

For each GPU count the driver starts ``torchrun --standalone --nproc-per-node N`` on this script;
every rank trains ``--warmup`` steps, then ``--steps`` timed steps (CUDA synchronised around each),
and rank 0 reports the median step time. Tokens/s counts every rank's windows (both strands with the
RC option); efficiency is tokens/s at N GPUs over N times tokens/s at 1 GPU (1 GPU runs without a
process group: the baseline is plain single-GPU training). Data: seeded random tokens in memory, so
that reading stores does not enter the timing.

    python benchmarks/scaling.py --gpus 1 2 4 8 --tsv scaling.tsv
    python benchmarks/scaling.py --device cpu --gpus 1 2 --shapes tiny      # check the script on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {   # window, chunk_size, windows per GPU
    "16k": (16384, 16384, 8),
    "1m": (1 << 20, 1 << 16, 1),
    "tiny": (512, 256, 2),   # for checking the script on CPU
}
COLUMNS = ("shape", "gpus", "window", "chunk_size", "batch_per_gpu", "step_ms", "tokens_per_second",
           "efficiency", "peak_gpu_memory_gib", "device", "date")


def worker(args) -> None:
    """One rank: train the shape and (rank 0) write the timing as JSON to ``args.result``."""
    import numpy as np
    import torch

    from genomamba import distributed
    from genomamba.data import ArraySource, LabelledSource, WindowSampler
    from genomamba.models import ModelConfig, build_model
    from genomamba.train import TrainConfig, Trainer

    window, chunk, per_gpu = SHAPES[args.shape]
    device = distributed.rank_device(torch.device(args.device))
    ranks = distributed.world_size()
    rng = np.random.default_rng(0)
    sources = [LabelledSource(f"s{c}", c, ArraySource([rng.integers(0, 4, 2 * window + 1000, dtype=np.uint8)]))
               for c in range(4)]
    cfg = TrainConfig(steps=args.warmup + args.steps, batch_size=per_gpu * ranks, window=window,
                      chunk_size=chunk, tbptt_chunks=1, warmup=1)
    with distributed.process_group(device):
        model = build_model(ModelConfig(d_model=128, n_layers=4, d_state=16, n_classes=4), seed=0).to(device)
        sampler = WindowSampler(sources, 4, window, cfg.batch_size, seed=0, negatives=0.0)
        trainer = Trainer(model, sampler, cfg, device, log=lambda message: None)
        times = []
        for step in range(cfg.total_steps):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
            trainer.train_step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step >= args.warmup:
                times.append(time.perf_counter() - started)
        step_seconds = statistics.median(times)
        if distributed.is_main():
            tokens = cfg.batch_size * window * (2 if model.cfg.rc_equivariant else 1)
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
            name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
            Path(args.result).write_text(json.dumps({
                "shape": args.shape, "gpus": ranks, "window": window, "chunk_size": chunk,
                "batch_per_gpu": per_gpu, "step_ms": round(1000 * step_seconds, 2),
                "tokens_per_second": round(tokens / step_seconds),
                "peak_gpu_memory_gib": None if peak is None else round(peak, 2), "device": name,
                "date": time.strftime("%Y-%m-%d")}))


def drive(args) -> int:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for shape in args.shapes:
            for gpus in args.gpus:
                result = Path(scratch) / f"{shape}-{gpus}.json"
                command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc-per-node={gpus}", __file__, "--worker", "--shape", shape,
                           "--device", args.device, "--steps", str(args.steps), "--warmup", str(args.warmup),
                           "--result", str(result)]
                if gpus == 1:   # the baseline: one plain process, no process group
                    command = [sys.executable, __file__, "--worker", *command[command.index("--shape"):]]
                done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"})
                if done.returncode != 0 or not result.is_file():
                    print(f"{shape} at {gpus} GPU(s): failed (exit {done.returncode})", file=sys.stderr)
                    continue
                row = json.loads(result.read_text())
                base = next((r for r in rows if r["shape"] == shape and r["gpus"] == 1), None)
                row["efficiency"] = (round(row["tokens_per_second"] / (gpus * base["tokens_per_second"]), 3)
                                     if base else None)
                rows.append(row)
                print("\t".join(str(row.get(c)) for c in COLUMNS), flush=True)
    if args.tsv:
        with open(args.tsv, "w") as out:
            out.write("\t".join(COLUMNS) + "\n")
            for row in rows:
                out.write("\t".join(str(row.get(c)) for c in COLUMNS) + "\n")
    return 0 if len(rows) == len(args.shapes) * len(args.gpus) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 2, 4, 8],
                        help="GPU counts (processes per node); 1 first, the baseline of the efficiency")
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["16k", "1m"])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (the median is reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation, caches)")
    parser.add_argument("--tsv", help="write the table here as well")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
