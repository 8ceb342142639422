"""Time two variants of the Triton selective scan side by side in one process (CUDA).

    python3 benchmarks/kernels_ab.py --old DIR [--z] [--channels-last] [--gpu-time]
    python3 benchmarks/kernels_ab.py [--check] \
        --plans 'tiled:fwd_kernel=tiled,bwd_kernel=tiled;step:fwd_kernel=step,bwd_kernel=step'

The two variants ("old" and "new" in the table):
  --old DIR    another revision's kernels package, against the working tree's. DIR is that package's
               folder, e.g. after `git archive REV genomamba/kernels | tar -x -C OLD` it is
               OLD/genomamba/kernels (for revisions before the package moved into genomamba,
               `git archive REV kernels`, DIR = OLD/kernels). It is loaded under another name, so
               both live in one process.
  --plans A;B  two launch plans of the working tree's kernels, in the syntax of
               `genomamba bench kernels --configs` (keys of the scan's set_config); A is "old".

Per shape (bf16, N 16, D, delta_bias, softplus; z with --z) it prints the forward without gradients,
the forward with gradients (it stores the backward's checkpoints), the backward alone
(`torch.autograd.grad` of all inputs) and forward + backward: old, new (ms, medians of CUDA-event
timings with L2 flushed) and old / new. The two are timed one after the other on the same inputs,
shape by shape. --channels-last passes u, delta, z and y's gradient as the model does, views of
(batch, L, dim) tensors with stride 1 along channels (contiguous inputs can hide a change of the
model's speed).
--gpu-time adds the summed GPU time of the launched kernels (torch.profiler) after each figure: where
the two differ, host time decides. --check first compares each plan's outputs and gradients with
float64 (--plans only). Sweeps of many plans: `genomamba bench kernels --configs`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import (channels_last, channels_last_inputs, check_scan,  # noqa: E402
                                     gpu_ms, grad_leaves, parse_plans, scan_inputs)

SHAPES = "1x512x4096,1x512x16384,1x512x65536,1x512x262144,1x512x1048576,1x256x1048576,8x256x16384,8x256x4096"
COLUMNS = ("fwd", "fwd (grad)", "bwd", "fwd+bwd")


def load_kernels(folder):
    """The package in ``folder`` (with ``__init__.py``), imported as ``kernels_old`` beside the working
    tree's; returns its module that defines ``selective_scan_triton``."""
    folder = Path(folder).resolve()
    if not (folder / "__init__.py").is_file():
        sys.exit(f"kernels_ab: {folder} is not a kernels package folder (no __init__.py)")
    spec = importlib.util.spec_from_file_location("kernels_old", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["kernels_old"] = package
    spec.loader.exec_module(package)
    for module in (package, importlib.import_module("kernels_old.selective_scan")):
        if hasattr(module, "selective_scan_triton"):
            return module
    sys.exit(f"kernels_ab: {folder} defines no selective_scan_triton")


class Variant:
    """One side of the comparison: a scan function and the launch plan it runs under."""

    def __init__(self, name, scan, plan=None, set_config=None):
        self.name, self.scan, self.plan, self._set_config = name, scan, plan or {}, set_config

    @contextlib.contextmanager
    def active(self):
        if not self.plan:
            yield
            return
        previous = self._set_config(**self.plan)
        try:
            yield
        finally:
            self._set_config(**previous.__dict__)


def _ms(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=50, return_mode="median")


def timings(variant, inputs, dy, gpu_time=False):
    """(event ms, GPU ms or None) for each of COLUMNS."""
    scan = variant.scan
    leaves, wrt = grad_leaves(inputs)

    def forward():
        with torch.no_grad():
            scan(**inputs, delta_softplus=True)

    def forward_grad():
        scan(**leaves, delta_softplus=True)

    def train_step():
        torch.autograd.grad(scan(**leaves, delta_softplus=True), wrt, dy)

    with variant.active():
        y = scan(**leaves, delta_softplus=True)

        def backward():
            torch.autograd.grad(y, wrt, dy, retain_graph=True)
        fns = (forward, forward_grad, backward, train_step)
        return [(_ms(fn), gpu_ms(fn) if gpu_time else None) for fn in fns]


def _cell(ms, gpu):
    return f"{ms:.4f}" + (f" [{gpu:.4f}]" if gpu is not None else "")


def _parse_args(argv):
    p = argparse.ArgumentParser(prog="kernels_ab.py", description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--old", metavar="DIR", help="another revision's kernels package folder")
    which.add_argument("--plans", metavar="A;B", help="two launch plans of the working tree's kernels")
    p.add_argument("--shapes", default=SHAPES, help="BATCHxDIMxL, comma separated")
    p.add_argument("--z", action="store_true", help="include the z gate")
    p.add_argument("--channels-last", action="store_true",
                   help="u, delta, z and y's gradient as the model passes them (stride 1 along channels)")
    p.add_argument("--gpu-time", action="store_true", help="also the kernels' summed GPU time")
    p.add_argument("--check", action="store_true", help="check each plan against float64 first")
    p.add_argument("--seed", type=int, default=1, help="seed of the random inputs")
    args = p.parse_args(argv)
    try:
        args.shape_list = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
        if any(len(shape) != 3 for shape in args.shape_list):
            raise ValueError
    except ValueError:
        p.error(f"--shapes: expected BATCHxDIMxL, comma separated, got {args.shapes!r}")
    if args.plans is not None:
        try:
            args.plan_list = parse_plans(args.plans)
        except ValueError as exc:
            p.error(f"--plans: {exc}")
        if len(args.plan_list) != 2:
            p.error(f"--plans: expected two plans, got {len(args.plan_list)}")
    if args.check and args.plans is None:
        p.error("--check compares launch plans of the working tree's kernels: it needs --plans")
    return args


def main(argv=None) -> int:
    args = _parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("kernels_ab: needs a CUDA GPU")
    from genomamba.kernels.selective_scan import selective_scan_triton, set_config

    if args.old:
        old = load_kernels(args.old)
        variants = [Variant("old", old.selective_scan_triton), Variant("new", selective_scan_triton)]
    else:
        variants = [Variant(name, selective_scan_triton, plan, set_config)
                    for name, plan in args.plan_list]
    print("old = " + (args.old or f"{variants[0].name} {variants[0].plan}")
          + "; new = " + ("the working tree's kernels" if args.old
                          else f"{variants[1].name} {variants[1].plan}"))
    if args.check:
        for variant in variants:
            with variant.active():
                forward = variant.plan.get("fwd_kernel", "auto")
                for dtype, errs in check_scan(seed=args.seed, forward=forward).items():
                    worst = max(errs.values())
                    print(f"check {variant.name} {dtype}: worst rel err {worst:.2e}", flush=True)

    print(f"{'with' if args.z else 'no'} z" + (", u, delta, z and dy channels-last" if args.channels_last else "")
          + ("; [GPU time]" if args.gpu_time else "") + "; ms, old / new = x")
    print("batch x dim x L | " + " | ".join(f"{c} old | new | x" for c in COLUMNS))
    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    for shape in args.shape_list:
        inputs = scan_inputs(*shape, 16, torch.bfloat16, args.z, gen)
        dy = torch.randn(*shape, device="cuda", generator=gen).to(torch.bfloat16)
        if args.channels_last:
            inputs, dy = channels_last_inputs(inputs), channels_last(dy)
        before, after = (timings(v, inputs, dy, args.gpu_time) for v in variants)
        print("x".join(map(str, shape)), "|", " | ".join(
            f"{_cell(*a)} | {_cell(*b)} | {a[0] / b[0]:.2f}" for a, b in zip(before, after)),
            flush=True)
        del inputs, dy
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
