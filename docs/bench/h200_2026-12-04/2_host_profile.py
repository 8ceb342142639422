"""Where the host time of a small scan goes (CUDA): per-launch Triton time, torch ops, cProfile."""
import sys, os, time, cProfile, pstats, io, collections
sys.path.insert(0, os.getcwd())
import torch, triton
from triton.runtime.jit import JITFunction
from genomamba.bench.kernels import _scan_inputs, grad_leaves
from kernels import selective_scan as ss

gen = torch.Generator(device='cuda').manual_seed(3)

def host_us(f, n=300):
    f(); torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        f()
    h = (time.perf_counter() - t) / n * 1e6
    torch.cuda.synchronize()
    return h

# per-kernel host time inside JITFunction.run
acc = collections.defaultdict(lambda: [0, 0.0])
last = {}
orig_run = JITFunction.run
def timed_run(self, *args, grid, warmup, **kwargs):
    t = time.perf_counter()
    r = orig_run(self, *args, grid=grid, warmup=warmup, **kwargs)
    a = acc[self.__name__]; a[0] += 1; a[1] += time.perf_counter() - t
    last[self.__name__] = (self, grid, args, kwargs)
    return r

for L in (1024, 4096):
    inp = _scan_inputs(1, 512, L, 16, torch.bfloat16, False, gen)
    def fwd():
        with torch.no_grad():
            return ss.selective_scan_triton(**inp, delta_softplus=True)
    leaves, lst = grad_leaves(inp)
    def fb():
        y = ss.selective_scan_triton(**leaves, delta_softplus=True)
        return torch.autograd.grad(y.float().sum(), lst)
    print(f"L={L}: no-grad forward host {host_us(fwd):.1f} us/call; forward+backward host {host_us(fb, 100):.1f} us/call", flush=True)
    JITFunction.run = timed_run
    acc.clear()
    n = 200
    for _ in range(n):
        fwd()
    torch.cuda.synchronize()
    for k, (c, s) in acc.items():
        print(f"   fwd: {k}: {c / n:.1f} launches/call, {s / c * 1e6:.1f} us per launch")
    acc.clear()
    for _ in range(50):
        fb()
    torch.cuda.synchronize()
    tot = 0
    for k, (c, s) in acc.items():
        print(f"   fwd+bwd: {k}: {c / 50:.1f} launches/call, {s / c * 1e6:.1f} us per launch")
        tot += s
    print(f"   fwd+bwd: Triton launches {tot / 50 * 1e6:.1f} us per call")
    JITFunction.run = orig_run
    # direct launch of the compiled kernel, same arguments
    for name, (jit, grid, args, kwargs) in last.items():
        dev = torch.cuda.current_device()
        kc, kkc, target, backend, binder = jit.device_caches[dev]
        bound, spec, opts = binder(*args, **kwargs)
        compiled = jit[grid](*args, **kwargs)
        runner = compiled[tuple(grid) + (1,) * (3 - len(grid))]
        vals = list(bound.values())
        t_jit = host_us(lambda: jit[grid](*args, **kwargs), 500)
        t_dir = host_us(lambda: runner(*vals), 500)
        t_bind = host_us(lambda: binder(*args, **kwargs), 500)
        print(f"   {name}: jit launch {t_jit:.1f} us, binder alone {t_bind:.1f} us, compiled[grid] launch {t_dir:.1f} us ({len(vals)} args)")
    t_empty = host_us(lambda: torch.empty(1, 512, L, device='cuda', dtype=torch.bfloat16), 1000)
    print(f"   torch.empty {t_empty:.1f} us", flush=True)
    last.clear()

inp = _scan_inputs(1, 512, 1024, 16, torch.bfloat16, False, gen)
leaves, lst = grad_leaves(inp)
def fb():
    y = ss.selective_scan_triton(**leaves, delta_softplus=True)
    return torch.autograd.grad(y.float().sum(), lst)
fb()
pr = cProfile.Profile(); pr.enable()
for _ in range(100):
    fb()
torch.cuda.synchronize(); pr.disable()
s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats('tottime').print_stats(30); print(s.getvalue()[:6000])
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
    for _ in range(10):
        fb()
    torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25))
