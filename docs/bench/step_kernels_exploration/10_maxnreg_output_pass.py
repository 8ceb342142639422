import sys, os
sys.path.insert(0, os.getcwd())
import torch, triton
sys.argv = ['x']
import runpy
ab = runpy.run_path('benchmarks/kernels_ab.py', run_name='ab')
from genomamba.bench.kernels import _scan_inputs, grad_leaves
from kernels import selective_scan as cur
mods = [('cur', cur)] + [(f'm{r}', ab['_load_package'](f'.alt/var_m{r}')) for r in (120, 112, 104)]
def ms(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=100, return_mode="median")
gen = torch.Generator(device='cuda').manual_seed(3)
shapes = [(1,512,2**16),(1,512,2**18),(1,512,2**20),(8,256,16384)]
for z in (False, True):
    ins = [_scan_inputs(*s, 16, torch.bfloat16, z, gen) for s in shapes]
    print('z' if z else 'no z', '| fwd no grad |', ' | '.join('x'.join(map(str, s)) for s in shapes))
    for rnd in range(2):
        for name, mod in mods:
            mod.set_config(fwd_kernel='step')
            row = []
            for inputs in ins:
                def f():
                    with torch.no_grad():
                        return mod.selective_scan_triton(**inputs, delta_softplus=True)
                row.append(f'{ms(f):.4f}')
            print(name, '|', ' | '.join(row), flush=True)
    del ins
