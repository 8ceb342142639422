import sys, os
sys.path.insert(0, os.getcwd())
import torch, triton
sys.argv = ['x']
import runpy
ab = runpy.run_path('benchmarks/kernels_ab.py', run_name='ab')
from genomamba.bench.kernels import _scan_inputs, check_scan, grad_leaves
from kernels import selective_scan as new
cur = ab['_load_package']('.alt/var_cur2')
for fwd in ('step', 'tiled'):
    r = check_scan(forward=fwd)
    print(fwd, {k: max(v.values()) for k, v in r.items()})
def ms(fn):
    return triton.testing.do_bench(fn, warmup=5, rep=60, return_mode="median")
gen = torch.Generator(device='cuda').manual_seed(3)
shapes = [(1,512,2**14),(1,512,2**16),(1,512,2**18),(1,512,2**20),(8,256,16384)]
for z in (False, True):
    print('z' if z else 'no z', '| bwd ms per shape:', ' | '.join('x'.join(map(str, s)) for s in shapes))
    for rnd in range(2):
        for name, mod in (('cur', cur), ('bf16bwd', new)):
            mod.set_config(bwd_kernel='step')
            row = []
            for shape in shapes:
                inputs = _scan_inputs(*shape, 16, torch.bfloat16, z, gen)
                leaves, wrt = grad_leaves(inputs)
                y = mod.selective_scan_triton(**leaves, delta_softplus=True)
                dy = torch.randn_like(y)
                row.append(f'{ms(lambda: torch.autograd.grad(y, wrt, dy, retain_graph=True)):.4f}')
                del inputs, leaves, wrt, y, dy
            print(name, '|', ' | '.join(row), flush=True)
