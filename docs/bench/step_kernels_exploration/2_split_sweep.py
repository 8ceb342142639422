"""Step forward variants (new split layout) vs old, forced step, no grad."""
import sys, os
sys.path.insert(0, os.getcwd())
import torch, triton
sys.argv = ['x']
import runpy
ab = runpy.run_path('benchmarks/kernels_ab.py', run_name='ab')
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as new
old = ab['_load_package']('.alt/kernels_old')

def ms(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=100, return_mode="median")

gen = torch.Generator(device='cuda').manual_seed(3)
variants = [('old', old, {})] + [(f'new bd{bd} w{w} u{u} p{p}', new, dict(step_block_d=bd, step_warps=w, step_unroll=u, step_programs_per_sm=p))
            for bd, w, u, p in [(32,1,8,64), (64,1,8,64), (64,1,4,64), (64,2,8,64), (128,2,8,64), (32,1,4,64), (64,1,8,32), (128,4,8,64)]]
shapes = [(1,512,2**16),(1,512,2**18),(1,512,2**20),(8,256,16384)]
print('variant | ' + ' | '.join('x'.join(map(str, s)) for s in shapes))
ins = [_scan_inputs(*s, 16, torch.bfloat16, False, gen) for s in shapes]
for name, mod, cfg in variants:
    mod.set_config(**mod.DEFAULT_CONFIG.__dict__)
    mod.set_config(fwd_kernel='step', **cfg)
    row = []
    for inputs in ins:
        def f():
            with torch.no_grad():
                return mod.selective_scan_triton(**inputs, delta_softplus=True)
        try:
            row.append(f'{ms(f):.4f}')
        except Exception as e:
            row.append(f'ERR {type(e).__name__}')
    print(name, '|', ' | '.join(row), flush=True)
