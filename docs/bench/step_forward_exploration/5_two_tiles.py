import sys, itertools, torch, triton
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as ss
gen = torch.Generator(device="cuda").manual_seed(3)
def ms(f, rep=40):
    return triton.testing.do_bench(f, warmup=10, rep=rep, return_mode="median")
def fwd(ins, grad):
    if grad:
        lv = {k: (v.detach().requires_grad_() if v is not None else None) for k, v in ins.items()}
        return lambda: ss.selective_scan_triton(**lv, delta_softplus=True)
    def f():
        with torch.no_grad():
            return ss.selective_scan_triton(**ins, delta_softplus=True)
    return f
shapes = [(1, 512, 2**20), (1, 512, 2**18), (1, 512, 2**16), (8, 256, 16384), (1, 256, 2**20)]
data = [_scan_inputs(*s, 16, torch.bfloat16, False, gen) for s in shapes]
print("fwd_kernel unroll blocks pps | " + " | ".join(f"{a}x{b}x{c}" for a, b, c in shapes) + " | same with grad")
plans = [dict(fwd_kernel="tiled")] + [dict(fwd_kernel="step", step_unroll=u, step_blocks=bl, step_programs_per_sm=p)
         for u, bl, p in itertools.product([8, 4], [1, 2], [32, 64])]
for p in plans:
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__); ss.set_config(**p)
    r = [ms(fwd(d, False)) for d in data] + [ms(fwd(d, True)) for d in data[:2]]
    print(" ".join(f"{k}={v}" for k, v in p.items()), "|", " | ".join(f"{x:.4f}" for x in r), flush=True)
