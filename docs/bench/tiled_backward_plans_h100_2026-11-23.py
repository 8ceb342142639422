import sys, torch, triton
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as ss
gen = torch.Generator(device="cuda").manual_seed(4)
def bwd_ms(ins):
    lv = {k: (v.detach().requires_grad_() if v is not None else None) for k, v in ins.items()}
    wrt = [v for v in lv.values() if v is not None]
    y = ss.selective_scan_triton(**lv, delta_softplus=True); dy = torch.randn_like(y)
    return triton.testing.do_bench(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True), warmup=5, rep=30, return_mode="median")
shapes = [(1, 512, 2**20), (1, 512, 2**18), (8, 256, 16384)]
data = [_scan_inputs(*s, 16, torch.bfloat16, False, gen) for s in shapes]
print("backward ms | " + " | ".join("x".join(map(str, s)) for s in shapes))
for kw in [dict(), dict(bwd_chunks=64), dict(bwd_chunks=128), dict(bwd_chunks=32), dict(programs_per_sm=8), dict(programs_per_sm=32), dict(programs_per_sm=32, bwd_chunks=128), dict(bwd_tile_t=64), dict(bwd_tile_t=64, bwd_block_k=8), dict(bwd_block_k=8)]:
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__); ss.set_config(**kw)
    try:
        r = [bwd_ms(d) for d in data]
        print(kw, "|", " | ".join(f"{x:.3f}" for x in r), flush=True)
    except Exception as e:
        print(kw, "FAILED", type(e).__name__, str(e)[:200], flush=True)
