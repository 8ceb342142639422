"""Where the GPU time of the model's training step goes, per kernel (CUDA; no other stack needed).

    python3 benchmarks/step_profile.py [--tree DIR] [--batch 8] [--length 16384] [--top 22]

The training step of ``model_vs_mamba_ssm.py --profile`` (4 layers, d_model 128, d_state 16, bf16
autocast, the pooled head and cross-entropy; forward and backward) and the same measure
(``gpu_timing.kernel_times``): the mean wall time of 5 steps after a warm one, then one step under
torch.profiler, its kernels' GPU time summed per name, largest first. ``--tree DIR`` imports
``genomamba`` from DIR instead of this clone (a copy of an earlier commit, ``git archive COMMIT
genomamba | tar -x -C DIR``), so that two versions can be profiled in one device call, each in its
own process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from gpu_timing import kernel_times, print_kernel_times, training_step


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
    step = training_step(model, lambda t: model.head(model.summarise_windows(t)), tokens)
    print(f"{torch.cuda.get_device_name()}, genomamba from {args.tree}")
    print_kernel_times("training step", kernel_times(step, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
