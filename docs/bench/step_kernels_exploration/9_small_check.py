import sys, os
sys.path.insert(0, os.getcwd())
import torch, triton
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile
from genomamba.bench.kernels import _scan_inputs, grad_leaves
from kernels import selective_scan as ss
def gpu_ms(fn, n=5):
    fn(); torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages() if e.device_type == DeviceType.CUDA) / n / 1e3
gen = torch.Generator(device='cuda').manual_seed(5)
for L in (2**10, 2**12, 2**14):
    inputs = _scan_inputs(1, 512, L, 16, torch.bfloat16, False, gen)
    def fwd():
        with torch.no_grad():
            return ss.selective_scan_triton(**inputs, delta_softplus=True)
    leaves, wrt = grad_leaves(inputs)
    y = ss.selective_scan_triton(**leaves, delta_softplus=True)
    dy = torch.randn_like(y)
    bwd = lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True)
    ev = [(triton.testing.do_bench(fwd, warmup=10, rep=200, return_mode='median'), triton.testing.do_bench(bwd, warmup=10, rep=200, return_mode='median')) for _ in range(3)]
    print(f'L=2^{L.bit_length()-1}: fwd events ' + ' '.join(f'{a:.4f}' for a, _ in ev) + f' gpu {gpu_ms(fwd):.4f} | bwd events ' + ' '.join(f'{b:.4f}' for _, b in ev) + f' gpu {gpu_ms(bwd):.4f} ms', flush=True)
