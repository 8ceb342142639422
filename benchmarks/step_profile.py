"""Where the GPU time of the model's training step goes, per kernel (CUDA; no other stack needed).

    python3 benchmarks/step_profile.py [--tree DIR] [--batch 8] [--length 16384] [--top 22]

One training step as ``model_vs_mamba_ssm.py`` times it (4 layers, d_model 128, d_state 16, bf16
autocast, the pooled head and cross-entropy; forward and backward): the median wall time of 7 steps
after 3 warm ones, then one step under torch.profiler, its kernels' GPU time summed per name,
largest first. ``--tree DIR`` imports ``genomamba`` from DIR instead of this clone (a copy of an
earlier commit, ``git archive COMMIT genomamba | tar -x -C DIR``), so that two versions can be
profiled in one device call, each in its own process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=16384)
    parser.add_argument("--top", type=int, default=22)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("step_profile: needs a CUDA GPU", file=sys.stderr)
        return 2
    sys.path.insert(0, str(args.tree.resolve()))
    from genomamba.models import ModelConfig, build_model

    cfg = ModelConfig(arch="mamba", n_classes=5, d_model=128, n_layers=4, d_state=16)
    model = build_model(cfg, seed=0).cuda()
    tokens = torch.randint(0, 4, (args.batch, args.length), device="cuda",
                           generator=torch.Generator("cuda").manual_seed(0))
    labels = torch.zeros(args.batch, dtype=torch.long, device="cuda")

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model.head(model.summarise_windows(tokens))
        F.cross_entropy(logits.float(), labels).backward()
        torch.cuda.synchronize()

    for _ in range(3):
        step()
    walls = []
    for _ in range(7):
        start = time.perf_counter()
        step()
        walls.append(time.perf_counter() - start)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
    rows = sorted(((e.key, e.count, e.self_device_time_total) for e in prof.key_averages()
                   if e.self_device_time_total > 0), key=lambda row: -row[2])
    print(f"{torch.cuda.get_device_name()}, genomamba from {args.tree}: median wall "
          f"{statistics.median(walls) * 1e3:.2f} ms, GPU time {sum(r[2] for r in rows) / 1e3:.2f} ms")
    for name, calls, us in rows[:args.top]:
        print(f"{us / 1e3:8.3f} ms {calls:4d}x  {name[:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
