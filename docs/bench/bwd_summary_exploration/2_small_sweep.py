"""Launch-plan sweep at small and mid L (1 x 512, bf16) and a GPU-kernel breakdown; H100."""
import sys, os; sys.path.insert(0, os.getcwd())
import torch, triton
from triton.testing import do_bench, do_bench_cudagraph
from torch.profiler import profile, ProfilerActivity
from torch.autograd import DeviceType
from kernels import selective_scan as ss

dev = "cuda"
def make(L, batch=1, dim=512, N=16, dtype=torch.bfloat16):
    r = lambda *s: torch.randn(*s, device=dev)
    return dict(u=r(batch, dim, L).to(dtype), delta=(0.5 * r(batch, dim, L) - 1).to(dtype),
                A=-(torch.rand(dim, N, device=dev) * 8 + .5), B=r(batch, N, L).to(dtype),
                C=r(batch, N, L).to(dtype), D=r(dim), z=None, delta_bias=.1 * r(dim))

def gpu_kernels(fn, n=10):
    fn(); torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        for _ in range(n): fn()
        torch.cuda.synchronize()
    rows = [(e.key, e.self_device_time_total / n) for e in p.key_averages()
            if e.device_type == DeviceType.CUDA and e.self_device_time_total > 0]
    return sorted(rows, key=lambda r: -r[1])

def fwd_fn(inp):
    def f():
        with torch.no_grad():
            return ss.selective_scan_triton(**inp, delta_softplus=True)
    return f

def bwd_fn(inp):
    leaves = {k: (v.detach().requires_grad_() if v is not None else None) for k, v in inp.items()}
    wrt = [v for v in leaves.values() if v is not None]
    y = ss.selective_scan_triton(**leaves, delta_softplus=True)
    dy = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True)

def plan(**kw):
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
    ss.set_config(**kw)

FWD = [dict()] + [dict(fwd_chunks=c, tile_t=t) for t in (128, 256) for c in (2, 4, 8, 16)] + \
      [dict(fwd_kernel="step", step_programs_per_sm=p) for p in (16, 32, 64, 128)]
BWD = [dict(), dict(bwd_block_k=8), dict(bwd_block_k=4), dict(programs_per_sm=32), dict(programs_per_sm=64),
       dict(bwd_block_k=8, programs_per_sm=32), dict(bwd_tile_t=64), dict(bwd_tile_t=64, bwd_block_k=8),
       dict(bwd_kernel="step", step_programs_per_sm=64), dict(bwd_kernel="step", step_programs_per_sm=128),
       dict(bwd_kernel="step", step_programs_per_sm=256), dict(bwd_kernel="step", bwd_tile_t=64)]

print("direction L plan events_us graph_us gpu_sum_us")
for L in (1 << 10, 1 << 12, 1 << 14, 1 << 16):
    inp = make(L)
    for kw in FWD:
        plan(**kw)
        f = fwd_fn(inp)
        e = do_bench(f, warmup=25, rep=150, return_mode="median") * 1e3
        g = do_bench_cudagraph(f, rep=150, return_mode="median") * 1e3
        s = sum(t for _, t in gpu_kernels(f))
        print(f"fwd 2^{L.bit_length()-1} {kw} {e:.1f} {g:.1f} {s:.1f}", flush=True)
    for kw in BWD:
        plan(**kw)
        b = bwd_fn(inp)
        e = do_bench(b, warmup=25, rep=150, return_mode="median") * 1e3
        s = sum(t for _, t in gpu_kernels(b))
        print(f"bwd 2^{L.bit_length()-1} {kw} {e:.1f} nan {s:.1f}", flush=True)
plan()
for L in (1 << 16, 1 << 20):
    inp = make(L)
    for name, fn in (("fwd", fwd_fn(inp)), ("bwd", bwd_fn(inp))):
        print(f"breakdown {name} 2^{L.bit_length()-1}:")
        for k, t in gpu_kernels(fn):
            print(f"   {t:9.1f} us  {k[:90]}")
