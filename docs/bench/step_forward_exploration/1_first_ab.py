"""Side by side: step forward vs tiled forward (bf16), plus a small sweep of the step plan."""
import sys, itertools, time
from pathlib import Path
import torch, triton
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as ss
from kernels.reference import selective_scan_ref

gen = torch.Generator(device="cuda").manual_seed(1)
def ms(fn, rep=60):
    return triton.testing.do_bench(fn, warmup=10, rep=rep, return_mode="median")

def fwd(inputs, grad=False):
    if grad:
        leaves = {k: (v.detach().requires_grad_() if v is not None and v.is_floating_point() else v) for k, v in inputs.items()}
        return lambda: ss.selective_scan_triton(**leaves, delta_softplus=True)
    def f():
        with torch.no_grad():
            return ss.selective_scan_triton(**inputs, delta_softplus=True)
    return f

def plan(**kw):
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__); ss.set_config(**kw)

# correctness: step vs tiled vs float64 at a medium shape with everything on
ins = _scan_inputs(2, 256, 3001, 16, torch.float32, True, gen)
ins["initial_state"] = torch.randn(2, 256, 16, device="cuda", generator=gen)
ref = selective_scan_ref(**{k: (v.double() if v is not None else None) for k, v in ins.items()}, delta_softplus=True, return_last_state=True)
for name, kw in [("step", dict(fwd_kernel="step")), ("tiled", dict(fwd_kernel="tiled")), ("step1chunk", dict(fwd_kernel="step", fwd_chunks=1))]:
    plan(**kw)
    y, last = ss.selective_scan_triton(**ins, delta_softplus=True, return_last_state=True)
    e = lambda a, b: ((a.double() - b).norm() / b.norm()).item()
    print(f"check {name}: rel err y {e(y, ref[0]):.2e} last {e(last, ref[1]):.2e}", flush=True)

shapes = [(1, 512, 2**14), (1, 512, 2**16), (1, 512, 2**18), (1, 512, 2**20), (1, 256, 2**20), (8, 256, 16384)]
data = {s: _scan_inputs(*s, 16, torch.bfloat16, False, gen) for s in shapes}
print("\nshape | tiled fwd | step fwd | x | tiled fwd(grad) | step fwd(grad) | x  (ms, medians, same process)")
for s in shapes:
    r = []
    for grad in (False, True):
        for k in ("tiled", "step"):
            plan(fwd_kernel=k); r.append(ms(fwd(data[s], grad)))
    print(f"{s} | {r[0]:.4f} | {r[1]:.4f} | {r[0]/r[1]:.2f} | {r[2]:.4f} | {r[3]:.4f} | {r[2]/r[3]:.2f}", flush=True)

B = data[(1, 512, 2**20)]["B"]
t = ms(lambda: B.unsqueeze(1).transpose(-1, -2).to(torch.float32).contiguous())
print(f"\nB (1,16,2^20) bf16 -> (L,N) fp32 copy: {t:.4f} ms")

print("\nstep plan sweep: block_d warps programs_per_sm | 1x512x2^20 | 1x256x2^20 | 8x256x16384 | 1x512x2^14")
for bd, w, pps in itertools.product([16, 32, 64], [1, 2, 4], [8, 16, 32]):
    if bd * 16 < w * 128:
        continue
    plan(fwd_kernel="step", step_block_d=bd, step_warps=w, step_programs_per_sm=pps)
    try:
        r = [ms(fwd(data[s]), rep=30) for s in [(1, 512, 2**20), (1, 256, 2**20), (8, 256, 16384), (1, 512, 2**14)]]
    except Exception as ex:
        print(bd, w, pps, "FAILED", type(ex).__name__, str(ex)[:150], flush=True); continue
    print(bd, w, pps, "|", " | ".join(f"{x:.4f}" for x in r), flush=True)
