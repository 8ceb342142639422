import sys, torch, triton
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as ss
gen = torch.Generator(device="cuda").manual_seed(2)
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
def plan(**kw):
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__); ss.set_config(**kw)
print("threshold: shape (elements) | tiled fwd | step fwd | tiled fwd(grad) | step fwd(grad)")
for s in [(1, 512, 2**14), (4, 512, 4096), (1, 512, 2**15), (8, 256, 8192), (2, 1024, 16384), (16, 256, 2048)]:
    ins = _scan_inputs(*s, 16, torch.bfloat16, False, gen)
    r = []
    for grad in (False, True):
        for k in ("tiled", "step"):
            plan(fwd_kernel=k); r.append(ms(fwd(ins, grad)))
    print(f"{s} ({s[0]*s[1]*s[2]/2**24:.2f} x 2^24) | " + " | ".join(f"{x:.4f}" for x in r), flush=True)
print("\nstep plan: programs_per_sm max_chunks | 1x512x2^20 | 1x512x2^18 | 8x256x16384")
data = [_scan_inputs(*s, 16, torch.bfloat16, False, gen) for s in [(1, 512, 2**20), (1, 512, 2**18), (8, 256, 16384)]]
for pps, mc in [(32, 256), (64, 256), (64, 512), (32, 512), (16, 512)]:
    plan(fwd_kernel="step", step_programs_per_sm=pps, max_chunks=mc)
    print(pps, mc, "|", " | ".join(f"{ms(fwd(d, False)):.4f}" for d in data), flush=True)
