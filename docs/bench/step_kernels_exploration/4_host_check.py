import sys, os, time
sys.path.insert(0, os.getcwd())
import torch, triton
sys.argv = ['x']
import runpy
ab = runpy.run_path('benchmarks/kernels_ab.py', run_name='ab')
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as cur
old = ab['_load_package']('.alt/kernels_old')
gen = torch.Generator(device='cuda').manual_seed(3)
for L in (2**10, 2**12):
    inputs = _scan_inputs(1, 512, L, 16, torch.bfloat16, False, gen)
    for rnd in range(2):
        for name, mod in (('old', old), ('cur', cur)):
            def f():
                with torch.no_grad():
                    return mod.selective_scan_triton(**inputs, delta_softplus=True)
            f(); torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(200):
                f()
            host = (time.perf_counter() - t) / 200 * 1e6
            torch.cuda.synchronize()
            ev = triton.testing.do_bench(f, warmup=10, rep=200, return_mode='median')
            print(f'L={L} {name}: host {host:.1f} us/call, do_bench {ev*1e3:.1f} us', flush=True)
