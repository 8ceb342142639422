import sys, os; sys.path.insert(0, os.getcwd())
import torch
from torch.profiler import profile, ProfilerActivity
from torch.autograd import DeviceType
from kernels import selective_scan as ss
from genomamba.bench.kernels import _scan_inputs

def gpu_kernels(fn, n=5):
    fn(); torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        for _ in range(n): fn()
        torch.cuda.synchronize()
    rows = [(e.key, e.self_device_time_total / n) for e in p.key_averages()
            if e.device_type == DeviceType.CUDA and e.self_device_time_total > 0]
    return sorted(rows, key=lambda r: -r[1])

gen = torch.Generator(device="cuda").manual_seed(3)
for bwd in sys.argv[1].split(","):
    for z in (False, True):
        for shape in ((1, 512, 1 << 16), (1, 512, 1 << 20), (8, 256, 16384)):
            ss.set_config(**ss.DEFAULT_CONFIG.__dict__); ss.set_config(bwd_kernel=bwd)
            inp = _scan_inputs(*shape, 16, torch.bfloat16, z, gen)
            leaves = {k: (v.detach().requires_grad_() if v is not None else None) for k, v in inp.items()}
            wrt = [v for v in leaves.values() if v is not None]
            y = ss.selective_scan_triton(**leaves, delta_softplus=True)
            dy = torch.randn_like(y)
            rows = gpu_kernels(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True))
            print(f"bwd={bwd} z={z} {shape}: total {sum(t for _, t in rows):.1f} us | " +
                  "; ".join(f"{k[:28]} {t:.1f}" for k, t in rows), flush=True)
            del inp, leaves, wrt, y, dy
            torch.cuda.empty_cache()
