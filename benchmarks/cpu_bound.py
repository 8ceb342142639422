"""What bounds the CPU fast path: the stream's time per stage, the matrix products' rate at the model's
shapes, and the scan's state update alone against the whole scan kernel.

    python benchmarks/cpu_bound.py [--model d128x4|default] [--threads 2] [--length 32768] [--repeats 5]

1. Stages. One seeded record streams through the model as `genomamba bench cpu` streams it (the fast
   path, float32 products), under cProfile; each stage's time is the summed own time of its calls:
   matrix products (``torch.mm``, ``addmm_``), the scan kernel and the conv kernel (on the calling
   thread), and the rest (RMSNorm, lookups, Python, the wait for the kernels' worker threads).
   Medians of ``--repeats`` streams.
2. Matrix products. in_proj, x_proj and out_proj at one chunk's shape (8,192 rows), on one PyTorch
   thread, as GFLOP/s: PyTorch's (the path's), numpy's (its BLAS) beside it.
3. The scan's state update alone: the kernel's loop over states and channels for every step
   (decay, update, output sum: h = 2^(delta A log2 e) h + delta u B; y += C h), with delta, u, B and
   C fixed, one thread, against the whole kernel (dt_proj's product, softplus, D, the gate and the
   reads and writes of u, z and y around it) at the model's width, in ns per (step, channel, state).

The bound is then the products' time plus the state update's at its own rate (plus the conv): what
the path would take were everything else in the scan free. Run it with OMP_WAIT_POLICY=PASSIVE
(the ``genomamba`` command's setting), so that PyTorch's waiting threads do not take the cores.
"""

from __future__ import annotations

import os

if __name__ == "__main__":   # numpy's BLAS on one thread, like the PyTorch products beside it (read at import)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from genomamba.bench.cpu import SIZES, cpu_name, stream  # noqa: E402
from genomamba.kernels import cpu_inference  # noqa: E402
from genomamba.models import build_model  # noqa: E402

# each stage's functions as cProfile names them: Python functions by name, built-ins by their description
STAGES = {"products": ("<built-in method torch.mm>", "<method 'addmm_' of 'torch._C.TensorBase' objects>"),
          "scan": ("_scan",), "conv": ("_conv",)}
ROWS = 8192   # one CPU chunk


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=list(SIZES), default="d128x4")
    p.add_argument("--threads", type=int, default=2, help="PyTorch and kernel threads")
    p.add_argument("--length", type=int, default=1 << 15, help="bases streamed")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def stage_times(model, tokens, repeats: int) -> dict[str, float]:
    """Median seconds per stage (see the module's docstring) and in all, over ``repeats`` streams."""
    stream(model, tokens, ROWS)   # compilation, buffers
    runs = []
    for _ in range(repeats):
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        stream(model, tokens, ROWS)
        profile.disable()
        total = time.perf_counter() - start
        own = {}
        for (_, _, name), (_, _, tottime, _, _) in pstats.Stats(profile).stats.items():
            own[name] = own.get(name, 0.0) + tottime
        times = {stage: sum(own.get(name, 0.0) for name in names) for stage, names in STAGES.items()}
        times["rest"] = total - sum(times.values())
        times["total"] = total
        runs.append(times)
    return {stage: float(np.median([run[stage] for run in runs])) for stage in runs[0]}


def median_seconds(fn, repeats: int = 15) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def product_rates(cfg) -> list[tuple[str, int, int, float, float]]:
    """(name, K, N, PyTorch GFLOP/s, numpy GFLOP/s) of the layer's three products, one thread."""
    rng = np.random.default_rng(0)
    di, r, n = cfg.d_inner, cfg.rank, cfg.d_state
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    out = []
    try:
        shapes = (("in_proj", cfg.d_model, 2 * di), ("x_proj", di, r + 2 * n), ("out_proj", di, cfg.d_model))
        for name, K, N in shapes:
            x = torch.from_numpy(rng.standard_normal((ROWS, K), np.float32))
            w = torch.from_numpy(rng.standard_normal((N, K), np.float32))
            y = torch.empty(ROWS, N)
            flops = 2 * ROWS * K * N
            wt = np.ascontiguousarray(w.numpy().T)
            ours = median_seconds(lambda: torch.mm(x, w.t(), out=y))
            theirs = median_seconds(lambda: np.matmul(x.numpy(), wt, out=y.numpy()))
            out.append((name, K, N, flops / ours / 1e9, flops / theirs / 1e9))
    finally:
        torch.set_num_threads(previous)
    return out


if cpu_inference.available():
    from numba import njit

    @njit(fastmath=cpu_inference._FAST, error_model="numpy", cache=True)   # the kernel's flags: inlined code
    def _state_updates(dt, dtu, B, C, decay, state, acc):
        """The scan kernel's state update (``_update_states``) for every step, delta and u fixed."""
        for t in range(B.shape[0]):
            cpu_inference._update_states(state, decay, dt, dtu, B[t], C[t], acc)


def scan_rates(cfg, width: int, steps: int = ROWS) -> tuple[float, float]:
    """ns per (step, channel, state) of the state update alone and of the whole kernel, one thread,
    ``width`` channels (one tile) at the model's d_state and rank."""
    rng = np.random.default_rng(0)
    n, r = cfg.d_state, cfg.rank
    f32 = np.float32
    decay = -rng.uniform(0.1, 4.0, (n, width)).astype(f32)
    state, acc = np.zeros((n, width), f32), np.zeros(width, f32)
    dt, dtu = rng.uniform(0.001, 0.1, width).astype(f32), rng.standard_normal(width).astype(f32)
    B, C = rng.standard_normal((steps, n)).astype(f32), rng.standard_normal((steps, n)).astype(f32)
    alone = median_seconds(lambda: _state_updates(dt, dtu, B, C, decay, state, acc), 9)

    def t(*shape):
        return torch.from_numpy(rng.standard_normal(shape).astype(f32))
    xz, proj = t(1, steps, 2 * width), t(1, steps, r + 2 * n)
    args = (t(1, steps, width), proj[..., :r], t(r, width) * 0.3, xz[..., width:], proj[..., r:r + n],
            proj[..., r + n:], torch.from_numpy(decay), t(width), t(width) - 3, torch.zeros(1, n, width),
            torch.empty(1, steps, width))
    threads = cpu_inference.get_threads()
    cpu_inference.set_threads(1)
    try:
        whole = median_seconds(lambda: cpu_inference.scan_into(*args), 9)
    finally:
        cpu_inference.set_threads(threads)
    updates = steps * width * n
    return alone / updates * 1e9, whole / updates * 1e9


def main(argv=None) -> int:
    args = parse(argv if argv is not None else sys.argv[1:])
    if not cpu_inference.available():
        print("cpu_bound.py: numba is not installed, so there is no fast CPU path", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    cpu_inference.set_threads(args.threads)
    cfg = SIZES[args.model]
    model = build_model(cfg, seed=args.seed).eval()
    tokens = np.random.default_rng(args.seed).integers(0, 4, args.length).astype(np.uint8)
    print(f"# {cpu_name()}, {cpu_inference.available_cores()} cores, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}, "
          f"load {os.getloadavg()[0]:.2f}; cpu_bound.py {' '.join(argv if argv is not None else sys.argv[1:])}")

    times = stage_times(model, tokens, args.repeats)
    per_base = {stage: seconds / args.length * 1e6 for stage, seconds in times.items()}
    print(f"\n{args.model}, {args.threads} threads, {args.length} bases: "
          f"{args.length / times['total'] / 1e3:.1f} kbp/s")
    print("stage\tseconds\tus_per_base\tshare")
    for stage, seconds in times.items():
        print(f"{stage}\t{seconds:.4f}\t{per_base[stage]:.2f}\t{seconds / times['total']:.2f}")

    print("\nproduct\trows\tK\tN\ttorch_GFLOPs\tnumpy_GFLOPs   (one thread)")
    for name, K, N, ours, theirs in product_rates(cfg):
        print(f"{name}\t{ROWS}\t{K}\t{N}\t{ours:.1f}\t{theirs:.1f}")

    width = cpu_inference._tile_width(cfg.d_inner, 1, args.threads)
    alone, whole = scan_rates(cfg, width)
    print(f"\nscan, one tile of {width} channels, d_state {cfg.d_state}, one thread: state update alone "
          f"{alone:.3f} ns per update, whole kernel {whole:.3f}")
    updates = cfg.n_layers * cfg.d_inner * cfg.d_state   # per base
    scan_floor = alone * updates / 1e3 / args.threads   # us per base, threads sharing the tiles
    floor = per_base["products"] + per_base["conv"] + scan_floor
    print(f"bound: products {per_base['products']:.2f} + conv {per_base['conv']:.2f} + state update "
          f"{scan_floor:.2f} = {floor:.2f} us per base -> at most {1e3 / floor:.0f} kbp/s "
          f"({1e3 / (per_base['products'] + per_base['conv']):.0f} with a free scan)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
