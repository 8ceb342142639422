"""Where the host time goes at small L (forward and backward), H100."""
import time, statistics, sys, os
import sys, os; sys.path.insert(0, os.getcwd())
import torch, triton, triton.language as tl
from triton.testing import do_bench
from kernels import selective_scan as ss
from kernels.selective_scan import _SelectiveScan

dev = "cuda"
torch.manual_seed(0)

def make(L, batch=1, dim=512, N=16, dtype=torch.bfloat16, z=False):
    r = lambda *s: torch.randn(*s, device=dev)
    return dict(u=r(batch, dim, L).to(dtype), delta=(0.5 * r(batch, dim, L) - 1).to(dtype),
                A=-(torch.rand(dim, N, device=dev) * 8 + .5), B=r(batch, N, L).to(dtype),
                C=r(batch, N, L).to(dtype), D=r(dim), z=r(batch, dim, L).to(dtype) if z else None,
                delta_bias=.1 * r(dim))

def host_us(fn, n=300):
    for _ in range(20): fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n): fn()
    h = (time.perf_counter() - t) / n * 1e6
    torch.cuda.synchronize()
    return h

def ev(fn):
    return do_bench(fn, warmup=25, rep=200, return_mode="median") * 1e3

@triton.jit
def _k1(x_ptr):
    pass

@triton.jit
def _k40(p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13,
         i0, i1, i2, i3, i4, i5, i6, i7, i8, i9, i10, i11, i12, i13, i14, i15, i16, i17, i18, i19,
         i20, i21, i22, i23, i24, i25, i26, i27, c0: tl.constexpr, c1: tl.constexpr, c2: tl.constexpr):
    pass

x = torch.empty(1024, device=dev)
print("triton launch host us: 1 arg %.1f" % host_us(lambda: _k1[(1,)](x)))
ints = list(range(3, 31))
print("triton launch host us: 42 args %.1f" % host_us(lambda: _k40[(1,)](*([x] * 14), *ints, c0=1, c1=2, c2=3)))
print("torch.empty host us %.1f" % host_us(lambda: torch.empty(16, 512, device=dev)))
y0 = torch.randn(32, 16, 1024, device=dev)
print("torch.sum(0) host us %.1f" % host_us(lambda: y0.sum(0)))
print("tensor.to(bf16) host us %.1f" % host_us(lambda: y0.to(torch.bfloat16)))
A = torch.randn(512, 16, device=dev)
print("A.detach().float().contiguous() host us %.1f" % host_us(lambda: A.detach().float().contiguous()))
print("get_device_properties host us %.1f" % host_us(lambda: torch.cuda.get_device_properties(x.device).multi_processor_count))

class Nop(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b): return a, b
    @staticmethod
    def backward(ctx, a, b): return a, b
with torch.no_grad():
    print("autograd.Function.apply (no_grad) host us %.1f" % host_us(lambda: Nop.apply(x, x)))

for L in (1 << 10, 1 << 12, 1 << 14, 1 << 16):
    print(ss.__file__)
    inp = make(L)
    def fwd():
        with torch.no_grad():
            return ss.selective_scan_triton(**inp, delta_softplus=True)
    e, h = ev(fwd), host_us(fwd)
    g = triton.testing.do_bench_cudagraph(fwd, rep=200, return_mode="median") * 1e3
    leaves = {k: (v.detach().requires_grad_() if v is not None else None) for k, v in inp.items()}
    wrt = [v for v in leaves.values() if v is not None]
    y = ss.selective_scan_triton(**leaves, delta_softplus=True)
    dy = torch.randn_like(y)
    bwd = lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True)
    eb, hb = ev(bwd), host_us(bwd)
    print(f"L=2^{L.bit_length()-1}: fwd events {e:.1f} us, host {h:.1f} us, graph {g:.1f} us | bwd events {eb:.1f} us host {hb:.1f} us")
    if L in (1 << 10, 1 << 14):
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(10):
                fwd()
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=12, max_name_column_width=40))
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(10):
                bwd()
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=25, max_name_column_width=40))
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=40))
