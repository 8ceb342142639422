"""Launch-plan sweep at small and medium L (1 x 512, bf16, N 16, D, bias, softplus, no z):
forward without gradients and the backward alone, event time (host included) and graph replay
(GPU time). The backward is timed by calling _SelectiveScan.backward with a stand-in ctx."""
import itertools, os, sys, types
sys.path.insert(0, os.getcwd())
import torch, triton
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as ss

gen = torch.Generator(device="cuda").manual_seed(1)
def ev(fn): return triton.testing.do_bench(fn, warmup=5, rep=30, return_mode="median")
def gr(fn):
    try: return triton.testing.do_bench_cudagraph(fn, rep=30, return_mode="median")
    except Exception as e: return float("nan")

class Ctx:
    def set_materialize_grads(self, v): pass
    def save_for_backward(self, *t): self.saved_tensors = t

def bwd_fn(inp):
    ctx = Ctx()
    with torch.no_grad():
        y, last = ss._SelectiveScan.forward(ctx, inp["u"], inp["delta"], inp["A"], inp["B"], inp["C"],
                                           inp["D"], None, inp["delta_bias"], None, True)
    dy = torch.randn_like(y)
    return lambda: ss._SelectiveScan.backward(ctx, dy, None)

inputs = {L: _scan_inputs(1, 512, L, 16, torch.bfloat16, False, gen) for L in (2**10, 2**12, 2**13, 2**14, 2**15, 2**16)}
print("== forward (no grad): plan | L | event ms | graph ms", flush=True)
fplans = [dict(fwd_kernel="tiled")] + [dict(fwd_kernel="step", step_programs_per_sm=p, step_max_chunks=m, step_unroll=u)
          for p, m, u in itertools.product([16, 32, 64, 128], [512, 1024], [8, 16])]
for L in (2**12, 2**13, 2**14, 2**15, 2**16):
    x = inputs[L]
    for plan in fplans:
        ss.set_config(**plan)
        f = lambda: ss.selective_scan_triton(**x, delta_softplus=True)
        with torch.no_grad():
            e, g = ev(f), gr(f)
        print(f"fwd {plan} | {L} | {e:.4f} | {g:.4f}", flush=True)
        ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
print("== backward: plan | L | event ms | graph ms", flush=True)
bplans = ([dict(bwd_kernel="tiled", bwd_block_k=k, bwd_tile_t=t, programs_per_sm=p)
           for k, t, p in itertools.product([4, 8, 16], [64, 128], [16, 64])]
          + [dict(bwd_kernel="step", step_programs_per_sm=p, bwd_tile_t=t) for p, t in itertools.product([32, 64, 128], [64, 128])])
for L in (2**10, 2**12, 2**14):
    for plan in bplans:
        ss.set_config(**plan)
        f = bwd_fn(inputs[L])
        e, g = ev(f), gr(f)
        print(f"bwd {plan} | {L} | {e:.4f} | {g:.4f}", flush=True)
        ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
