"""Old (HEAD) vs new step forward, side by side, forced plans; GPU time from the profiler."""
import sys, os
sys.path.insert(0, os.getcwd())
import torch, triton
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile
sys.argv = ['x', '.alt/kernels_old']
import runpy
ab = runpy.run_path('benchmarks/kernels_ab.py', run_name='ab')
from genomamba.bench.kernels import _scan_inputs, grad_leaves
from kernels import selective_scan as new
old = ab['_load_package']('.alt/kernels_old')

def ms(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=80, return_mode="median")

def gpu_ms(fn, n=5):
    fn(); torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages() if e.device_type == DeviceType.CUDA) / n / 1e3

gen = torch.Generator(device='cuda').manual_seed(3)
print('shape z | fwd step old ms (gpu) | new ms (gpu) | x | fwd tiled new ms (gpu) | fwd(grad) step old | new | x | fwd+bwd(step/step) old | new | x')
for shape in [(1,512,2**12),(1,512,2**14),(1,512,2**16),(1,512,2**18),(1,512,2**20),(8,256,16384),(4,1024,16384),(16,256,2048)]:
    for z in (False, True):
        inputs = _scan_inputs(*shape, 16, torch.bfloat16, z, gen)
        row = []
        for mod in (old, new):
            mod.set_config(fwd_kernel='step', bwd_kernel='step')
        def f(mod):
            with torch.no_grad():
                return mod.selective_scan_triton(**inputs, delta_softplus=True)
        res = {}
        for name, mod in (('old', old), ('new', new)):
            res[name] = (ms(lambda: f(mod)), gpu_ms(lambda: f(mod)))
        new.set_config(fwd_kernel='tiled')
        tiled = (ms(lambda: f(new)), gpu_ms(lambda: f(new)))
        new.set_config(fwd_kernel='step')
        leaves, wrt = grad_leaves(inputs)
        dy = torch.randn_like(inputs['u'])
        g = {}
        for name, mod in (('old', old), ('new', new)):
            fg = ms(lambda: mod.selective_scan_triton(**leaves, delta_softplus=True))
            def stepfb():
                y = mod.selective_scan_triton(**leaves, delta_softplus=True)
                torch.autograd.grad(y, wrt, dy)
            g[name] = (fg, ms(stepfb))
        print('x'.join(map(str, shape)), 'z' if z else '-', '|',
              f"{res['old'][0]:.4f} ({res['old'][1]:.4f}) | {res['new'][0]:.4f} ({res['new'][1]:.4f}) | {res['old'][0]/res['new'][0]:.2f} | "
              f"{tiled[0]:.4f} ({tiled[1]:.4f}) | {g['old'][0]:.4f} | {g['new'][0]:.4f} | {g['old'][0]/g['new'][0]:.2f} | "
              f"{g['old'][1]:.4f} | {g['new'][1]:.4f} | {g['old'][1]/g['new'][1]:.2f}", flush=True)
        del inputs, leaves, wrt
        torch.cuda.empty_cache()
