"""`genomamba bench kernels`: time the Triton selective scan (and causal conv1d) on a CUDA GPU.

Prints one row per (config, batch, dim, L): forward and backward milliseconds (median, cold L2),
achieved bandwidth, the time floor (fewest bytes over the measured copy bandwidth, or exponentials
over the measured exp2 rate, whichever is larger), the PyTorch reference path at small L, and the
authors' CUDA kernel where the table has it. ``--check`` first compares outputs and gradients with a
float64 reference. ``--gpu-time`` adds the launched kernels' summed GPU time per direction (below
2^14 the event time is mostly the host's: the launch plans of small inputs are chosen on GPU time),
``--channels-last`` passes u, delta, z and y's gradient as the model does. Imports only torch,
triton, numpy and ``genomamba.kernels``.

The helpers here (``scan_inputs``, ``grad_leaves``, ``scan_calls``, ``channels_last`` and
``channels_last_inputs``, ``gpu_ms``, ``check_scan``, ``parse_plans``) are also what
``benchmarks/kernels_ab.py``, ``launch_host_time.py`` and ``scan_vs_mamba_ssm.py`` build their
timings from; ``launch_record`` is what the kernel tests and
``benchmarks/kernel_resources.py`` record launches with.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import time

import torch
import triton
import triton.language as tl
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

DEVICE = "cuda"  # the checks also run on the CPU under TRITON_INTERPRET=1 (smoke tests)
PARAMS = ("A", "D", "delta_bias", "initial_state")  # kept in fp32 like the model's parameters

# The authors' CUDA selective scan on the H100 here (bf16, batch 1, dim 512, N 16, no z), in ms;
# figures given with the issue, not measured by this benchmark.
AUTHORS_MS = {(1, 512, 16): {
    2 ** 10: (0.024, 0.074), 2 ** 12: (0.049, 0.263), 2 ** 14: (0.182, 0.970),
    2 ** 16: (0.685, 3.63), 2 ** 18: (2.74, 14.31), 2 ** 20: (10.93, 57.72)}}

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def _parse_args(argv):
    p = argparse.ArgumentParser(prog="genomamba bench kernels", description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="10,12,14,16,18,20", help="log2 of L, comma separated")
    p.add_argument("--shapes", default="1x512,4x1024", help="BATCHxDIM, comma separated")
    p.add_argument("--state", type=int, default=16, help="N, the state size")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    p.add_argument("--z", action="store_true", help="include the z gate")
    p.add_argument("--channels-last", action="store_true",
                   help="u, delta, z and y's gradient as the model passes them (stride 1 along channels)")
    p.add_argument("--gpu-time", action="store_true",
                   help="also the launched kernels' summed GPU time (where it is well below the "
                        "event time, host time decides)")
    p.add_argument("--reference-max", type=int, default=12,
                   help="time the PyTorch reference up to L = 2^this")
    p.add_argument("--configs", default="default",
                   help="launch plans to compare: 'default' or NAME:key=val,key=val;... "
                        "(keys of the scan's set_config, e.g. fwd_kernel=step,step_unroll=8)")
    p.add_argument("--check", action="store_true", help="check against float64 first")
    p.add_argument("--conv", action="store_true", help="also time the causal conv1d")
    p.add_argument("--graphs", action="store_true",
                   help="also time CUDA-graph replays of the forward (no launch gaps; warm L2)")
    p.add_argument("--rep", type=int, default=200, help="milliseconds of repeats per timing")
    p.add_argument("--json", help="write every row here")
    args = p.parse_args(argv)
    try:
        args.plans = parse_plans(args.configs)
    except ValueError as exc:
        p.error(f"--configs: {exc}")
    return args


def parse_plans(spec):
    """Launch plans from ``NAME:key=val,key=val;NAME:...`` as (name, settings) pairs for the scan's
    ``set_config``; ``default`` alone is the default plan. Values are integers where they parse as
    one (``step_unroll=8``), else strings (``fwd_kernel=step``); ``NAME:`` with no settings is the
    default plan under that name."""
    if spec.strip() == "default":
        return [("default", {})]
    plans = []
    for item in filter(str.strip, spec.split(";")):
        name, colon, body = item.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"launch plan {item.strip()!r}: expected NAME:key=val,...")
        settings = {}
        for pair in filter(str.strip, body.split(",")):
            key, equals, value = (part.strip() for part in pair.partition("="))
            if not equals or not key or not value:
                raise ValueError(f"launch plan {name.strip()!r}: {pair.strip()!r} is not key=value")
            try:
                settings[key] = int(value)
            except ValueError:
                settings[key] = value
        plans.append((name.strip(), settings))
    if not plans:
        raise ValueError("no launch plan given")
    return plans


def _bench(fn, rep):
    return triton.testing.do_bench(fn, warmup=max(10, rep // 8), rep=rep, return_mode="median")


def _bench_graph(fn, rep):
    """Median of CUDA-graph replays (no launch gaps, warm L2); NaN where capture fails."""
    try:
        return triton.testing.do_bench_cudagraph(fn, rep=rep, return_mode="median")
    except Exception as exc:  # capture is best effort; the event timings stand on their own
        print(f"  (graph timing failed: {type(exc).__name__}: {str(exc)[:80]})")
        return float("nan")


def measure_copy_bandwidth(rep=200):
    """Bytes read plus written per second for a large device-to-device copy."""
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    ms = _bench(lambda: dst.copy_(src), rep)
    del src, dst
    return 2 * n / (ms * 1e-3)


@triton.jit
def _exp2_loop(x_ptr, n_iter, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    for _ in range(n_iter):
        x = tl.exp2(x) - 1.5  # stays in [-1, 0.5]
    tl.store(x_ptr + offs, x)


def measure_exp2_rate(rep=200):
    """exp2 evaluations per second from a Triton kernel that does little else."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    block, programs, n_iter = 2048, sms * 16, 1024
    x = -torch.rand(block * programs, device="cuda")
    ms = _bench(lambda: _exp2_loop[(programs,)](x, n_iter, BLOCK=block, num_warps=8), rep)
    return block * programs * n_iter / (ms * 1e-3)


def scan_inputs(batch, dim, L, N, dtype, with_z, gen, device=DEVICE):
    """Random inputs of the selective scan, drawn from ``gen`` (a generator on ``device``): u, delta
    (around softplus(-1)), B, C and z in ``dtype``; A (negative, as the model's -exp(A_log)), D and
    delta_bias in fp32 like the model's parameters; z only ``with_z``."""
    dev = device
    r = lambda *s: torch.randn(*s, device=dev, generator=gen)  # noqa: E731
    return dict(
        u=r(batch, dim, L).to(dtype), delta=(0.5 * r(batch, dim, L) - 1.0).to(dtype),
        A=-(torch.rand(dim, N, device=dev, generator=gen) * 8 + 0.5),
        B=r(batch, N, L).to(dtype), C=r(batch, N, L).to(dtype), D=r(dim),
        z=r(batch, dim, L).to(dtype) if with_z else None, delta_bias=0.1 * r(dim))


def grad_leaves(inputs):
    """Detached copies of the scan inputs that require gradients, and the list of them (for
    torch.autograd.grad)."""
    leaves = {k: (v.detach().requires_grad_() if v is not None else None)
              for k, v in inputs.items()}
    return leaves, [v for v in leaves.values() if v is not None]


def channels_last(x):
    """The same values, stride 1 along channels: a (batch, dim, L) view of a (batch, L, dim) tensor,
    as the model's in_proj output hands u and z to the scan."""
    return x.transpose(1, 2).contiguous().transpose(1, 2)


def channels_last_inputs(inputs):
    """The scan inputs with u, delta and z (where given) ``channels_last``, as the model passes them
    (a new dict; the others as they are)."""
    return {k: channels_last(v) if k in ("u", "delta", "z") and v is not None else v
            for k, v in inputs.items()}


def gpu_ms(fn, calls=5):
    """The summed GPU time of the kernels one call of ``fn`` launches (mean over ``calls``, after a
    warm call), in ms, from torch.profiler."""
    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages()
               if e.device_type == DeviceType.CUDA) / calls / 1e3


def scan_bytes(batch, dim, L, N, elt, with_z, backward):
    """Fewest bytes: each input read once, each output written once."""
    seq = batch * dim * L * elt
    bc = 2 * batch * N * L * elt
    if not backward:  # read u, delta, B, C, (z); write y
        return (3 + with_z) * seq + bc
    # read u, delta, (z), dy, B, C; write du, ddelta, (dz), dB, dC
    return (4 + 2 * with_z + 2) * seq + 2 * bc


def scan_calls(fn_scan, inputs):
    """(forward, backward) of scan ``fn_scan`` on ``inputs`` with softplus, as functions: the forward
    without gradients (returns y), and ``torch.autograd.grad`` of every input on a graph kept from
    one forward (returns the gradients; y's gradient random, in y's layout)."""
    def forward():
        with torch.no_grad():
            return fn_scan(**inputs, delta_softplus=True)
    leaves, wrt = grad_leaves(inputs)
    y = fn_scan(**leaves, delta_softplus=True)
    dy = torch.randn_like(y)

    def backward():
        return torch.autograd.grad(y, wrt, dy, retain_graph=True)
    return forward, backward


def _time_scan(fn_scan, inputs, rep, graphs=False, gpu_time=False):
    """Forward and backward ms (events, cold L2); with graphs, the forward from graph replays; with
    gpu_time, both directions' summed kernel time (NaN where not asked)."""
    nan = float("nan")
    forward, backward = scan_calls(fn_scan, inputs)
    times = dict(fwd=_bench(forward, rep), bwd=_bench(backward, rep), fwd_graph=nan, fwd_gpu=nan,
                 bwd_gpu=nan)
    if graphs:  # forward only: capturing autograd.grad fails on torch 2.11 and leaves the context unusable
        times["fwd_graph"] = _bench_graph(forward, rep)
    if gpu_time:
        times["fwd_gpu"], times["bwd_gpu"] = gpu_ms(forward), gpu_ms(backward)
    return times


def check_scan(batch=2, dim=256, L=3001, N=16, seed=None, forward="auto"):
    """Relative errors of outputs and all gradients against float64 (reference on the GPU), with
    the given forward kernel ("step", "tiled" or "auto")."""
    from genomamba.kernels.selective_scan import set_config
    previous = set_config(fwd_kernel=forward)
    try:
        return _check_scan(batch, dim, L, N, seed)
    finally:
        set_config(**previous.__dict__)


def _check_scan(batch, dim, L, N, seed):
    from genomamba.kernels.reference import selective_scan_ref
    from genomamba.kernels.selective_scan import selective_scan_triton
    gen = torch.Generator(device=DEVICE).manual_seed(seed if seed is not None else
                                                     int(time.time_ns() % 2 ** 31))
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        base = scan_inputs(batch, dim, L, N, torch.float64, True, gen)
        base["initial_state"] = torch.randn(batch, dim, N, device=DEVICE, generator=gen,
                                            dtype=torch.float64)
        ref = {k: v.detach().double().clone().requires_grad_() for k, v in base.items()}
        tri = {k: v.detach().to(torch.float32 if k in PARAMS else dtype).requires_grad_()
               for k, v in base.items()}
        y_r, l_r = selective_scan_ref(**ref, delta_softplus=True, return_last_state=True)
        y_t, l_t = selective_scan_triton(**tri, delta_softplus=True, return_last_state=True)
        gy = torch.randn_like(y_r)
        gl = torch.randn_like(l_r)
        ((y_r * gy).sum() + (l_r * gl).sum()).backward()
        ((y_t.double() * gy).sum() + (l_t.double() * gl).sum()).backward()
        rel = lambda a, b: ((a.double() - b).norm() / b.norm()).item()  # noqa: E731
        errs = {"y": rel(y_t, y_r), "last": rel(l_t, l_r)}
        errs.update({f"d{k}": rel(tri[k].grad, ref[k].grad) for k in base})
        results[str(dtype).replace("torch.", "")] = errs
    return results


def check_conv(batch=2, dim=256, L=3001, width=4):
    from genomamba.kernels.causal_conv1d import causal_conv1d_triton
    from genomamba.kernels.reference import causal_conv1d_ref
    r = lambda *s: torch.randn(*s, device=DEVICE, dtype=torch.float64)  # noqa: E731
    base = dict(x=r(batch, dim, L), weight=r(dim, width), bias=r(dim),
                initial_states=r(batch, dim, width - 1))
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        ref = {k: v.detach().clone().requires_grad_() for k, v in base.items()}
        tri = {k: v.detach().to(dtype if k == "x" else torch.float32).clone().requires_grad_()
               for k, v in base.items()}
        o_r, f_r = causal_conv1d_ref(**ref, return_final_states=True, activation="silu")
        o_t, f_t = causal_conv1d_triton(**tri, return_final_states=True, activation="silu")
        go, gf = torch.randn_like(o_r), torch.randn_like(f_r)
        ((o_r * go).sum() + (f_r * gf).sum()).backward()
        ((o_t.double() * go).sum() + (f_t.double() * gf).sum()).backward()
        rel = lambda a, b: ((a.double() - b).norm() / b.norm()).item()  # noqa: E731
        errs = {"out": rel(o_t, o_r), "final": rel(f_t, f_r)}
        errs.update({f"d{k}": rel(tri[k].grad, ref[k].grad) for k in base})
        results[str(dtype).replace("torch.", "")] = errs
    return results


def _fits(batch, dim, L, N, elt):
    """Inputs, outputs and gradients, the fp32 dB/dC partial sums (one row of N per bwd_block_k
    channels), the fp32 state checkpoints (one per bwd_tile_t steps) of the current launch plan and
    the step forward's fp32 (L, N) copies of B and C fit in memory."""
    from genomamba.kernels.selective_scan import get_config
    plan = get_config()
    scratch = 2 * 4 * N / plan.bwd_block_k + 4 * N / plan.bwd_tile_t + 2 * 4 * N / dim
    need = batch * dim * L * (8 * elt + 4 + scratch + 1)
    free, _ = torch.cuda.mem_get_info()
    return need < 0.7 * free


def main(argv=None) -> int:
    args = _parse_args(argv or [])
    if args.json:
        from genomamba.outputs import check_output
        check_output(args.json, "file")
    if not torch.cuda.is_available():
        print("genomamba bench kernels: needs a CUDA GPU (the kernels' CPU path is the reference)")
        return 1
    import triton
    from genomamba.kernels import reference
    from genomamba.kernels import selective_scan as ss

    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}, {props.multi_processor_count} SMs; torch {torch.__version__}, "
          f"triton {triton.__version__}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    rows = []
    if args.check:
        checks = [(f"selective_scan ({fwd} forward)", check_scan(forward=fwd))
                  for fwd in ("step", "tiled")] + [("causal_conv1d", check_conv())]
        for name, res in checks:
            for dtype, errs in res.items():
                worst = max(errs.values())
                limit = 1e-4 if dtype == "float32" else 1e-2
                ok = math.isfinite(worst) and worst < limit
                print(f"check {name} {dtype}: worst rel err {worst:.2e} ({'ok' if ok else 'FAIL'}) "
                      + " ".join(f"{k}={v:.1e}" for k, v in errs.items()))
                rows.append(dict(kind="check", op=name, dtype=dtype, ok=ok, **errs))
    bw = measure_copy_bandwidth()
    exp_rate = measure_exp2_rate()
    print(f"copy bandwidth {bw / 1e12:.2f} TB/s (read+write); exp2 rate {exp_rate / 1e12:.2f} T/s")
    rows.append(dict(kind="ceilings", copy_Bps=bw, exp2_per_s=exp_rate))

    dtype = DTYPES[args.dtype]
    elt = torch.empty(0, dtype=dtype).element_size()
    N = args.state
    lengths = [2 ** int(x) for x in args.lengths.split(",")]
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    gen = torch.Generator(device="cuda").manual_seed(1234)
    header = (f"{'config':>10} {'batch':>5} {'dim':>5} {'L':>8} | {'fwd ms':>8} {'GB/s':>6} "
              f"{'floor':>7} {'%fl':>4} | {'bwd ms':>8} {'GB/s':>6} {'floor':>7} {'%fl':>4} | "
              f"{'ref fwd':>8} {'ref bwd':>8} | {'CUDA fwd':>8} {'x':>5} {'CUDA bwd':>8} {'x':>5}")
    print(f"selective scan, {args.dtype}, N {N}, D and delta_bias, softplus, "
          f"{'with' if args.z else 'no'} z"
          + (", u, delta, z and y's gradient channels-last" if args.channels_last else "")
          + ("; GPU: the kernels' summed GPU time, fwd and bwd (ms)" if args.gpu_time else ""))
    print(header)
    for cname, cfg in args.plans:
        previous = ss.set_config(**cfg)
        try:
            for batch, dim in shapes:
                for L in lengths:
                    if not _fits(batch, dim, L, N, elt):
                        print(f"{cname:>10} {batch:>5} {dim:>5} {L:>8} | skipped: memory")
                        continue
                    inputs = scan_inputs(batch, dim, L, N, dtype, args.z, gen)
                    if args.channels_last:
                        inputs = channels_last_inputs(inputs)
                    times = _time_scan(ss.selective_scan_triton, inputs, args.rep,
                                       graphs=args.graphs, gpu_time=args.gpu_time)
                    fwd, bwd = times["fwd"], times["bwd"]
                    fb = scan_bytes(batch, dim, L, N, elt, args.z, False)
                    bb = scan_bytes(batch, dim, L, N, elt, args.z, True)
                    exps = batch * dim * N * L
                    f_floor = max(fb / bw, exps / exp_rate) * 1e3
                    b_floor = max(bb / bw, exps / exp_rate) * 1e3
                    ref_f = ref_b = float("nan")
                    if L <= 2 ** args.reference_max:
                        ref = _time_scan(reference.selective_scan_ref, inputs,
                                         max(20, args.rep // 10))
                        ref_f, ref_b = ref["fwd"], ref["bwd"]
                    authors = AUTHORS_MS.get((batch, dim, N), {}).get(L, (float("nan"),) * 2)
                    row = dict(kind="scan", config=cname, batch=batch, dim=dim, L=L, N=N,
                               dtype=args.dtype, z=args.z, channels_last=args.channels_last,
                               fwd_ms=fwd, bwd_ms=bwd,
                               fwd_floor_ms=f_floor, bwd_floor_ms=b_floor,
                               fwd_GBps=fb / fwd / 1e6, bwd_GBps=bb / bwd / 1e6,
                               ref_fwd_ms=ref_f, ref_bwd_ms=ref_b,
                               fwd_graph_ms=times["fwd_graph"], fwd_gpu_ms=times["fwd_gpu"],
                               bwd_gpu_ms=times["bwd_gpu"],
                               cuda_fwd_ms=authors[0], cuda_bwd_ms=authors[1], **cfg)
                    rows.append(row)
                    print(f"{cname:>10} {batch:>5} {dim:>5} {L:>8} | {fwd:8.4f} "
                          f"{row['fwd_GBps']:6.0f} {f_floor:7.4f} {100 * f_floor / fwd:4.0f} | "
                          f"{bwd:8.4f} {row['bwd_GBps']:6.0f} {b_floor:7.4f} "
                          f"{100 * b_floor / bwd:4.0f} | {ref_f:8.3f} {ref_b:8.3f} | "
                          f"{authors[0]:8.3f} {authors[0] / fwd:5.2f} {authors[1]:8.3f} "
                          f"{authors[1] / bwd:5.2f}"
                          + (f" | graph {times['fwd_graph']:.4f}" if args.graphs else "")
                          + (f" | GPU {times['fwd_gpu']:.4f} {times['bwd_gpu']:.4f}"
                             if args.gpu_time else ""), flush=True)
                    del inputs
                    torch.cuda.empty_cache()
        finally:
            ss.set_config(**previous.__dict__)
    if args.conv:
        rows += _bench_conv(shapes, lengths, dtype, elt, bw, args.rep)
    if args.json:
        from genomamba.atomic import atomic_open
        with atomic_open(args.json) as fh:
            json.dump(rows, fh, indent=1)
    return 0


def _bench_conv(shapes, lengths, dtype, elt, bw, rep, width=4):
    """The conv in both layouts: contiguous x (the tiled kernels) and channels-last x, a view of a
    (batch, L, dim) tensor as the model's in_proj writes it (the walking kernels); the gradient of
    out in out's layout."""
    from genomamba.kernels.causal_conv1d import causal_conv1d_triton
    print(f"causal conv1d, width {width}, silu, bias")
    print(f"{'batch':>5} {'dim':>5} {'L':>8} {'layout':>13} | {'fwd ms':>8} {'GB/s':>6} {'floor':>7} | "
          f"{'bwd ms':>8} {'GB/s':>6} {'floor':>7}")
    rows = []
    for batch, dim in shapes:
        for L in lengths:
            if not _fits(batch, dim, L, 1, elt):
                continue
            for layout in ("contiguous", "channels-last"):
                x = (torch.randn(batch, dim, L, device="cuda") if layout == "contiguous"
                     else torch.randn(batch, L, dim, device="cuda").transpose(1, 2)).to(dtype)
                w = torch.randn(dim, width, device="cuda")
                bias = torch.randn(dim, device="cuda")
                with torch.no_grad():
                    fwd = _bench(lambda: causal_conv1d_triton(x, w, bias, activation="silu"), rep)
                xl = x.detach().requires_grad_()
                wl, bl = w.detach().requires_grad_(), bias.detach().requires_grad_()
                out = causal_conv1d_triton(xl, wl, bl, activation="silu")
                g = torch.randn_like(out)   # out's strides
                bwd = _bench(lambda: torch.autograd.grad(out, [xl, wl, bl], g, retain_graph=True), rep)
                seq = batch * dim * L * elt
                f_floor, b_floor = 2 * seq / bw * 1e3, 3 * seq / bw * 1e3
                print(f"{batch:>5} {dim:>5} {L:>8} {layout:>13} | {fwd:8.4f} {2 * seq / fwd / 1e6:6.0f} "
                      f"{f_floor:7.4f} | {bwd:8.4f} {3 * seq / bwd / 1e6:6.0f} {b_floor:7.4f}",
                      flush=True)
                rows.append(dict(kind="conv", batch=batch, dim=dim, L=L, width=width, layout=layout,
                                 fwd_ms=fwd, bwd_ms=bwd, fwd_floor_ms=f_floor, bwd_floor_ms=b_floor))
                del x, xl, out, g
                torch.cuda.empty_cache()
    return rows


def launch_record(fn, args, kwargs) -> list:
    """[module, kernel, signature, constexprs, num_warps] of one launch of the Triton kernel ``fn`` in
    Triton's interpreter, in the terms ``triton.compile`` takes (an absent input, None, is a
    constexpr): tests/compile_for_sm90.py compiles the launches the kernel tests record, and
    benchmarks/kernel_resources.py those of a small scan."""
    params = inspect.signature(fn.fn).parameters
    values = dict(zip(params, args), **{k: v for k, v in kwargs.items() if k in params})
    signature, constexprs = {}, {}
    for name, param in params.items():
        value = values[name]
        if "constexpr" in str(param.annotation) or value is None:  # None: an absent input
            signature[name], constexprs[name] = "constexpr", value
        elif isinstance(value, torch.Tensor):
            signature[name] = "*" + {torch.float32: "fp32", torch.bfloat16: "bf16"}[value.dtype]
        elif isinstance(value, int):
            signature[name] = "i64" if abs(value) >= 2 ** 31 else "i32"
        else:
            signature[name] = "fp32"
    return [fn.fn.__module__, fn.fn.__name__, signature, constexprs, kwargs.get("num_warps", 4)]
