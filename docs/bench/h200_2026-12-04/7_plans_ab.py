"""Launch plans side by side (bf16, N 16, D, bias, softplus, no z): fwd no-grad (event, graph),
fwd with grad, bwd alone (autograd.grad), in ms, medians."""
import os, sys
sys.path.insert(0, os.getcwd())
import torch, triton
from genomamba.bench.kernels import _scan_inputs, grad_leaves
from kernels import selective_scan as ss

PLANS = {"default": {}, "t23": dict(fwd_step_min_elements=1 << 23),
         "t23p32": dict(fwd_step_min_elements=1 << 23, step_programs_per_sm=32),
         "t23p16": dict(fwd_step_min_elements=1 << 23, step_programs_per_sm=16)}
SHAPES = [(1, 512, 2**13), (1, 512, 2**14), (1, 512, 2**15), (1, 512, 2**16), (1, 512, 2**18), (1, 512, 2**20),
          (8, 256, 16384), (8, 256, 4096), (2, 1024, 4096)]
def ms(fn): return triton.testing.do_bench(fn, warmup=10, rep=60, return_mode="median")
def gms(fn):
    try: return triton.testing.do_bench_cudagraph(fn, rep=40, return_mode="median")
    except Exception: return float("nan")
gen = torch.Generator(device="cuda").manual_seed(1)
print("shape | plan | fwd | fwd graph | fwd grad | bwd", flush=True)
for shape in SHAPES:
    x = _scan_inputs(*shape, 16, torch.bfloat16, False, gen)
    leaves, wrt = grad_leaves(x)
    dy = torch.randn_like(x["u"])
    for name, plan in PLANS.items():
        ss.set_config(**{**ss.DEFAULT_CONFIG.__dict__, **plan})
        f = lambda: ss.selective_scan_triton(**x, delta_softplus=True)
        with torch.no_grad():
            a, b = ms(f), gms(f)
        c = ms(lambda: ss.selective_scan_triton(**leaves, delta_softplus=True))
        y = ss.selective_scan_triton(**leaves, delta_softplus=True)
        d = ms(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True))
        print(f"{'x'.join(map(str, shape))} | {name} | {a:.4f} | {b:.4f} | {c:.4f} | {d:.4f}", flush=True)
